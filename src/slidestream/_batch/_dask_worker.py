"""What runs on a Dask worker: one deck per task, service limits held cluster-wide.

The task is a coroutine, so Dask runs it on the worker's event loop (asyncio); the pipeline's
blocking work goes to threads as it does anywhere. Each service key's limit is a
``distributed.Semaphore`` whose leases the scheduler keeps: a worker that dies holding a
lease stops refreshing it, and the scheduler frees it after the lease timeout, never before,
so the limit is not exceeded meanwhile. A call that ends hands its lease to a call waiting on
the same worker before giving it back to the scheduler (``_leases``), which saves the
scheduler round trips between calls. Local work (Piper, drawn images) is limited per
worker process instead, as each machine has its own CPU.

The decks of one batch on one worker share a :class:`BatchRuntime` (the semaphores, the
local limiters, the providers made from names) until the client ends the batch there
(:func:`close_batch`). Progress goes back to the client as structured events
(``Worker.log_event``) on the batch's topic, through the scheduler; the deck itself comes
back as the task's result.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import anyio

from .._events import Event
from ._deck import BatchRuntime, DeckJob, DeckOutcome, make_deck
from ._folders import sees_output
from ._leases import LeasePool
from ._models import FilesMode
from ._slots import KindLimits, ServiceKey, local_work

__all__ = [
    "ClusterRun",
    "DaskSlots",
    "close_batch",
    "deck_task",
    "event_topic",
    "semaphore_name",
]

LEASE_TIMEOUT = "distributed.scheduler.locks.lease-timeout"


@dataclass(frozen=True, kw_only=True)
class ClusterRun:
    """What every deck task of one batch needs to know besides its job."""

    batch_id: str
    limits: KindLimits
    files: FilesMode
    lease_timeout: str
    """The client's ``distributed.scheduler.locks.lease-timeout``, used by every worker."""


def event_topic(batch_id: str) -> str:
    """The structured-event topic a batch's decks report on."""
    return f"slidestream-batch-{batch_id}"


def semaphore_name(batch_id: str, key: ServiceKey) -> str:
    """The cluster-wide semaphore of ``key`` in batch ``batch_id``."""
    return f"slidestream-{batch_id}-{key}"


class DaskSlots:
    """Slots of one batch in one worker process: a cluster-wide semaphore per service key,
    a local limiter per key of local work.

    Semaphores are made on first use with the lease timeout the client chose, and their
    leases are shared by this worker's calls through a :class:`LeasePool`; :meth:`close`
    stops their lease refreshes once the batch is over here.
    """

    def __init__(self, run: ClusterRun) -> None:
        self.run = run
        self._pools: dict[ServiceKey, LeasePool] = {}
        self._local: dict[ServiceKey, anyio.CapacityLimiter] = {}
        self._setup = anyio.Lock()

    @property
    def names(self) -> tuple[str, ...]:
        """The semaphores used so far."""
        return tuple(semaphore_name(self.run.batch_id, key) for key in self._pools)

    async def _pool(self, key: ServiceKey) -> LeasePool:
        import dask
        import distributed

        semaphore_class: Any = distributed.Semaphore
        async with self._setup:
            pool = self._pools.get(key)
            if pool is None:
                # The lease timeout is read from the configuration when the semaphore is made
                # (its refresh interval is a fifth of it) and when it is registered (the
                # scheduler's timeout for its leases). Both must be the batch's, on every
                # worker, or a slow refresh lets leases expire and the limit be overbooked.
                with dask.config.set({LEASE_TIMEOUT: self.run.lease_timeout}):
                    semaphore = semaphore_class(
                        max_leases=self.run.limits.of(key.kind),
                        name=semaphore_name(self.run.batch_id, key),
                    )
                    await _register(semaphore)
                pool = self._pools[key] = LeasePool(semaphore)
            return pool

    @asynccontextmanager
    async def slot(self, key: ServiceKey) -> AsyncIterator[None]:
        """Hold one of ``key``'s slots: a lease of its semaphore, or a local one."""
        if local_work(key):
            limiter = self._local.get(key)
            if limiter is None:
                limiter = self._local[key] = anyio.CapacityLimiter(self.run.limits.of(key.kind))
            borrower = object()
            await limiter.acquire_on_behalf_of(borrower)
            try:
                yield
            finally:
                limiter.release_on_behalf_of(borrower)
            return
        pool = await self._pool(key)
        async with pool.lease():
            yield

    def close(self) -> None:
        """Stop the lease refreshes of the semaphores (no lease is held any more)."""
        for pool in self._pools.values():
            callback = getattr(pool.semaphore, "refresh_callback", None)
            if callback is not None:
                callback.stop()
        self._pools.clear()


async def _register(semaphore: Any) -> None:
    await semaphore


_RUNTIMES: dict[str, BatchRuntime] = {}
"""The runtime of each batch with decks on this worker process."""


def _runtime(run: ClusterRun) -> BatchRuntime:
    runtime = _RUNTIMES.get(run.batch_id)
    if runtime is None:
        runtime = _RUNTIMES[run.batch_id] = BatchRuntime(DaskSlots(run))
    return runtime


async def close_batch(batch_id: str) -> None:
    """End batch ``batch_id`` on this worker: close its providers, stop its semaphores."""
    runtime = _RUNTIMES.pop(batch_id, None)
    if runtime is not None:
        await runtime.aclose()


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
    names = runtime.slots.names if isinstance(runtime.slots, DaskSlots) else ()
    return replace(outcome, worker=worker.address, attempt=attempt, semaphores=names)
