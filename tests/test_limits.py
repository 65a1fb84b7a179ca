"""Shared limits: one limit per service across runs, throttling backoff, CPU priority, figures.

The provider calls here go through ``Limits.slot()`` the way the pipeline takes them (one slot
around each provider call, for the slide it is for). Peaks are counted by the test doubles
themselves (``CallRecorder``); orders are recorded, never read off the clock.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import anyio
import anyio.lowlevel
import pytest

import slidestream as ss
from slidestream import InvalidInputError, LimitChanged, Limits, ServiceKey
from slidestream._context import _slide_index
from slidestream.testing import CallRecorder, FakeTTSProvider

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class ThrottlingTTS(FakeTTSProvider):
    """A TTS double behind a service that refuses a call while ``capacity`` calls run.

    Its retry loop does what a provider's should: on a refusal it reports throttling and
    waits for the retry without its slot.
    """

    def __init__(self, capacity: int, *, recorder: CallRecorder | None = None) -> None:
        super().__init__(latency=0.002, recorder=recorder)
        self.capacity = capacity
        self.active = 0
        self.refusals = 0

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
        while self.active >= self.capacity:
            self.refusals += 1
            ss.report_throttled(retry_after_s=0.0)
            await ss.sleep_without_slot(0.0)
        self.active += 1
        try:
            return await super().synthesize(text, voice=voice, language=language)
        finally:
            self.active -= 1


async def wait_until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition()`` holds (or fail after 5 s)."""
    with anyio.fail_after(5):
        while not condition():
            await anyio.lowlevel.checkpoint()


async def speak(limits: Limits, tts: FakeTTSProvider, index: int) -> None:
    """One slide's TTS call under the limit of the provider's service."""
    token = _slide_index.set(index)
    try:
        async with limits.slot(ServiceKey.of(tts), stage="tts", index=index):
            await tts.synthesize(f"Slide {index} narration.", voice=None, language="en")
    finally:
        _slide_index.reset(token)


async def run_deck(limits: Limits, tts: FakeTTSProvider, slides: int) -> None:
    """One run's TTS work: every slide's call started at once, as a streaming run may."""
    async with anyio.create_task_group() as task_group:
        for index in range(slides):
            task_group.start_soon(speak, limits, tts, index)


# -- one limit per service, across runs ------------------------------------------------------


async def test_ten_concurrent_runs_hold_the_shared_limit_together() -> None:
    recorder = CallRecorder()
    limits = Limits(tts=3)
    async with anyio.create_task_group() as task_group:
        for _run in range(10):
            # every run makes its own provider object; they share the service, so the limit
            tts = FakeTTSProvider(latency=0.01, recorder=recorder)
            task_group.start_soon(run_deck, limits, tts, 4)
    assert len(recorder.of("tts")) == 40
    assert recorder.max_in_flight["tts"] == 3
    figures = limits.statistics("test-tts")
    assert (figures.peak_in_flight, figures.calls, figures.in_flight, figures.waiting) == (
        3,
        40,
        0,
        0,
    )


async def test_two_pipelines_worth_of_providers_share_one_limit_by_key() -> None:
    """Two differently configured providers that declare the same service share its limit."""

    class EdgeLike(FakeTTSProvider):
        limit_key = ServiceKey("edge-tts")

    recorder = CallRecorder()
    limits = Limits(tts=5, services={"edge-tts": 2})
    first = EdgeLike(latency=0.01, recorder=recorder)
    second = EdgeLike(latency=0.02, recorder=recorder)
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(run_deck, limits, first, 6)
        task_group.start_soon(run_deck, limits, second, 6)
    assert recorder.max_in_flight["tts"] == 2
    assert limits.statistics("edge-tts").peak_in_flight == 2


async def test_different_services_do_not_share_a_limit() -> None:
    limits = Limits(tts=1)
    entered: list[str] = []
    both_in = anyio.Event()

    async def call(key: ServiceKey) -> None:
        async with limits.slot(key, stage="tts", index=0):
            entered.append(key.name)
            if len(entered) == 2:
                both_in.set()
            with anyio.fail_after(5):
                await both_in.wait()

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(call, ServiceKey("edge-tts"))
        task_group.start_soon(call, ServiceKey("openai-tts", "http://127.0.0.1:9000/v1"))
    assert sorted(entered) == ["edge-tts", "openai-tts"]


async def test_a_limit_is_kept_across_runs_in_one_event_loop_and_fresh_in_another() -> None:
    limits = Limits(tts=2)
    tts = FakeTTSProvider(latency=0.002)
    await run_deck(limits, tts, 3)
    await run_deck(limits, tts, 3)
    assert limits.statistics("test-tts").calls == 6

    def other_loop() -> int:
        async def main() -> int:
            await run_deck(limits, tts, 2)
            return limits.statistics("test-tts").calls

        return anyio.run(main)

    assert await anyio.to_thread.run_sync(other_loop) == 2
    assert limits.statistics("test-tts").calls == 6


# -- adapting to throttling ------------------------------------------------------------------


async def test_throttling_lowers_the_limit_to_what_the_service_accepts() -> None:
    recorder = CallRecorder()
    limits = Limits(tts=6)
    changes: list[LimitChanged] = []
    limits.watch(changes.append)
    tts = ThrottlingTTS(capacity=2, recorder=recorder)
    await run_deck(limits, tts, 30)

    figures = limits.statistics("test-tts")
    assert tts.refusals >= 4
    assert figures.lowest_limit == 2
    assert figures.throttled == tts.refusals
    assert recorder.max_in_flight["tts"] == 2  # the service never ran more than it accepts
    assert len(recorder.of("tts")) == 30
    assert all(call.outcome == "ok" for call in recorder.of("tts"))
    down = [change.limit for change in changes if change.reason == "throttled"]
    assert down[:4] == [5, 4, 3, 2]
    assert all(change.service == "test-tts" and change.cap == 6 for change in changes)


async def test_the_limit_grows_back_on_success_but_never_above_the_cap() -> None:
    limits = Limits(tts=4)
    changes: list[LimitChanged] = []
    limits.watch(changes.append)
    tts = ThrottlingTTS(capacity=1)
    await run_deck(limits, tts, 12)
    assert limits.statistics("test-tts").lowest_limit == 1

    tts.capacity = 100  # the service recovers
    await run_deck(limits, tts, 80)

    figures = limits.statistics("test-tts")
    assert figures.limit == figures.cap == 4
    assert max(change.limit for change in changes) == 4
    ups = [change.limit for change in changes if change.reason == "recovered"]
    assert ups[-3:] == [2, 3, 4]
    assert all(change.limit <= change.cap for change in changes)


async def test_fixed_limits_count_throttling_but_do_not_move() -> None:
    limits = Limits(tts=3, adaptive=False)
    changes: list[LimitChanged] = []
    limits.watch(changes.append)
    tts = ThrottlingTTS(capacity=1)

    with anyio.fail_after(10):
        await run_deck(limits, tts, 6)
    figures = limits.statistics("test-tts")
    assert figures.throttled == tts.refusals > 0
    assert figures.limit == figures.lowest_limit == 3
    assert changes == []


async def test_a_throttled_call_gives_its_slot_back_while_it_waits() -> None:
    limits = Limits(services={"svc": 1})
    order: list[str] = []
    b_waiting = anyio.Event()

    async def a() -> None:
        async with limits.slot("svc", stage="tts", index=0):
            order.append("a in")
            with anyio.fail_after(5):
                await b_waiting.wait()
            ss.report_throttled()  # limit already 1: it stays
            await ss.sleep_without_slot(0)
            order.append("a back")

    async def b() -> None:
        await wait_until(lambda: limits.statistics("svc").in_flight == 1)
        async with limits.slot("svc", stage="tts", index=1):
            order.append("b in")

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(a)
        task_group.start_soon(b)
        await wait_until(lambda: limits.statistics("svc").waiting == 1)
        b_waiting.set()
    assert order == ["a in", "b in", "a back"]
    assert limits.statistics("svc").in_flight == 0


async def test_reports_outside_a_slot_go_nowhere_and_the_sleep_is_plain() -> None:
    assert ss.report_throttled(1.0) is False
    await ss.sleep_without_slot(0)


async def test_a_throttle_reported_for_a_key_outside_a_slot_lowers_its_limit() -> None:
    limits = Limits(services={"img-api": 4})
    limits.report_throttled("img-api", retry_after_s=2.0)
    figures = limits.statistics("img-api")
    assert (figures.limit, figures.throttled) == (1, 1)  # nothing else was in flight


# -- the CPU budget and priority by slide ----------------------------------------------------


async def test_waiting_local_work_is_let_in_by_slide_index() -> None:
    limits = Limits(cpu=1)
    order: list[int] = []
    release_first = anyio.Event()

    async def first() -> None:
        async with limits.cpu(index=9):
            with anyio.fail_after(5):
                await release_first.wait()

    async def work(index: int) -> None:
        async with limits.cpu(index=index):
            order.append(index)

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(first)
        await wait_until(lambda: limits.statistics(ServiceKey.CPU).in_flight == 1)
        for index in (5, 2, 7, 0, 3):
            task_group.start_soon(work, index)
        await wait_until(lambda: limits.statistics(ServiceKey.CPU).waiting == 5)
        release_first.set()
    assert order == [0, 2, 3, 5, 7]


async def test_service_slots_are_also_handed_out_by_slide_index() -> None:
    limits = Limits(services={"svc": 1})
    order: list[int] = []
    gate = anyio.Event()

    async def call(index: int) -> None:
        async with limits.slot("svc", stage="tts", index=index):
            order.append(index)
            if index == 99:
                with anyio.fail_after(5):
                    await gate.wait()

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(call, 99)
        await wait_until(lambda: limits.statistics("svc").in_flight == 1)
        for index in (4, 1, 3):
            task_group.start_soon(call, index)
        await wait_until(lambda: limits.statistics("svc").waiting == 3)
        gate.set()
    assert order == [99, 1, 3, 4]


async def test_among_runs_first_slides_go_first_then_the_earlier_run() -> None:
    limits = Limits(services={"svc": 1})
    runs = [limits.next_run(), limits.next_run()]
    assert runs == [0, 1]
    order: list[tuple[int, int | None]] = []
    gate = anyio.Event()

    async def call(run: int, index: int | None) -> None:
        async with limits.slot("svc", stage="tts", index=index, run=run):
            order.append((run, index))
            if index == 99:
                with anyio.fail_after(5):
                    await gate.wait()

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(call, 0, 99)
        await wait_until(lambda: limits.statistics("svc").in_flight == 1)
        waiting = [(0, 3), (1, 0), (1, 2), (0, 1), (1, None), (0, 0)]
        for run, index in waiting:
            task_group.start_soon(call, run, index)
        await wait_until(lambda: limits.statistics("svc").waiting == len(waiting))
        gate.set()
    # What each run's first slide needs (deck-level work, slide 1) comes first; then run 0
    # finishes before run 1 goes on.
    assert order == [(0, 99), (0, 0), (1, None), (1, 0), (0, 1), (0, 3), (1, 2)]


async def test_a_local_service_also_takes_the_cpu_budget_and_never_adapts() -> None:
    recorder = CallRecorder()

    class LocalVoice(FakeTTSProvider):
        limit_key = ServiceKey("piper", local=True)

    limits = Limits(tts=3, cpu=1)
    await run_deck(limits, LocalVoice(latency=0.005, recorder=recorder), 4)
    assert recorder.max_in_flight["tts"] == 1
    assert limits.statistics("piper").adaptive is False
    assert limits.statistics(ServiceKey.CPU).calls == 4


# -- statistics, cancellation ----------------------------------------------------------------


async def test_statistics_show_in_flight_waiting_limit_and_cap() -> None:
    limits = Limits(tts=2, services={"edge-tts": 2, "unused": 7}, cpu=3)
    hold = anyio.Event()

    async def call(index: int) -> None:
        async with limits.slot("edge-tts", index=index):
            with anyio.fail_after(5):
                await hold.wait()

    async with anyio.create_task_group() as task_group:
        for index in range(5):
            task_group.start_soon(call, index)
        await wait_until(lambda: limits.statistics("edge-tts").waiting == 3)
        figures = limits.statistics("edge-tts")
        assert (figures.in_flight, figures.waiting, figures.limit, figures.cap) == (2, 3, 2, 2)
        hold.set()
    everything = limits.statistics()
    assert set(everything) == {ServiceKey("edge-tts"), ServiceKey("unused"), ServiceKey.CPU}
    assert everything[ServiceKey("unused")].cap == 7
    assert everything[ServiceKey("unused")].calls == 0
    assert everything[ServiceKey.CPU].cap == 3
    assert everything[ServiceKey("edge-tts")].peak_in_flight == 2
    assert everything[ServiceKey("edge-tts")].to_dict()["service"]["name"] == "edge-tts"
    with pytest.raises(InvalidInputError, match="known: cpu, edge-tts, unused"):
        limits.statistics("nothing-like-it")


async def test_a_cancelled_waiter_takes_no_slot_and_leaves_no_count() -> None:
    limits = Limits(services={"svc": 1})
    hold = anyio.Event()
    admitted: list[int] = []

    async def call(index: int) -> None:
        async with limits.slot("svc", stage="tts", index=index):
            admitted.append(index)
            if index == 0:
                with anyio.fail_after(5):
                    await hold.wait()

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(call, 0)
        await wait_until(lambda: limits.statistics("svc").in_flight == 1)
        task_group.start_soon(call, 1)
        await wait_until(lambda: limits.statistics("svc").waiting == 1)
        async with anyio.create_task_group() as doomed:
            doomed.start_soon(call, 2)  # would go before 3, but is cancelled while it waits
            await wait_until(lambda: limits.statistics("svc").waiting == 2)
            doomed.cancel_scope.cancel()
        assert limits.statistics("svc").waiting == 1
        task_group.start_soon(call, 3)
        await wait_until(lambda: limits.statistics("svc").waiting == 2)
        hold.set()
    assert admitted == [0, 1, 3]
    figures = limits.statistics("svc")
    assert (figures.in_flight, figures.waiting) == (0, 0)


async def test_cancelling_a_call_that_waits_without_its_slot_leaves_the_count_right() -> None:
    limits = Limits(services={"svc": 2})
    sleeping = anyio.Event()

    async def call() -> None:
        async with limits.slot("svc", stage="tts", index=0):
            sleeping.set()
            await ss.sleep_without_slot(60)

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(call)
        with anyio.fail_after(5):
            await sleeping.wait()
        await wait_until(lambda: limits.statistics("svc").in_flight == 0)
        task_group.cancel_scope.cancel()
    figures = limits.statistics("svc")
    assert (figures.in_flight, figures.waiting, figures.calls) == (0, 0, 1)


@pytest.mark.parametrize("cap", [1, 2])
async def test_tasks_sharing_one_slot_may_each_wait_without_it_and_none_is_lost(cap: int) -> None:
    # An image search downloads a slide's images at once inside its one slot; each download
    # retries on its own, so several may wait without the slot at the same time.
    limits = Limits(services={"svc": cap})
    with anyio.fail_after(5):  # taking the slot twice over would wait for itself
        async with limits.slot("svc", stage="images", index=0):
            async with anyio.create_task_group() as downloads:
                for _ in range(3):
                    downloads.start_soon(ss.sleep_without_slot, 0)
            held = limits.statistics("svc")
    assert (held.in_flight, held.peak_in_flight) == (1, 1)
    figures = limits.statistics("svc")
    assert (figures.in_flight, figures.waiting) == (0, 0)


# -- keys and configuration (no event loop needed) -------------------------------------------


def test_service_keys_name_one_server_however_its_url_is_spelled() -> None:
    a = ServiceKey.from_url("openai-tts", "HTTPS://API.example.com:443/v1/")
    b = ServiceKey.from_url("openai-tts", "https://api.example.com/v1")
    assert a == b and str(a) == "openai-tts@https://api.example.com/v1"
    host = ServiceKey.from_url("pexels", "https://api.pexels.com/v1/search?q=x", path=False)
    assert host.endpoint == "https://api.pexels.com"
    assert ServiceKey("piper", local=True) == ServiceKey("piper")
    with pytest.raises(InvalidInputError, match="scheme and a host"):
        ServiceKey.from_url("x", "api.example.com")
    with pytest.raises(InvalidInputError, match="non-empty name"):
        ServiceKey("  ")


def test_a_provider_is_keyed_by_its_declared_service_else_its_name() -> None:
    class Declared:
        limit_key = ServiceKey.from_url("openai-tts", "http://127.0.0.1:8000/v1")

    class ByName:
        limit_key = "edge-tts"

    class Nameless:
        pass

    assert ServiceKey.of(Declared()).endpoint == "http://127.0.0.1:8000/v1"
    assert ServiceKey.of(ByName()) == ServiceKey("edge-tts")
    assert ServiceKey.of(FakeTTSProvider()) == ServiceKey("test-tts")
    assert ServiceKey.of(Nameless()) == ServiceKey("Nameless")


def test_limits_refuse_bad_values_with_what_to_do() -> None:
    with pytest.raises(InvalidInputError, match="tts=0 is invalid"):
        Limits(tts=0)
    with pytest.raises(InvalidInputError, match="cpu=N"):
        Limits(services={"cpu": 2})
    with pytest.raises(InvalidInputError, match=r"services\['edge-tts'\]=True"):
        Limits(services={"edge-tts": True})
    with pytest.raises(InvalidInputError, match="say which stage"):
        Limits().cap("mystery")


@pytest.mark.parametrize("services", [[("edge-tts", 2)], "edge-tts", 2])
def test_services_that_are_not_a_mapping_are_refused_with_what_to_do(services: object) -> None:
    with pytest.raises(InvalidInputError, match=r"services=.* is invalid: .*\{'edge-tts': 2\}"):
        Limits(services=services)  # type: ignore[arg-type]


@pytest.mark.parametrize("adaptive", ["no", 0, None])
def test_adaptive_that_is_not_a_bool_is_refused(adaptive: object) -> None:
    with pytest.raises(InvalidInputError, match=r"adaptive=.* is invalid: pass True"):
        Limits(adaptive=adaptive)  # type: ignore[arg-type]


def test_a_service_limit_comes_from_services_by_key_or_name_else_its_stage() -> None:
    limits = Limits(scripts=4, images=5, tts=3, services={"openai-tts": 2})
    assert limits.cap(ServiceKey.from_url("openai-tts", "http://a.example/v1")) == 2
    assert limits.cap("new-images", stage="images") == 5
    assert limits.cap("new-images", stage="tts") == 5  # the first stage to ask sets it
    assert limits.cap(ServiceKey.CPU) == limits.cpu_budget >= 1


def test_limits_travel_to_other_processes_as_their_configuration() -> None:
    limits = Limits(tts=2, services={"edge-tts": 3}, cpu=2, adaptive=False)
    copy = pickle.loads(pickle.dumps(limits))
    assert repr(copy) == repr(limits)
    assert "services={'edge-tts': 3}" in repr(copy)


def test_figures_outside_an_event_loop_are_those_of_the_loop_used_last() -> None:
    limits = Limits(tts=2)
    anyio.run(run_deck, limits, FakeTTSProvider(), 3)
    figures = limits.statistics("test-tts")
    assert (figures.calls, figures.peak_in_flight, figures.in_flight) == (3, 2, 0)
    assert Limits(tts=2).statistics()[ServiceKey.CPU].calls == 0
