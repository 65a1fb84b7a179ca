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
from slidestream._types import AudioFormat
from slidestream.render import (
    AssemblyContext,
    DeckFiles,
    RenderOptions,
    StreamingDeckAssembler,
    default_assembler,
)
from slidestream.testing import (
    FakeImageProvider,
    FakeStreamingScriptProvider,
    FakeTTSProvider,
    _wav,
)

from ._render_data import slide
from .media import (
    CLIP_ENCODINGS,
    audio_codec,
    decoded_pcm,
    decoded_seconds,
    encode_clip,
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
        kind: folder / f"deck.{kind}" for kind in ("pptx", "pdf", "mp3", "srt", "vtt", "mp4")
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
    assert set(deck.files) == {"pptx", "pdf"}


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


SECONDS = (1.2, 1.5)


async def _assemble_clips(folder: Path, clips: list[Path], **options: object) -> DeckFiles:
    context = AssemblyContext(
        request=ss.DeckRequest(topic="Every format", project="deck"),
        title="Every format",
        project_dir=folder,
        options=RenderOptions(**options),  # type: ignore[arg-type]
        slide_count=len(clips),
    )
    slides = [
        slide(i, audio=clip, duration_s=length)
        for i, (clip, length) in enumerate(zip(clips, SECONDS, strict=True))
    ]
    async with StreamingDeckAssembler(context) as assembler:
        for result in reversed(slides):
            await assembler.add_slide(result)
        return await assembler.finish(slides)


def _clips(folder: Path, fmt: str) -> list[Path]:
    clips = []
    for index, seconds in enumerate(SECONDS):
        source = folder / f"source-{index}.wav"
        source.write_bytes(_wav(seconds, 16000, 400.0))
        suffix = AudioFormat(fmt).suffix
        clips.append(encode_clip(source, fmt, folder / f"slide-{index + 1:02d}.{suffix}"))
    return clips


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(CLIP_ENCODINGS))
async def test_narration_in_every_audio_format_reaches_every_file(tmp_path: Path, fmt: str) -> None:
    clips = _clips(tmp_path, fmt)
    files = await _assemble_clips(tmp_path / "deck", clips, pause_s=0.5, page_renderer="pillow")
    assert set(files.files) == {"pptx", "pdf", "mp3", "srt", "vtt", "mp4"}
    assert files.audio_path is not None and files.video_path is not None
    track = decoded_seconds(files.audio_path)
    # The speech plus the one pause; lossy clips bring their priming and padding (AAC about
    # 0.1 s a clip), and the MP3 its encoder delay.
    assert sum(SECONDS) + 0.5 - 0.02 <= track <= sum(SECONDS) + 0.5 + 0.3
    meta = probe(files.video_path)
    assert (meta["codec"], meta["audio_codec"]) == ("h264", "aac")
    assert abs(stream_end(files.video_path, "a") - track) < 0.1
    cues = parse_subtitles(files.files["srt"].read_text(encoding="utf-8"))
    assert cues
    assert cues[-1].end_s <= track + 0.01
    for pptx_slide in list(Presentation(str(files.pptx_path)).slides)[1:3]:
        media = [r.target_part for r in pptx_slide.part.rels.values() if "media" in r.reltype]
        assert media
        assert {part.content_type for part in media} == {"audio/mpeg"}


async def test_a_clip_that_cannot_be_decoded_fails_loudly_naming_the_slide(tmp_path: Path) -> None:
    clips = _clips(tmp_path, "wav")
    broken = tmp_path / "slide-02.aac"
    broken.write_bytes(b"\x00\x01" * 1000)
    with pytest.raises(ss.RenderError, match=r"slide 2: .*slide-02\.aac") as caught:
        await _assemble_clips(tmp_path / "deck", [clips[0], broken], video=False)
    message = str(caught.value)
    assert "PPTX was still written" in message
    assert message.count("slide-02.aac") == 1  # reported once, not by every part
    folder = tmp_path / "deck"
    assert (folder / "deck.pptx").is_file()
    assert not (folder / "deck.mp3").exists()  # no half-built track left behind
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def _narration_of(pptx_slide: object) -> tuple[bytes, int]:
    """The MP3 a PPTX slide embeds, and when the slide advances (ms)."""
    rels = pptx_slide.part.rels.values()  # type: ignore[attr-defined]
    (part,) = {r.target_part for r in rels if r.reltype.endswith("/media")}
    assert part.content_type == "audio/mpeg"
    transition = pptx_slide.element.find(  # type: ignore[attr-defined]
        "{http://schemas.openxmlformats.org/presentationml/2006/main}transition"
    )
    return part.blob, int(transition.get("advTm"))


@pytest.mark.slow
async def test_the_pptx_narration_is_cut_from_the_mp3_track(tmp_path: Path) -> None:
    clips = _clips(tmp_path, "wav")
    files = await _assemble_clips(tmp_path / "deck", clips, pause_s=0.5, page_renderer="pillow")
    assert files.audio_path is not None and files.pptx_path is not None
    rate = 24000
    track = decoded_pcm(files.audio_path, rate)
    start = 0
    for index, pptx_slide in enumerate(list(Presentation(str(files.pptx_path)).slides)[1:3]):
        blob, advance_ms = _narration_of(pptx_slide)
        speech = round(SECONDS[index] * rate)
        # The slide advances when its clip has played: a short lead in the pause, then speech.
        lead = round((advance_ms / 1000 - SECONDS[index]) * rate)
        assert 0 < lead < 0.2 * rate
        clip = tmp_path / f"clip-{index}.mp3"
        clip.write_bytes(blob)
        decoded = decoded_pcm(clip, rate)
        assert speech <= len(decoded) // 2 - lead <= speech + 0.2 * rate
        # The speech is the track's own samples there, and the lead is silence.
        ours = decoded[2 * lead : 2 * (lead + speech)]
        theirs = track[2 * start : 2 * (start + speech)]
        assert _rms(ours) > 1000
        assert abs(_rms(ours) - _rms(theirs)) < 0.02 * _rms(theirs)
        start += speech + round(0.5 * rate)


async def test_a_short_pause_embeds_each_clip_encoded_on_its_own(tmp_path: Path) -> None:
    clips = _clips(tmp_path, "wav")
    files = await _assemble_clips(tmp_path / "deck", clips, pause_s=0.1, page_renderer="pillow")
    assert files.pptx_path is not None
    for index, pptx_slide in enumerate(list(Presentation(str(files.pptx_path)).slides)[1:3]):
        blob, advance_ms = _narration_of(pptx_slide)
        assert advance_ms == round(SECONDS[index] * 1000)
        assert blob[:3] == b"ID3" or blob[0] == 0xFF


def _rms(pcm: bytes) -> float:
    """The root mean square of 16-bit mono samples."""
    values = memoryview(pcm).cast("h")
    return (sum(v * v for v in values) / max(len(values), 1)) ** 0.5


async def test_a_failed_track_keeps_each_slides_narration_in_the_pptx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_track(self: StreamingDeckAssembler) -> tuple[float, str]:
        raise ss.RenderError("the narration encoder crashed")

    monkeypatch.setattr(StreamingDeckAssembler, "_encode_pieces", broken_track)
    clips = _clips(tmp_path, "wav")
    folder = tmp_path / "deck"
    folder.mkdir()
    (folder / "deck.mp3").write_bytes(b"an earlier run's track")  # never cut from
    with pytest.raises(ss.RenderError, match=r"narration encoder crashed.*PPTX was still"):
        await _assemble_clips(folder, clips, pause_s=0.5, page_renderer="pillow")
    for index, pptx_slide in enumerate(list(Presentation(str(folder / "deck.pptx")).slides)[1:3]):
        blob, advance_ms = _narration_of(pptx_slide)
        assert advance_ms == round(SECONDS[index] * 1000)  # encoded on its own
        assert len(blob) > 1000
