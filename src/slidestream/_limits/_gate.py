"""A counting gate whose size can change and whose waiting tasks go in priority order.

Like :class:`anyio.CapacityLimiter`, but a waiting task is admitted by the smallest priority
(a tuple, such as one ending in a slide index: slide 1 before slide 5), ties in arrival order,
and the limit may be lowered while tasks hold the gate (they keep their place; new ones wait
until the count drops below the limit). A gate belongs to the event loop it was first used in.
"""

from __future__ import annotations

import heapq
import itertools
import math

import anyio
import anyio.lowlevel

__all__ = ["Priority", "PriorityGate"]

Priority = tuple[float, ...]
"""Compared as tuples: the smallest is admitted first."""


class _Waiter:
    __slots__ = ("admitted", "cancelled", "event")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.admitted = False
        self.cancelled = False


class PriorityGate:
    """At most ``limit`` holders at once; waiting tasks admitted by smallest priority."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._in_flight = 0
        self._waiting = 0
        self._queue: list[tuple[Priority, int, _Waiter]] = []
        self._arrivals = itertools.count()
        self.peak = 0
        """The most holders there have been at once."""
        self.admitted = 0
        """How many times the gate was acquired."""

    @property
    def limit(self) -> int:
        """How many holders the gate admits."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """How many tasks hold the gate now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """How many tasks wait to be admitted."""
        return self._waiting

    def set_limit(self, limit: int) -> None:
        """Change the limit; raising it admits waiting tasks at once."""
        self._limit = limit
        self._admit()

    async def acquire(self, priority: Priority = (math.inf,)) -> None:
        """Wait until admitted; smaller ``priority`` goes first."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        if self._in_flight < self._limit and not self._waiting:
            self._take()
            await anyio.lowlevel.cancel_shielded_checkpoint()
            return
        waiter = _Waiter()
        heapq.heappush(self._queue, (priority, next(self._arrivals), waiter))
        self._waiting += 1
        try:
            await waiter.event.wait()
        except BaseException:
            if waiter.admitted:
                self.release()  # admitted just as we were cancelled: pass the place on
            else:
                waiter.cancelled = True
                self._waiting -= 1
            raise

    def release(self) -> None:
        """Give the gate back and admit the next waiting task."""
        if self._in_flight <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self._in_flight -= 1
        self._admit()

    def _take(self) -> None:
        self._in_flight += 1
        self.admitted += 1
        self.peak = max(self.peak, self._in_flight)

    def _admit(self) -> None:
        while self._in_flight < self._limit and self._queue:
            _, _, waiter = heapq.heappop(self._queue)
            if waiter.cancelled:
                continue
            self._waiting -= 1
            waiter.admitted = True
            self._take()
            waiter.event.set()
