"""Cluster-wide limits on Dask: a :class:`DaskLeases` makes each service's limit hold on
every worker together.

A :class:`~slidestream.Limits` given ``leases=DaskLeases(...)`` keeps everything it does in one
process (the per-service gate that lets slides in by index, adaptive backoff, the CPU budget,
statistics) and, for every online service, also holds one lease of a ``distributed.Semaphore``
for the duration of each call. The scheduler keeps the leases, so ``cap`` calls are in flight
across the whole cluster at most. Local work (a :class:`ServiceKey` with ``local=True``, and
the CPU budget) stays per process: each machine has its own CPU.

Each lease is a round trip to the scheduler to take and one to give back, and under a
saturated limit that round trip sits between one call's end and the next call's start. So a
call that ends hands its lease straight to a call waiting in the same worker process
(:class:`LeasePool`), up to ``handoffs`` times in a row; then the lease goes back to the
scheduler, so calls waiting on other workers get their turn. The number of leases, and so the
limit, never changes: a lease handed on stays registered (and refreshed) as before.

At most one call per worker and limit asks the scheduler for a lease at a time (the
*fetcher*); the others wait for a lease handed to them or for their turn to fetch. A fetch
waits at most :data:`FETCH_WAIT_S` at the scheduler and is shielded from cancellation, so
a lease granted while a call was being cancelled is never lost: it is handed on or given back.

A worker that dies holding leases stops refreshing them, and the scheduler frees them one
lease timeout after the last refresh, never sooner: the limit is lowered meanwhile, not
exceeded. The lease timeout is the one :class:`DaskLeases` carries, applied on every worker
when the semaphore is made, so refresh interval and timeout always match (a mismatch is how
Dask's known lease overbooking happens).
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import anyio.lowlevel

from .._exceptions import ConfigurationError
from ._keys import ServiceKey

__all__ = [
    "DEFAULT_HANDOFFS",
    "FETCH_WAIT_S",
    "LEASE_TIMEOUT",
    "DaskLeases",
    "LeasePool",
    "SupportsLeases",
]

logger = logging.getLogger("slidestream.limits")

LEASE_TIMEOUT = "distributed.scheduler.locks.lease-timeout"
"""Dask's configuration key of the lease timeout."""
DASK_HINT = "pip install 'slidestream[dask]'"

FETCH_WAIT_S = 1.0
"""How long one request for a lease waits at the scheduler (and so the longest a
cancellation can be delayed by it)."""
DEFAULT_HANDOFFS = 8


class SupportsLeases(Protocol):
    """What a pool needs of a semaphore (``distributed.Semaphore`` has it)."""

    # The timeout is distributed.Semaphore's own: the scheduler stops waiting, and no
    # lease is granted after it.
    async def acquire(self, timeout: float | None = None) -> bool: ...  # noqa: ASYNC109

    async def release(self) -> bool: ...


class _Waiter:
    def __init__(self) -> None:
        self.granted = False
        self.wake = anyio.Event()

    def notify(self) -> None:
        self.wake.set()

    async def wait(self) -> None:
        await self.wake.wait()
        self.wake = anyio.Event()


class LeasePool:
    """The leases of one semaphore used by the calls of one worker process."""

    def __init__(self, semaphore: SupportsLeases, *, handoffs: int = DEFAULT_HANDOFFS) -> None:
        self.semaphore = semaphore
        self.handoffs = handoffs
        self._waiting: deque[_Waiter] = deque()
        self._fetcher: _Waiter | None = None
        self._streak = 0
        self.fetched = 0
        """Leases taken from the scheduler."""
        self.handed_on = 0
        """Leases handed from a finished call to a waiting one, without the scheduler."""

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[None]:
        """Hold one lease for the duration of the block."""
        await self.acquire()
        try:
            yield
        finally:
            await self.release()

    async def acquire(self) -> None:
        """Take one lease: handed on by a call of this process, or from the scheduler."""
        waiter = _Waiter()
        self._waiting.append(waiter)
        try:
            while not waiter.granted:
                if self._fetcher is None:
                    await self._fetch(waiter)
                else:
                    await waiter.wait()
        except BaseException:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            if waiter.granted:  # handed a lease while being cancelled: pass it on
                await self.release()
            raise

    async def _fetch(self, fetcher: _Waiter) -> None:
        self._fetcher = fetcher
        try:
            # Shielded: a request cut short could leave a lease the scheduler granted and
            # nobody holds until it times out. It waits FETCH_WAIT_S at most.
            with anyio.CancelScope(shield=True):
                granted = await self.semaphore.acquire(timeout=FETCH_WAIT_S)
                if granted:
                    self.fetched += 1
                    self._streak = 0
                    if self._waiting:
                        self._grant(self._waiting.popleft())
                    else:  # the fetcher was cancelled meanwhile, and nobody else waits
                        await self.semaphore.release()
        finally:
            self._fetcher = None
            self._next_fetcher()
        await anyio.lowlevel.checkpoint()

    def _grant(self, waiter: _Waiter) -> None:
        waiter.granted = True
        waiter.notify()

    def _next_fetcher(self) -> None:
        if self._fetcher is None:
            for waiter in self._waiting:
                if not waiter.granted:
                    waiter.notify()  # the first in line asks the scheduler next
                    return

    async def release(self) -> None:
        """Give one lease back: to a call waiting here, or to the scheduler (shielded)."""
        with anyio.CancelScope(shield=True):
            await self._give()

    async def _give(self) -> None:
        if self._streak < self.handoffs:
            # The fetcher is waiting at the scheduler already: it gets a lease from there.
            for waiter in self._waiting:
                if waiter is not self._fetcher:
                    self._waiting.remove(waiter)
                    self._streak += 1
                    self.handed_on += 1
                    self._grant(waiter)
                    return
        self._streak = 0
        await self.semaphore.release()
        self._next_fetcher()


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigurationError(
            f"Limits held across a Dask cluster need the dask extra: {DASK_HINT}."
        ) from None
    return distributed


def configured_lease_timeout() -> str:
    """This process's Dask lease timeout (``distributed.scheduler.locks.lease-timeout``)."""
    _distributed()
    import dask

    return str(dask.config.get(LEASE_TIMEOUT))


def _new_name() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class DaskLeases:
    """Online service limits held across a Dask cluster: a ``distributed.Semaphore`` each.

    Give it to :class:`~slidestream.Limits` (``Limits(tts=3, leases=DaskLeases())``) and send
    those limits to the workers with each task: every worker's calls to a service then hold
    one lease of that service's semaphore, so the whole cluster holds at most the service's
    cap in flight. Everything else the limits do stays per process (see :mod:`._dask`).
    Limits unpickled more than once in one process share the cluster-wide leases, not the
    per-process gates, so make one per process (and batch) and share it there.

    Attributes:
        name: what the semaphores' names start with; limits with the same name share one
            semaphore per service (default: a new name, so these limits only).
        lease_timeout: how long the scheduler keeps the lease of a lost worker (``"30s"``;
            default: this process's Dask configuration). Every worker uses this one.
        handoffs: how often in a row a worker hands a finished call's lease to a call waiting
            there before giving it back to the scheduler.
    """

    name: str = field(default_factory=_new_name)
    lease_timeout: str = field(default_factory=configured_lease_timeout)
    handoffs: int = DEFAULT_HANDOFFS

    def semaphore_name(self, key: ServiceKey) -> str:
        """The name of ``key``'s semaphore."""
        return f"slidestream-{self.name}-{key}"

    def gate(self, key: ServiceKey, cap: int) -> DaskGate:
        """The gate of ``key`` (``cap`` leases) for this worker's event loop."""
        return DaskGate(self, key, cap)

    def close_semaphores(self, client: Any, names: Iterable[str]) -> None:
        """Close the semaphores called ``names`` through ``client`` (blocking; at the end).

        A semaphore with a lease of a lost worker still pending is left to time out.
        """
        semaphore_class = _distributed().Semaphore
        for name in sorted(set(names)):
            try:
                # max_leases only matters when the semaphore is new; closing ignores it.
                semaphore = semaphore_class(
                    name=name, max_leases=1, scheduler_rpc=client.scheduler, loop=client.loop
                )
                semaphore.close()
            except Exception:
                logger.info("closing semaphore %s failed", name, exc_info=True)


class DaskGate:
    """One service's semaphore as seen by one worker's event loop: made on first use."""

    def __init__(self, leases: DaskLeases, key: ServiceKey, cap: int) -> None:
        self.leases = leases
        self.key = key
        self.cap = cap
        self.pool: LeasePool | None = None
        self._setup = anyio.Lock()

    @property
    def name(self) -> str:
        """The semaphore's name."""
        return self.leases.semaphore_name(self.key)

    async def _open(self) -> LeasePool:
        async with self._setup:
            if self.pool is None:
                distributed = _distributed()
                import dask

                # The lease timeout is read from the configuration when the semaphore is made
                # (its refresh interval is a fifth of it) and when it is registered (the
                # scheduler's timeout for its leases). Both must be the same on every worker,
                # or a slow refresh lets leases expire and the limit be overbooked.
                with dask.config.set({LEASE_TIMEOUT: self.leases.lease_timeout}):
                    semaphore = distributed.Semaphore(max_leases=self.cap, name=self.name)
                    await semaphore
                self.pool = LeasePool(semaphore, handoffs=self.leases.handoffs)
            return self.pool

    async def acquire(self) -> None:
        """Take a lease (this worker's handed-on one, or the scheduler's)."""
        pool = self.pool if self.pool is not None else await self._open()
        await pool.acquire()

    async def release(self) -> None:
        """Give the lease back (shielded)."""
        if self.pool is None:
            raise RuntimeError("release() without a matching acquire()")
        await self.pool.release()

    def close(self) -> None:
        """Stop the semaphore's lease refreshes (no lease is held any more)."""
        pool, self.pool = self.pool, None
        callback = getattr(pool.semaphore, "refresh_callback", None) if pool else None
        if callback is not None:
            callback.stop()
