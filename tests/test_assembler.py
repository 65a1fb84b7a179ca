"""The built-in assembler through the real streaming pipeline with the test doubles."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import ClassVar

import anyio
import pytest
from pptx import Presentation

import slidestream as ss
from slidestream.render import AssemblyContext, DeckFiles, StreamingDeckAssembler, default_assembler
from slidestream.testing import FakeImageProvider, FakeStreamingScriptProvider, FakeTTSProvider

from .media import (
    audio_codec,
    decoded_seconds,
    ffmpeg_children,
    parse_subtitles,
    probe,
    stream_end,
)
from .scripted import GatedTTS, Timeline

pytestmark = pytest.mark.anyio


class Recording(StreamingDeckAssembler):
    """The real assembler, noting when slides arrive relative to completion."""

    instances: ClassVar[list[Recording]] = []
    on_add: ClassVar[Callable[[int], None] | None] = None

    def __init__(self, context: AssemblyContext) -> None:
        super().__init__(context)
        self.finished_at: float | None = None
        self.added_at: list[float] = []
        Recording.instances.append(self)

    async def add_slide(self, slide: ss.SlideResult) -> None:
        self.added_at.append(anyio.current_time())
        await super().add_slide(slide)
        if Recording.on_add is not None:
            Recording.on_add(slide.index)

    async def finish(self, slides: Sequence[ss.SlideResult]) -> DeckFiles:
        self.finished_at = anyio.current_time()
        return await super().finish(slides)


def factory(context: AssemblyContext) -> AbstractAsyncContextManager[StreamingDeckAssembler]:
    return Recording(context)


def pipeline(tmp_path: Path, **tts: object) -> ss.StreamingPipeline:
    return ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=3, words_per_slide=10),
        image_provider=FakeImageProvider(),
        tts_provider=FakeTTSProvider(tone=True, words_per_second=5.0, **tts),  # type: ignore[arg-type]
        output_dir=tmp_path,
        assembler=factory,
    )


def test_default_assembler_is_the_streaming_one() -> None:
    assert default_assembler is StreamingDeckAssembler


@pytest.mark.slow
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_every_file_is_written(tmp_path: Path) -> None:
    Recording.instances.clear()
    # Narration is held so slides complete as 2nd, 3rd, 1st: each is released once the
    # slide before it in that order has reached the assembler.
    timeline = Timeline()
    timeline.hold("tts", 0)
    timeline.hold("tts", 2)
    next_slide = {1: 2, 2: 0}
    Recording.on_add = lambda index: (
        timeline.release("tts", next_slide[index]) if index in next_slide else None
    )
    pipe = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=3, words_per_slide=10),
        image_provider=FakeImageProvider(),
        tts_provider=GatedTTS(timeline, tone=True, words_per_second=5.0),
        output_dir=tmp_path,
        assembler=factory,
    )
    try:
        with anyio.fail_after(120):
            deck = await pipe.run("Photosynthesis", project="deck")
    finally:
        Recording.on_add = None
    folder = tmp_path / "deck"
    assert deck.files == {
        kind: folder / f"deck.{kind}" for kind in ("pptx", "mp3", "srt", "vtt", "mp4")
    }
    assert deck.pptx_path == folder / "deck.pptx"
    assert deck.audio_path == folder / "deck.mp3"
    assert deck.video_path == folder / "deck.mp4"
    assert deck.subtitles_path == folder / "deck.srt"
    titles = [slide.shapes.title.text for slide in Presentation(str(deck.pptx_path)).slides]
    # Title slide, the three slides in slide order, and the image credits.
    assert len(titles) == 5
    assert titles[0] == "Photosynthesis"
    assert titles[1:4] == [s.script.title for s in deck.slides]
    assert audio_codec(deck.audio_path) == "mp3"
    meta = probe(deck.video_path)
    assert (meta["codec"], meta["audio_codec"], meta["size"]) == ("h264", "aac", (1920, 1080))
    track = decoded_seconds(deck.audio_path)
    assert abs(stream_end(deck.video_path, "v") - stream_end(deck.video_path, "a")) < 0.1
    assert abs(stream_end(deck.video_path, "a") - track) < 0.1
    for kind in ("srt", "vtt"):
        cues = parse_subtitles(deck.files[kind].read_text(encoding="utf-8"))
        assert cues
        assert all(a.end_s <= b.start_s for a, b in itertools.pairwise(cues))
        assert cues[-1].end_s <= track + 0.01
    assert not (folder / "build").exists()
    # Slides reached the assembler as they completed (out of order), before finish().
    (assembler,) = Recording.instances
    assert assembler.received == [1, 2, 0]
    assert assembler.finished_at is not None
    assert max(assembler.added_at) <= assembler.finished_at


async def test_failed_narration_still_shows_the_slide(tmp_path: Path) -> None:
    deck = await pipeline(tmp_path, fail_slides={1}).run(
        "Photosynthesis", project="deck", video=False
    )
    assert deck.slides[1].errors
    assert deck.audio_path is not None
    speech = sum(s.duration_s for s in deck.slides if s.audio_path)
    assert decoded_seconds(deck.audio_path) == pytest.approx(speech + 3.0 + 2 * 0.6, abs=0.1)
    cues = parse_subtitles(deck.files["srt"].read_text(encoding="utf-8"))
    second_start = deck.slides[0].duration_s + 0.6
    assert not [c for c in cues if second_start <= c.start_s < second_start + 3.0]


async def test_no_narration_means_no_media(tmp_path: Path) -> None:
    pipe = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=2),
        tts_provider=None,
        output_dir=tmp_path,
    )
    deck = await pipe.run("Photosynthesis", project="silent", video=False)
    assert deck.pptx_path is not None
    assert (deck.audio_path, deck.video_path, deck.subtitles_path) == (None, None, None)
    assert set(deck.files) == {"pptx"}


@pytest.mark.slow
async def test_cancelling_leaves_no_ffmpeg_and_no_partial_files(tmp_path: Path) -> None:
    pipe = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=3, words_per_slide=200),
        tts_provider=FakeTTSProvider(tone=True, words_per_second=2.0),
        output_dir=tmp_path,
        render_options=ss.RenderOptions(transitions="zoom"),
    )
    seen_ffmpeg = False
    with anyio.move_on_after(20):
        async with pipe.stream("Photosynthesis", project="deck") as events:
            async for event in events:
                if isinstance(event, ss.SlideResult):
                    for _ in range(100):
                        if ffmpeg_children():
                            seen_ffmpeg = True
                            break
                        await anyio.sleep(0.02)
                    break
    assert seen_ffmpeg
    assert ffmpeg_children() == []
    folder = tmp_path / "deck"
    assert not (folder / "build").exists()
    assert not [p for p in folder.rglob("*") if p.suffix in (".mp4", ".tmp", ".m4a")]
    assert not list(folder.glob(".deck.*"))


async def test_a_failed_video_keeps_the_pptx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_encoder(*args: object, **kwargs: object) -> None:
        raise ss.RenderError("the encoder crashed")

    # Fault injection at the encoder seam; everything else runs for real.
    monkeypatch.setattr("slidestream.render._deck.encode_still_segment", broken_encoder)
    with pytest.raises(ss.RenderError, match=r"encoder crashed.*PPTX was still written") as caught:
        await pipeline(tmp_path).run("Broken video", project="deck")
    pptx = tmp_path / "deck" / "deck.pptx"
    assert str(pptx) in str(caught.value)
    assert len(Presentation(str(pptx)).slides) == 5
    assert not (tmp_path / "deck" / "deck.mp4").exists()
