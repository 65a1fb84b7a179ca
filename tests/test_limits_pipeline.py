"""Limits through real pipelines: shared between pipelines and runs, throttling, events, report.

Provider calls are held at gates (``tests/scripted.py``) and counted by the doubles' shared
:class:`CallRecorder`, so peaks are asserted on what actually ran, never on the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import slidestream as ss
from slidestream import LimitChanged, Limits, ServiceKey

from .scripted import GatedTTS, Timeline, gated_pipeline

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class ThrottledTTS(GatedTTS):
    """A gated TTS double behind a service that refuses a call while ``capacity`` calls run.

    Its retry loop does what a provider's should: report the refusal, then wait for the
    retry without its slot.
    """

    def __init__(self, timeline: Timeline, capacity: int) -> None:
        super().__init__(timeline)
        self.capacity = capacity
        self.active = 0

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
        while self.active >= self.capacity:
            ss.report_throttled(retry_after_s=0.0)
            await ss.sleep_without_slot(0.0)
        self.active += 1
        try:
            return await super().synthesize(text, voice=voice, language=language)
        finally:
            self.active -= 1


class OtherTTS(GatedTTS):
    """A gated TTS double that calls another service."""

    limit_key = ServiceKey("other-tts")


async def wait_until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition()`` holds (a hang fails the test's deadline)."""
    while not condition():
        await anyio.lowlevel.checkpoint()


def throttles(limits: Limits, service: str) -> int:
    """Throttling answers ``service`` gave so far (0 before its first call)."""
    figures = limits.statistics().get(ServiceKey(service))
    return 0 if figures is None else figures.throttled


async def until_in_flight(timeline: Timeline, stage: str, count: int) -> None:
    """Wait until ``count`` calls of ``stage`` run at once and nothing else can start."""
    await timeline.reached(stage, count).wait()
    await anyio.wait_all_tasks_blocked()


async def collect(pipeline: ss.StreamingPipeline, project: str, out: list[Any]) -> None:
    """Run ``pipeline`` and keep every event it yields in ``out``."""
    async with pipeline.stream("Shared limits", project=project, slides=4) as events:
        async for event in events:
            out.append(event)


# -- sharing -----------------------------------------------------------------------------------


async def test_two_pipelines_sharing_limits_hold_the_tts_limit_together(tmp_path: Path) -> None:
    limits = Limits(tts=2)
    timeline = Timeline()
    timeline.hold("tts")
    first = gated_pipeline(timeline, tmp_path, slides=4, limits=limits)
    second = gated_pipeline(timeline, tmp_path, slides=4, limits=limits)
    decks: list[ss.DeckResult] = []

    async def run(pipeline: ss.StreamingPipeline, project: str) -> None:
        decks.append(await pipeline.run("Shared limits", project=project))

    with anyio.fail_after(120):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(run, first, "first")
            task_group.start_soon(run, second, "second")
            await until_in_flight(timeline, "tts", 2)
            # Eight slides are waiting to be spoken, yet two pipelines hold only two calls.
            assert timeline.recorder.in_flight["tts"] == 2
            assert limits.statistics("test-tts").waiting > 0
            timeline.release("tts")
    assert timeline.recorder.max_in_flight["tts"] == 2
    assert len(timeline.recorder.of("tts")) == 8
    figures = limits.statistics("test-tts")
    assert (figures.peak_in_flight, figures.calls, figures.in_flight) == (2, 8, 0)
    assert all(slide.ok for deck in decks for slide in deck.slides)


async def test_ten_runs_of_one_pipeline_hold_the_shared_limit_together(tmp_path: Path) -> None:
    limits = Limits(tts=3)
    timeline = Timeline()
    timeline.hold("tts")
    pipeline = gated_pipeline(timeline, tmp_path, slides=2, limits=limits)
    with anyio.fail_after(120):
        async with anyio.create_task_group() as task_group:
            for run in range(10):
                task_group.start_soon(
                    lambda project: pipeline.run("Ten runs", project=project, slides=2),
                    f"run-{run}",
                )
            await until_in_flight(timeline, "tts", 3)
            assert timeline.recorder.in_flight["tts"] == 3
            timeline.release("tts")
    assert timeline.recorder.max_in_flight["tts"] == 3
    assert limits.statistics("test-tts").calls == 20


async def test_pipelines_with_their_own_limits_do_not_share_them(tmp_path: Path) -> None:
    timeline = Timeline()
    timeline.hold("tts")
    first = gated_pipeline(timeline, tmp_path, slides=4, max_concurrent_tts=2)
    second = gated_pipeline(timeline, tmp_path, slides=4, max_concurrent_tts=2)
    with anyio.fail_after(120):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(lambda: first.run("Own limits", project="first"))
            task_group.start_soon(lambda: second.run("Own limits", project="second"))
            await until_in_flight(timeline, "tts", 4)
            assert timeline.recorder.in_flight["tts"] == 4
            timeline.release("tts")
    assert first.limits is not second.limits
    assert first.limits.statistics("test-tts").peak_in_flight == 2


async def test_pipelines_made_without_limits_share_the_process_limits(tmp_path: Path) -> None:
    timeline = Timeline()
    timeline.hold("tts")
    first = gated_pipeline(timeline, tmp_path, slides=4)
    second = gated_pipeline(timeline, tmp_path, slides=4)
    assert first.limits is second.limits is Limits.default()
    with anyio.fail_after(120):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(lambda: first.run("Default limits", project="first"))
            task_group.start_soon(lambda: second.run("Default limits", project="second"))
            await until_in_flight(timeline, "tts", 3)
            # Eight slides wait to be spoken; the two pipelines hold the default TTS limit together.
            assert timeline.recorder.in_flight["tts"] == 3
            timeline.release("tts")
    assert timeline.recorder.max_in_flight["tts"] == 3
    assert len(timeline.recorder.of("tts")) == 8


def test_limits_and_max_concurrent_together_are_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ss.InvalidInputError, match=r"limits= or max_concurrent_tts.*Limits\(tts=2"):
        gated_pipeline(Timeline(), tmp_path, limits=Limits(), max_concurrent_tts=2)
    with pytest.raises(ss.InvalidInputError, match=r"slidestream\.Limits"):
        gated_pipeline(Timeline(), tmp_path, limits={"tts": 2})
    pipeline = gated_pipeline(Timeline(), tmp_path, max_concurrent_images=7)
    assert (pipeline.limits.scripts, pipeline.limits.images, pipeline.limits.tts) == (4, 7, 3)


# -- throttling, events and the report ----------------------------------------------------------


async def test_throttling_moves_the_shared_limit_and_each_run_hears_of_its_own_services(
    tmp_path: Path,
) -> None:
    limits = Limits(tts=4)
    timeline = Timeline()
    timeline.hold("tts")
    throttled = gated_pipeline(timeline, tmp_path, slides=8, limits=limits)
    throttled.tts_provider = ThrottledTTS(timeline, capacity=2)
    other = gated_pipeline(timeline, tmp_path, slides=4, limits=limits)
    other.tts_provider = OtherTTS(timeline)
    throttled_events: list[Any] = []
    other_events: list[Any] = []
    with anyio.fail_after(120):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(collect, throttled, "throttled", throttled_events)
            task_group.start_soon(collect, other, "other", other_events)
            await wait_until(lambda: throttles(limits, "test-tts") > 0)
            timeline.release("tts")

    changes = [event for event in throttled_events if isinstance(event, LimitChanged)]
    assert changes and changes[0].service == "test-tts" and changes[0].reason == "throttled"
    assert all(change.cap == 4 and 1 <= change.limit <= 4 for change in changes)
    assert isinstance(throttled_events[-1], ss.DeckReady)
    assert not any(isinstance(event, LimitChanged) for event in other_events)

    deck = throttled_events[-1].deck
    assert all(slide.ok for slide in deck.slides)
    figures = {str(entry.service): entry for entry in deck.limits}
    assert figures["test-tts"].throttled > 0 and figures["test-tts"].lowest_limit < 4
    assert figures["test-tts"].calls > 4  # retries take a slot again
    assert "test-script" in figures and "other-tts" not in figures
    report = deck.report()
    assert "throttled" in report.splitlines()[-len(deck.limits) - 1]
    row = next(line for line in report.splitlines() if line.startswith("test-tts"))
    assert row.split()[1:3] == [str(figures["test-tts"].cap), str(figures["test-tts"].limit)]
    assert deck.to_dict()["limits"][0]["service"]["name"] in figures


async def test_a_run_with_fixed_limits_reports_them_without_changes(tmp_path: Path) -> None:
    timeline = Timeline()
    pipeline = gated_pipeline(timeline, tmp_path, slides=4, max_concurrent_tts=2)
    events: list[Any] = []
    with anyio.fail_after(120):
        await collect(pipeline, "fixed", events)
    assert not any(isinstance(event, LimitChanged) for event in events)
    deck = events[-1].deck
    names = [str(entry.service) for entry in deck.limits]
    assert names == ["test-script", "test-images", "test-tts"]
    tts = deck.limits[2]
    assert (tts.cap, tts.limit, tts.throttled, tts.calls) == (2, 2, 0, 4)
