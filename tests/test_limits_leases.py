"""Limits held beyond one process: a worker's leases of a cluster-wide limit (handed on
locally, never more than the limit), and ``Limits`` with a lease backend."""

from __future__ import annotations

import pickle

import anyio
import pytest

import slidestream as ss
from slidestream import DaskLeases, Limits, ServiceKey, sleep_without_slot
from slidestream._limits._dask import LeasePool
from slidestream.testing import CallRecorder, FakeTTSProvider

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


class FakeLeases:
    """A lease backend whose scheduler lives in this process: one per service key."""

    def __init__(self) -> None:
        self.schedulers: dict[ServiceKey, Scheduler] = {}

    def gate(self, key: ServiceKey, cap: int) -> Gate:
        scheduler = self.schedulers.setdefault(key, Scheduler(limit=cap))
        return Gate(LeasePool(scheduler.semaphore()))


class Gate:
    def __init__(self, pool: LeasePool) -> None:
        self.pool = pool
        self.closed = False

    async def acquire(self) -> None:
        await self.pool.acquire()

    async def release(self) -> None:
        await self.pool.release()

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_limits_with_leases_hold_one_cap_across_every_limits_object() -> None:
    # Two Limits with one backend play two worker processes: each alone would allow 3.
    leases = FakeLeases()
    workers = [Limits(tts=3, cpu=4, leases=leases), Limits(tts=3, cpu=4, leases=leases)]
    recorder = CallRecorder()
    tts = FakeTTSProvider(latency=0.01, recorder=recorder)

    async def call(limits: Limits, index: int) -> None:
        async with limits.slot(ServiceKey.of(tts), stage="tts", index=index):
            await tts.synthesize("words", voice=None, language="en")

    async with anyio.create_task_group() as task_group:
        for n in range(24):
            task_group.start_soon(call, workers[n % 2], n)
    assert recorder.max_in_flight["tts"] == 3
    scheduler = leases.schedulers[ServiceKey.of(tts)]
    assert scheduler.leases == 0
    assert scheduler.acquires >= 2  # both "workers" asked the scheduler
    assert sum(w.statistics(ServiceKey.of(tts)).calls for w in workers) == 24


async def test_local_work_and_the_cpu_budget_stay_per_process() -> None:
    leases = FakeLeases()
    limits = Limits(tts=2, cpu=2, leases=leases)
    piper = ServiceKey("piper", local=True)
    async with limits.slot(piper, stage="tts"), limits.cpu(), limits.slot("edge-tts", stage="tts"):
        assert limits.statistics(ServiceKey.CPU).in_flight == 2
    assert list(leases.schedulers) == [ServiceKey("edge-tts")]  # no lease for local work
    limits.close()
    assert all(
        service.shared is None or service.shared.closed
        for state in limits._states.values()
        for service in state.services.values()
    )


async def test_a_retry_wait_gives_the_lease_back_and_cancelling_loses_none() -> None:
    leases = FakeLeases()
    limits = Limits(tts=1, leases=leases)
    holder_waits = anyio.Event()
    order: list[str] = []

    async def holder() -> None:
        async with limits.slot("edge-tts", stage="tts"):
            order.append("holder")
            holder_waits.set()
            await sleep_without_slot(0.05)  # the lease goes back meanwhile
            order.append("holder again")

    async def other() -> None:
        await holder_waits.wait()
        async with limits.slot("edge-tts", stage="tts"):
            order.append("other")

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(holder)
        task_group.start_soon(other)
    assert order == ["holder", "other", "holder again"]
    with anyio.move_on_after(0.05):
        async with anyio.create_task_group() as task_group:
            for _ in range(3):
                task_group.start_soon(holder)
    assert leases.schedulers[ServiceKey("edge-tts")].leases == 0
    assert limits.statistics("edge-tts").in_flight == 0


def test_limits_with_leases_travel_with_their_backend() -> None:
    limits = Limits(tts=2, leases=DaskLeases(name="b1", lease_timeout="5s"))
    copy = pickle.loads(pickle.dumps(limits))
    assert copy.leases == DaskLeases(name="b1", lease_timeout="5s")
    assert repr(copy) == repr(limits)
    assert copy.leases.semaphore_name(ServiceKey("edge-tts")) == "slidestream-b1-edge-tts"
    with pytest.raises(ss.InvalidInputError, match="leases"):
        Limits(leases=object())  # type: ignore[arg-type]
