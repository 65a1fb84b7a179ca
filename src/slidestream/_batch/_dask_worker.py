"""What runs on a Dask worker: one deck per task, under the batch's cluster-wide limits.

The task is a coroutine, so Dask runs it on the worker's event loop (asyncio); the pipeline's
blocking work goes to threads as it does anywhere. The batch's :class:`~slidestream.Limits`
travel with every task and carry a :class:`~slidestream.DaskLeases`: each online service's
calls hold a lease of a ``distributed.Semaphore`` that the scheduler keeps, so the limit holds
on every worker together, while the CPU budget and local work (Piper, drawn images) are
limited per worker process. A deck runs through the same engine path as anywhere else.

The decks of one batch on one worker share a :class:`BatchRuntime` (one ``Limits``, the
providers made from names) until the client ends the batch there (:func:`close_batch`).
Progress goes back to the client as structured events (``Worker.log_event``) on the batch's
topic, through the scheduler; the deck itself comes back as the task's result.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

import anyio

from .._events import Event
from .._limits import DaskLeases, Limits, ServiceKey
from ._deck import BatchRuntime, DeckJob, DeckOutcome, make_deck
from ._folders import sees_output
from ._models import FilesMode

__all__ = ["ClusterRun", "close_batch", "deck_task", "event_topic", "semaphore_names"]


@dataclass(frozen=True, kw_only=True)
class ClusterRun:
    """What every deck task of one batch needs to know besides its job."""

    batch_id: str
    limits: Limits
    """The batch's limits, with a :class:`~slidestream.DaskLeases` (the client's lease timeout)."""
    files: FilesMode


def event_topic(batch_id: str) -> str:
    """The structured-event topic a batch's decks report on."""
    return f"slidestream-batch-{batch_id}"


def semaphore_names(limits: Limits) -> tuple[str, ...]:
    """The semaphores of the online services ``limits`` has given slots of in this process."""
    leases = limits.leases
    if not isinstance(leases, DaskLeases):
        return ()
    return tuple(
        leases.semaphore_name(key)
        for key, figures in limits.statistics().items()
        if figures.calls and not key.local and key != ServiceKey.CPU
    )


_RUNTIMES: dict[str, BatchRuntime] = {}
"""The runtime of each batch with decks on this worker process."""


def _runtime(run: ClusterRun) -> BatchRuntime:
    runtime = _RUNTIMES.get(run.batch_id)
    if runtime is None:
        runtime = _RUNTIMES[run.batch_id] = BatchRuntime(run.limits)
    return runtime


async def close_batch(batch_id: str) -> None:
    """End batch ``batch_id`` on this worker: close its providers, stop its semaphores."""
    runtime = _RUNTIMES.pop(batch_id, None)
    if runtime is not None:
        try:
            await runtime.aclose()
        finally:
            runtime.limits.close()


async def deck_task(job: DeckJob, run: ClusterRun) -> DeckOutcome:
    """Make one deck on this worker; the Dask task of a batch."""
    from distributed import get_worker

    worker = get_worker()
    attempt = uuid.uuid4().hex[:12]
    topic = event_topic(run.batch_id)

    def report(kind: str, data: dict[str, Any]) -> None:
        message = {
            "item": job.item,
            "attempt": attempt,
            "worker": worker.address,
            "kind": kind,
            "data": data,
        }
        worker.log_event(topic, message)

    def progress(event: Event) -> None:
        report("progress", event.to_dict(include_data=False))

    report("started", {})
    shared = run.files is not FilesMode.SEND and await anyio.to_thread.run_sync(
        sees_output, job.output_dir, run.batch_id
    )
    if run.files is FilesMode.SHARED and not shared:
        return DeckOutcome(
            error=(
                f"Worker {worker.address} does not see the output folder {job.output_dir}: "
                "mount the shared volume at the same path on every worker, or send the "
                "files back to the client (--files send)."
            ),
            fatal=True,
            worker=worker.address,
            attempt=attempt,
        )
    runtime = _runtime(run)
    outcome = await make_deck(job, runtime, progress, shared=shared)
    names = semaphore_names(runtime.limits)
    return replace(outcome, worker=worker.address, attempt=attempt, semaphores=names)
