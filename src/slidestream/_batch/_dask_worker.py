"""What runs on a Dask worker: one deck per task, service limits held cluster-wide.

The task is a coroutine, so Dask runs it on the worker's event loop (asyncio); the pipeline's
blocking work goes to threads as it does anywhere. Each service key's limit is a
``distributed.Semaphore`` whose leases the scheduler keeps: a worker that dies holding a
lease stops refreshing it, and the scheduler frees it after the lease timeout, never before,
so the limit is not exceeded meanwhile. Local work (Piper, drawn images) is limited per
worker process instead, as each machine has its own CPU.

Progress goes back to the client as structured events (``Worker.log_event``) on the
batch's topic, through the scheduler; the deck itself comes back as the task's result.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import anyio

from .._events import Event
from ._deck import DeckJob, DeckOutcome, make_deck
from ._folders import sees_output
from ._models import FilesMode
from ._slots import KindLimits, ServiceKey, local_work

__all__ = ["ClusterRun", "DaskSlots", "deck_task", "event_topic", "semaphore_name"]

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


class _ProcessLimiters:
    """Per-process limiters for local work, shared by the decks a worker runs at once."""

    def __init__(self) -> None:
        self._limiters: dict[tuple[str, ServiceKey], anyio.CapacityLimiter] = {}
        self._users: dict[str, int] = {}

    def enter(self, batch_id: str) -> None:
        self._users[batch_id] = self._users.get(batch_id, 0) + 1

    def leave(self, batch_id: str) -> None:
        self._users[batch_id] -= 1
        if not self._users[batch_id]:
            del self._users[batch_id]
            for owner, key in list(self._limiters):
                if owner == batch_id:
                    del self._limiters[owner, key]

    def get(self, batch_id: str, key: ServiceKey, limit: int) -> anyio.CapacityLimiter:
        limiter = self._limiters.get((batch_id, key))
        if limiter is None:
            limiter = self._limiters[batch_id, key] = anyio.CapacityLimiter(limit)
        return limiter


_PROCESS = _ProcessLimiters()
_registering: anyio.Lock | None = None


def _registration_lock() -> anyio.Lock:
    """One lock per worker process (made on its event loop) around config-dependent setup."""
    global _registering
    if _registering is None:
        _registering = anyio.Lock()
    return _registering


class DaskSlots:
    """Slots from cluster-wide semaphores (one per service key), for one deck on a worker.

    Semaphores are made on first use and registered with the lease timeout the client
    chose; :meth:`close` stops their lease refreshes (none is held by then).
    """

    def __init__(self, run: ClusterRun) -> None:
        self.run = run
        self._semaphores: dict[ServiceKey, Any] = {}
        _PROCESS.enter(run.batch_id)

    @property
    def names(self) -> tuple[str, ...]:
        """The semaphores this deck used."""
        return tuple(semaphore.name for semaphore in self._semaphores.values())

    async def _semaphore(self, key: ServiceKey) -> Any:
        import dask
        import distributed

        semaphore_class: Any = distributed.Semaphore
        async with _registration_lock():
            semaphore = self._semaphores.get(key)
            if semaphore is None:
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
                self._semaphores[key] = semaphore
            return semaphore

    @asynccontextmanager
    async def slot(self, key: ServiceKey) -> AsyncIterator[None]:
        """Hold one of ``key``'s slots: a lease of its semaphore, or a local one."""
        if local_work(key):
            limiter = _PROCESS.get(self.run.batch_id, key, self.run.limits.of(key.kind))
            borrower = object()
            await limiter.acquire_on_behalf_of(borrower)
            try:
                yield
            finally:
                limiter.release_on_behalf_of(borrower)
            return
        semaphore = await self._semaphore(key)
        await semaphore.acquire()
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await semaphore.release()

    def close(self) -> None:
        """Stop the lease refreshes of this deck's semaphores."""
        for semaphore in self._semaphores.values():
            callback = getattr(semaphore, "refresh_callback", None)
            if callback is not None:
                callback.stop()
        self._semaphores.clear()
        _PROCESS.leave(self.run.batch_id)


async def _register(semaphore: Any) -> None:
    await semaphore


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
    shared = run.files is not FilesMode.SEND and sees_output(job.output_dir, run.batch_id)
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
    slots = DaskSlots(run)
    try:
        outcome = await make_deck(job, slots, progress, shared=shared)
    finally:
        names = slots.names
        slots.close()
    return replace(outcome, worker=worker.address, attempt=attempt, semaphores=names)
