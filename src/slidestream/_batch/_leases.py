"""A worker's share of one cluster-wide limit: leases handed on locally before going back.

Every call under a cluster-wide limit holds a lease of a ``distributed.Semaphore``, which the
scheduler keeps. Taking and giving back a lease is a round trip to the scheduler each, and
under a saturated limit that round trip sits between one call's end and the next call's
start. So a call that ends hands its lease straight to a call waiting in the same worker
process, without the round trip, up to ``handoffs`` times in a row; then the lease goes back
to the scheduler, so calls waiting on other workers get their turn. The number of leases, and
so the limit, never changes: a lease handed on stays registered (and refreshed) as before.

At most one call per worker and limit asks the scheduler for a lease at a time (the
*fetcher*); the others wait for a lease handed to them or for their turn to fetch. A fetch
waits at most :data:`FETCH_WAIT_S` at the scheduler and is shielded from cancellation, so
a lease granted while a call was being cancelled is never lost: it is handed on or given back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import anyio

__all__ = ["FETCH_WAIT_S", "LeasePool", "SupportsLeases"]

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
        await self._take()
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await self._give()

    async def _take(self) -> None:
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
                with anyio.CancelScope(shield=True):
                    await self._give()
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
