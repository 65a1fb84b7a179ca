"""The assembler's local work takes shares of the run's CPU budget, lower slides first."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import anyio
import pytest

import slidestream as ss
from slidestream import Limits, ServiceKey
from slidestream.render import StreamingDeckAssembler
from slidestream.render import _deck as deck_module
from slidestream.testing import FakeImageProvider, FakeStreamingScriptProvider, FakeTTSProvider

from ._render_data import context, slide, wav_file

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _until_waiting(limits: Limits, count: int) -> None:
    with anyio.fail_after(30):
        await anyio.wait_all_tasks_blocked()
    assert limits.statistics(ServiceKey.CPU).waiting == count


@pytest.mark.slow
async def test_frames_and_segments_wait_for_the_cpu_by_slide_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done: list[tuple[str, int]] = []
    draw, encode = deck_module.render_frame, deck_module.encode_still_segment

    all_drawn = anyio.Event()

    def drawn(slide: ss.SlideResult, **kwargs: Any) -> Path:
        done.append(("frame", slide.index))
        if len([kind for kind, _ in done if kind == "frame"]) == 3:
            anyio.from_thread.run_sync(all_drawn.set)  # drawn in a worker thread
        return draw(slide, **kwargs)

    async def encoded(frame: Path, out: Path, duration_s: float, *, what: str) -> Path:
        done.append(("segment", int(out.stem.split("-")[1]) - 1))
        return await encode(frame, out, duration_s, what=what)

    monkeypatch.setattr(deck_module, "render_frame", drawn)
    monkeypatch.setattr(deck_module, "encode_still_segment", encoded)
    limits = Limits(cpu=1)
    build = dataclasses.replace(
        context(tmp_path, pptx=False, pdf=False, subtitles=False, page_renderer="pillow"),
        limits=limits,
    )
    slides = [slide(i, audio=wav_file(tmp_path, i, 1.0), duration_s=1.0) for i in range(3)]
    async with StreamingDeckAssembler(build) as assembler:
        blocker = limits.cpu(index=None)
        await blocker.__aenter__()
        try:
            # Slides arrive last first while the CPU is busy: 3 frames wait for it.
            for result in reversed(slides):
                await assembler.prepare_slide(result)
            await _until_waiting(limits, 3)
        finally:
            await blocker.__aexit__(None, None, None)
        with anyio.fail_after(30):  # every frame has had its turn (cache lookups run first)
            await all_drawn.wait()
        # Then they complete last first: their narration pieces wait, then their segments.
        blocker = limits.cpu(index=None)
        await blocker.__aenter__()
        try:
            for result in reversed(slides):
                await assembler.add_slide(result)
            await _until_waiting(limits, 3)
        finally:
            await blocker.__aexit__(None, None, None)
        files = await assembler.finish(slides)
    assert files.video_path is not None and files.video_path.exists()
    assert [i for kind, i in done if kind == "frame"] == [0, 1, 2]
    assert [i for kind, i in done if kind == "segment"] == [0, 1, 2]
    figures = limits.statistics(ServiceKey.CPU)
    assert figures.peak_in_flight == 1
    assert figures.calls >= 3 + 3 + 3 + 2  # frames, pieces, segments, the two blockers


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_run_gives_its_limits_to_the_assembler(tmp_path: Path) -> None:
    limits = Limits(cpu=2)
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=2, words_per_slide=8),
        image_provider=FakeImageProvider(),
        tts_provider=FakeTTSProvider(tone=True, words_per_second=8.0),
        output_dir=tmp_path,
        render_options=ss.RenderOptions(video=False, pdf=False, page_renderer="pillow"),
        limits=limits,
    )
    deck = await pipeline.run("Photosynthesis", project="deck")
    assert deck.audio_path is not None
    figures = limits.statistics(ServiceKey.CPU)
    # The test doubles are online services: every CPU share was the assembler's.
    assert figures.calls >= 2 * 2  # a PPTX page and a narration piece per slide
    assert figures.peak_in_flight <= 2


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_later_runs_frames_wait_behind_an_earlier_runs_local_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    draw = deck_module.render_frame

    def drawn(slide: ss.SlideResult, **kwargs: Any) -> Path:
        order.append(f"run 1, frame of slide {slide.index}")
        return draw(slide, **kwargs)

    monkeypatch.setattr(deck_module, "render_frame", drawn)
    limits = Limits(cpu=1)
    build = dataclasses.replace(
        context(tmp_path, pptx=False, pdf=False, subtitles=False, page_renderer="pillow"),
        limits=limits,
        run=1,
    )

    async def earlier_run_work() -> None:
        async with limits.cpu(index=2, run=0):
            order.append("run 0, slide 2")

    async with (
        StreamingDeckAssembler(build) as assembler,
        anyio.create_task_group() as group,
        limits.cpu(index=None),  # the CPU is busy until both wait for it
    ):
        await assembler.prepare_slide(slide(1))
        await _until_waiting(limits, 1)
        group.start_soon(earlier_run_work)
        await _until_waiting(limits, 2)
    assert order[:2] == ["run 0, slide 2", "run 1, frame of slide 1"]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_each_run_tells_its_assembler_its_place_among_the_runs(tmp_path: Path) -> None:
    limits = Limits()
    places: list[int] = []

    def assembler(build: ss.render.AssemblyContext) -> ss.render.NullAssembler:
        places.append(build.run)
        return ss.render.NullAssembler(build)

    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=1),
        output_dir=tmp_path,
        assembler=assembler,
        limits=limits,
    )
    for project in ("first", "second"):
        await pipeline.run("Photosynthesis", project=project)
    assert places == [0, 1]
