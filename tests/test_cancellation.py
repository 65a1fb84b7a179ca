"""Leaving a stream early cancels everything in flight and leaks nothing, on asyncio and trio."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import slidestream as ss
from slidestream.testing import (
    CallRecorder,
    FakeImageProvider,
    FakeStreamingScriptProvider,
    FakeTTSProvider,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def slow_pipeline(tmp_path: Path, recorder: CallRecorder) -> ss.StreamingPipeline:
    # Slide 0 completes quickly; everything else is slow, so work is in flight at the break.
    return ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(
            slides=8, script_latency=lambda i: 0.0 if i == 0 else 0.2, recorder=recorder
        ),
        image_provider=FakeImageProvider(latency=0.0, size=(32, 18), recorder=recorder),
        tts_provider=FakeTTSProvider(latency=lambda i: 0.0 if i == 0 else 5.0, recorder=recorder),
        output_dir=tmp_path,
    )


def task_count() -> int:
    return len(anyio.get_running_tasks())


async def test_break_after_the_first_slide_stops_everything(tmp_path: Path) -> None:
    recorder = CallRecorder()
    tasks_before = task_count()
    first: ss.SlideResult | None = None
    async with slow_pipeline(tmp_path, recorder).stream("Cancel me") as events:
        async for event in events:
            if isinstance(event, ss.SlideResult):
                first = event
                break
    # The block is left: nothing runs any more.
    assert first is not None and first.index == 0
    assert recorder.running == 0
    assert all(call.end is not None for call in recorder.calls)
    assert task_count() == tasks_before
    started = len(recorder.calls)
    await anyio.sleep(0.3)
    assert len(recorder.calls) == started, "a provider call started after the block was left"
    assert events.deck is None
    leftovers = [p.name for p in (tmp_path / "cancel-me").rglob("*.tmp")]
    assert leftovers == []


async def test_an_exception_in_the_block_cancels_and_propagates_unchanged(tmp_path: Path) -> None:
    recorder = CallRecorder()
    tasks_before = task_count()
    with pytest.raises(KeyError, match="mine"):
        async with slow_pipeline(tmp_path, recorder).stream("Raise") as events:
            async for event in events:
                if isinstance(event, ss.SlideResult):
                    raise KeyError("mine")
    assert recorder.running == 0
    assert task_count() == tasks_before


async def test_cancelling_the_consumer_cancels_the_run(tmp_path: Path) -> None:
    recorder = CallRecorder()
    tasks_before = task_count()
    with anyio.move_on_after(0.3) as scope:
        await slow_pipeline(tmp_path, recorder).run("Timeout")
    assert scope.cancelled_caught
    assert recorder.running == 0
    assert any(call.outcome == "cancelled" for call in recorder.calls)
    assert task_count() == tasks_before
    started = len(recorder.calls)
    await anyio.sleep(0.3)
    assert len(recorder.calls) == started


async def test_plain_async_for_with_aclose(tmp_path: Path) -> None:
    recorder = CallRecorder()
    tasks_before = task_count()
    events = slow_pipeline(tmp_path, recorder).stream("Plain")
    async for event in events:
        if isinstance(event, ss.SlideResult):
            break
    await events.aclose()
    assert recorder.running == 0
    assert task_count() == tasks_before


async def test_plain_async_for_runs_to_the_end(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=2),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path,
    )
    kinds = [event.kind async for event in pipeline.stream("Plain end")]
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
