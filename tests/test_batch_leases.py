"""A worker's leases of a cluster-wide limit: handed on locally, never more than the limit."""

from __future__ import annotations

import anyio
import pytest

from slidestream._batch._leases import LeasePool

pytestmark = pytest.mark.anyio


class Scheduler:
    """A semaphore's scheduler side: at most ``limit`` leases granted at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.leases = 0
        self.acquires = 0
        self.releases = 0
        self.changed = anyio.Event()

    def semaphore(self) -> Semaphore:
        return Semaphore(self)


class Semaphore:
    """One worker's handle on the scheduler's semaphore, as ``distributed.Semaphore``."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    async def acquire(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        scheduler = self.scheduler
        scheduler.acquires += 1
        with anyio.move_on_after(timeout):
            while scheduler.leases >= scheduler.limit:
                await scheduler.changed.wait()
            scheduler.leases += 1
            return True
        return False

    async def release(self) -> bool:
        scheduler = self.scheduler
        assert scheduler.leases > 0, "released a lease nobody held"
        scheduler.leases -= 1
        scheduler.releases += 1
        changed, scheduler.changed = scheduler.changed, anyio.Event()
        changed.set()
        await anyio.lowlevel.checkpoint()
        return True


class Calls:
    """Counts calls in flight across every pool."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.done = 0

    async def call(self, pool: LeasePool, seconds: float) -> None:
        async with pool.lease():
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            await anyio.sleep(seconds)
            self.in_flight -= 1
            self.done += 1


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_two_workers_never_hold_more_than_the_limit() -> None:
    scheduler, calls = Scheduler(limit=3), Calls()
    pools = [LeasePool(scheduler.semaphore()), LeasePool(scheduler.semaphore())]
    async with anyio.create_task_group() as task_group:
        for n in range(40):
            task_group.start_soon(calls.call, pools[n % 2], 0.01)
    assert calls.done == 40
    assert calls.peak == 3
    assert scheduler.leases == 0  # every lease went back at the end
    handed_on = sum(pool.handed_on for pool in pools)
    assert sum(pool.fetched for pool in pools) + handed_on == 40
    assert handed_on > 0


async def test_a_finished_call_hands_its_lease_on_then_gives_it_back() -> None:
    scheduler, calls = Scheduler(limit=1), Calls()
    pool = LeasePool(scheduler.semaphore(), handoffs=8)
    async with anyio.create_task_group() as task_group:
        for _ in range(10):
            task_group.start_soon(calls.call, pool, 0.01)
    # One lease from the scheduler serves 9 calls (8 handed on), then goes back so other
    # workers get a turn; the tenth call takes it again.
    assert (pool.fetched, pool.handed_on) == (2, 8)
    assert scheduler.releases == 2 and scheduler.leases == 0
    assert calls.peak == 1


async def test_another_workers_wait_is_served_when_the_streak_ends() -> None:
    scheduler = Scheduler(limit=1)
    busy, other = LeasePool(scheduler.semaphore(), handoffs=2), LeasePool(scheduler.semaphore())
    order: list[str] = []
    first_runs = anyio.Event()

    async def call(pool: LeasePool, name: str) -> None:
        async with pool.lease():
            order.append(name)
            first_runs.set()
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as task_group:
        for n in range(20):
            task_group.start_soon(call, busy, f"busy-{n}")
        await first_runs.wait()  # the busy worker holds the only lease, and has 19 waiting
        task_group.start_soon(call, other, "other")
    # A lease serves at most 3 busy calls (2 handed on) before it goes back to the scheduler,
    # where the busy worker's next request may be ahead of the other's: within two turns.
    assert order.index("other") <= 6
    assert scheduler.leases == 0


async def test_cancelled_waiters_lose_no_lease() -> None:
    scheduler, calls = Scheduler(limit=2), Calls()
    pool = LeasePool(scheduler.semaphore())
    async with anyio.create_task_group() as task_group:
        for _ in range(6):
            task_group.start_soon(calls.call, pool, 0.05)
        await anyio.sleep(0.01)  # two calls hold the leases, four wait
        with anyio.CancelScope() as scope:
            scope.cancel()
            # Waiters cancelled at once, among calls that hold leases.
            async with anyio.create_task_group() as doomed:
                for _ in range(4):
                    doomed.start_soon(calls.call, pool, 10.0)
    assert calls.done == 6
    assert scheduler.leases == 0


async def test_a_cancelled_batch_gives_every_lease_back() -> None:
    scheduler, calls = Scheduler(limit=2), Calls()
    pool = LeasePool(scheduler.semaphore())
    with anyio.move_on_after(0.1):
        async with anyio.create_task_group() as task_group:
            for _ in range(8):
                task_group.start_soon(calls.call, pool, 10.0)
    assert calls.peak == 2 and calls.done == 0
    assert scheduler.leases == 0
