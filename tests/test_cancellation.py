"""Leaving a stream early cancels everything in flight and leaks nothing, on asyncio and trio."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import slidestream as ss
from slidestream.render import NullAssembler
from slidestream.testing import FakeStreamingScriptProvider, FakeTTSProvider

from .scripted import Timeline, gated_pipeline

pytestmark = pytest.mark.anyio

SLIDES = 8


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def held_pipeline(tmp_path: Path, timeline: Timeline) -> ss.StreamingPipeline:
    """Every script arrives at once; slide 0 completes, every other slide's work is held."""
    for index in range(1, SLIDES):
        timeline.hold("images", index)
        timeline.hold("tts", index)
    # Room for every slide at once, so slide 0 never queues behind a held call.
    return gated_pipeline(
        timeline,
        tmp_path,
        slides=SLIDES,
        assembler=None,
        max_concurrent_images=SLIDES,
        max_concurrent_tts=SLIDES,
    )


def task_count() -> int:
    return len(anyio.get_running_tasks())


def assert_nothing_left(timeline: Timeline, tasks_before: int) -> None:
    recorder = timeline.recorder
    assert recorder.running == 0
    assert all(call.end is not None for call in recorder.calls)
    assert task_count() == tasks_before


async def test_break_after_the_first_slide_stops_everything(tmp_path: Path) -> None:
    timeline = Timeline()
    tasks_before = task_count()
    first: ss.SlideResult | None = None
    with anyio.fail_after(30):
        async with held_pipeline(tmp_path, timeline).stream("Cancel me") as events:
            async for event in events:
                if isinstance(event, ss.SlideResult):
                    first = event
                    break
    # The block is left: nothing runs any more, and the held calls were cancelled.
    assert first is not None and first.index == 0
    assert_nothing_left(timeline, tasks_before)
    held = [c for c in timeline.recorder.calls if c.stage in ("images", "tts") and c.index > 0]
    assert held and all(call.outcome == "cancelled" for call in held)
    assert events.deck is None
    leftovers = [p.name for p in (tmp_path / "cancel-me").rglob("*.tmp")]
    assert leftovers == []


async def test_an_exception_in_the_block_cancels_and_propagates_unchanged(tmp_path: Path) -> None:
    timeline = Timeline()
    tasks_before = task_count()
    with pytest.raises(KeyError, match="mine"), anyio.fail_after(30):
        async with held_pipeline(tmp_path, timeline).stream("Raise") as events:
            async for event in events:
                if isinstance(event, ss.SlideResult):
                    raise KeyError("mine")
    assert_nothing_left(timeline, tasks_before)


async def test_cancelling_the_consumer_cancels_the_run(tmp_path: Path) -> None:
    timeline = Timeline()
    tasks_before = task_count()
    pipeline = held_pipeline(tmp_path, timeline)
    with anyio.fail_after(30), anyio.CancelScope() as scope:
        async with anyio.create_task_group() as task_group:

            async def cancel_once_slide_one_is_spoken() -> None:
                await timeline.done("tts", 0).wait()
                scope.cancel()

            task_group.start_soon(cancel_once_slide_one_is_spoken)
            await pipeline.run("Timeout")
    assert scope.cancelled_caught
    assert_nothing_left(timeline, tasks_before)
    assert any(call.outcome == "cancelled" for call in timeline.recorder.calls)


async def test_bare_async_for_and_break_is_refused_and_starts_no_work(tmp_path: Path) -> None:
    # Before, this started the run from __anext__ and left its tasks running after the
    # break (under trio it ended in an internal error).
    timeline = Timeline()
    tasks_before = task_count()
    events = held_pipeline(tmp_path, timeline).stream("Bare")
    with pytest.raises(RuntimeError, match=r"async with pipeline\.stream\(\.\.\.\) as events:"):
        async for event in events:
            if isinstance(event, ss.SlideResult):
                break
    assert timeline.recorder.calls == []
    assert task_count() == tasks_before
    assert not (tmp_path / "bare").exists()
    # Nothing was started, so the same stream can still be used the right way.
    async with events:
        async for event in events:
            if isinstance(event, ss.SlideResult):
                break
    assert_nothing_left(timeline, tasks_before)


async def test_a_bare_comprehension_is_refused_too(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=2),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path,
    )
    with pytest.raises(RuntimeError, match="async with"):
        _ = [event.kind async for event in pipeline.stream("Plain end")]
    assert not (tmp_path / "plain-end").exists()
    async with pipeline.stream("Plain end") as events:
        kinds = [event.kind async for event in events]
    assert kinds[0] == "outline" and kinds[-1] == "deck"


async def test_a_stream_cannot_be_started_twice(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=1), output_dir=tmp_path
    )
    events = pipeline.stream("Twice")
    async with events:
        async for _ in events:
            pass
    with pytest.raises(RuntimeError, match="already started"):
        async with events:
            pass


async def test_run_errors_surface_from_the_iteration(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(fail_outline=True), output_dir=tmp_path
    )
    tasks_before = task_count()
    with pytest.raises(ss.PipelineError):
        async with pipeline.stream("Fails") as events:
            async for _ in events:
                pass
    assert task_count() == tasks_before


async def test_a_consumer_that_does_not_read_holds_the_run_back(tmp_path: Path) -> None:
    timeline = Timeline()
    slides = 40
    pipeline = gated_pipeline(timeline, tmp_path, slides=slides, streaming=False)
    with anyio.fail_after(30):
        async with pipeline.stream("Backpressure") as events:
            # Wait until the buffer is full and a producer waits to send the next event.
            stats = events._receive.statistics()  # type: ignore[union-attr]
            while not (stats.current_buffer_used and stats.tasks_waiting_send):
                await anyio.sleep(0.01)
                stats = events._receive.statistics()  # type: ignore[union-attr]
            assert stats.max_buffer_size == ss.DeckEventStream.buffer_size == 16
            assert stats.current_buffer_used == 16
            # Slides wait to announce their script before their narration starts, so most
            # narration has not started while nobody reads.
            assert len(timeline.recorder.of("tts")) < slides
            manifest = (tmp_path / "backpressure" / "slidestream.json").read_text()
            assert '"status": "running"' in manifest
            received = [event async for event in events]
    assert received[-1].kind == "deck"
    assert sum(isinstance(e, ss.SlideResult) for e in received) == slides
    assert len(timeline.recorder.of("tts")) == slides


async def test_a_timeout_around_the_loop_inside_the_block_lets_the_run_end(
    tmp_path: Path,
) -> None:
    # The end of the stream used to close the run's task group from inside the user's own
    # scope: "cancel scope stack corrupted" under trio, a RuntimeError under asyncio.
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=2),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path,
        cache_dir=None,
        assembler=NullAssembler,
    )
    tasks_before = task_count()
    async with pipeline.stream("Timed loop") as events:
        with anyio.fail_after(30):
            kinds = [event.kind async for event in events]
    assert kinds[0] == "outline" and kinds[-1] == "deck"
    assert events.deck is not None and len(events.deck.slides) == 2
    assert task_count() == tasks_before


async def test_aclose_inside_a_nested_scope_stops_the_run(tmp_path: Path) -> None:
    timeline = Timeline()
    tasks_before = task_count()
    async with held_pipeline(tmp_path, timeline).stream("Close early") as events:
        with anyio.fail_after(30):
            async for event in events:
                if isinstance(event, ss.SlideResult):
                    await events.aclose()
                    # Everything has stopped before aclose() returns.
                    assert timeline.recorder.running == 0
            assert [event async for event in events] == []
    assert_nothing_left(timeline, tasks_before)
    assert events.deck is None


async def test_aclose_from_another_task_ends_the_iteration(tmp_path: Path) -> None:
    timeline = Timeline()
    tasks_before = task_count()
    received: list[str] = []
    events = held_pipeline(tmp_path, timeline).stream("Closed elsewhere")

    async def close_once_slide_zero_is_done() -> None:
        await timeline.done("tts", 0).wait()
        await timeline.done("images", 0).wait()
        await events.aclose()

    with anyio.fail_after(30):
        async with events, anyio.create_task_group() as task_group:
            task_group.start_soon(close_once_slide_zero_is_done)
            async for event in events:
                received.append(event.kind)
    assert received[0] == "outline" and "deck" not in received
    assert_nothing_left(timeline, tasks_before)


async def test_the_events_can_be_read_in_a_child_task(tmp_path: Path) -> None:
    # The stream's end used to close the run's task group from the reading task, which
    # failed when that was not the task that entered the block.
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=2),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path,
        cache_dir=None,
        assembler=NullAssembler,
    )
    kinds: list[str] = []

    async def read(events: ss.DeckEventStream) -> None:
        kinds.extend([event.kind async for event in events])

    tasks_before = task_count()
    with anyio.fail_after(30):
        async with pipeline.stream("Read elsewhere") as events, anyio.create_task_group() as tg:
            tg.start_soon(read, events)
    assert kinds[0] == "outline" and kinds[-1] == "deck"
    assert task_count() == tasks_before


async def test_a_block_left_before_the_run_starts_leaves_no_stream_open(tmp_path: Path) -> None:
    import gc

    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=2),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path,
        assembler=NullAssembler,
        cache_dir=None,
    )
    for _ in range(5):
        async with pipeline.stream("Tides"):
            pass  # left before the run's task took its first step
    gc.collect()  # an unclosed memory stream warns here, which the suite turns into an error
