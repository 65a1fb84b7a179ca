"""The run engine: checked narration clips, optional provider abilities, the error policy."""

from __future__ import annotations

import functools
import io
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import anyio
import pytest
from PIL import Image

import slidestream as ss
from slidestream._engine import RunMode
from slidestream._engine.policy import one_error
from slidestream._media import ffmpeg_exe
from slidestream._types import Stage
from slidestream.providers._protocols import Provider, SlideStream
from slidestream.testing import (
    FakeImageProvider,
    FakeScriptProvider,
    FakeStreamingScriptProvider,
)

from .media import decoded_seconds, parse_subtitles, probe
from .scripted import GatedStreamingScripts, Timeline

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.anyio

_ENCODERS = {
    "flac": ["-c:a", "flac", "-f", "flac"],
    "aac": ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
}


@functools.lru_cache
def tone(seconds: float, fmt: str) -> bytes:
    """A real ``seconds``-long 440 Hz clip encoded as ``fmt`` by imageio-ffmpeg's ffmpeg."""
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
        "-i", f"sine=frequency=440:duration={seconds}:sample_rate=24000",
        "-ac", "1", *_ENCODERS[fmt], "pipe:1",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, check=True).stdout


class ClipTTS(Provider):
    """Returns the same prepared clip for every slide, claiming ``claimed_s`` seconds."""

    name = "clip-tts"

    def __init__(self, audio: bytes, fmt: str, *, claimed_s: float) -> None:
        self.audio, self.format, self.claimed_s = audio, fmt, claimed_s

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
        return ss.SpeechClip(audio=self.audio, format=self.format, duration_s=self.claimed_s)


def clip_pipeline(tmp_path: Path, tts: ss.TTSProvider, **options: object) -> ss.StreamingPipeline:
    return ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=2, words_per_slide=8),
        image_provider=FakeImageProvider(size=(64, 36)),
        tts_provider=tts,
        output_dir=tmp_path,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("fmt", ["flac", "aac"])
async def test_flac_and_aac_narration_is_checked_and_saved_under_its_suffix(
    tmp_path: Path, fmt: str
) -> None:
    pipeline = clip_pipeline(
        tmp_path,
        ClipTTS(tone(1.5, fmt), fmt.upper(), claimed_s=9.0),
        assembler=ss.render.NullAssembler,
    )
    deck = await pipeline.run("Formats", project="deck")
    for slide in deck.slides:
        assert slide.ok, slide.errors
        assert (
            slide.audio_path == tmp_path / "deck" / "audio" / f"slide-{slide.index + 1:02d}.{fmt}"
        )
        assert slide.audio_path.read_bytes() == tone(1.5, fmt)
        # Measured, not the claimed 9 s (raw AAC decodes with its encoder delay, ~0.05-0.1 s).
        assert slide.duration_s == pytest.approx(1.5, abs=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["flac", "aac"])
async def test_flac_and_aac_narration_reaches_the_mp3_the_mp4_and_the_subtitles(
    tmp_path: Path, fmt: str
) -> None:
    deck = await clip_pipeline(tmp_path, ClipTTS(tone(1.5, fmt), fmt, claimed_s=1.5)).run(
        "Formats", project="deck"
    )
    assert all(slide.ok for slide in deck.slides)
    assert deck.audio_path is not None and deck.video_path is not None
    assert deck.subtitles_path is not None
    assert decoded_seconds(deck.audio_path) > 2 * 1.5
    assert probe(deck.video_path)["audio_codec"] == "aac"
    assert parse_subtitles(deck.subtitles_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("audio", "fmt", "message"),
    [
        (b"\x00garbage\xff" * 200, "mp3", "mp3 audio cannot be decoded"),
        (b"\x00garbage\xff" * 200, "flac", "flac audio cannot be decoded"),
        (b"RIFF....WAVE", "../../escape", "unknown audio format '../../escape'"),
        (b"", "wav", "returned no audio"),
    ],
    ids=["garbage-mp3", "garbage-flac", "unknown-format", "empty"],
)
async def test_a_clip_that_is_not_usable_audio_is_that_slides_tts_error(
    tmp_path: Path, audio: bytes, fmt: str, message: str
) -> None:
    good = ClipTTS(tone(1.0, "wav"), "wav", claimed_s=1.0)

    class BadForSlideTwo(Provider):
        name = "bad-tts"

        async def synthesize(self, text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
            if ss.current_slide_index() == 1:
                return ss.SpeechClip(audio=audio, format=fmt, duration_s=3.0)
            return await good.synthesize(text, voice=voice, language=language)

    audio_events: list[int] = []
    pipeline = clip_pipeline(tmp_path, BadForSlideTwo(), assembler=ss.render.NullAssembler)
    async with pipeline.stream("Bad clips", project="deck") as events:
        async for event in events:
            if isinstance(event, ss.AudioReady):
                audio_events.append(event.index)
    assert events.deck is not None
    first, second = events.deck.slides
    assert first.ok and first.audio_path is not None
    assert second.audio_path is None and second.duration_s == 0.0
    (error,) = second.errors
    assert (error.stage, error.provider) == (Stage.TTS, "bad-tts")
    assert message in error.message
    assert audio_events == [0]
    assert sorted(p.name for p in (tmp_path / "deck" / "audio").iterdir()) == ["slide-01.wav"]


async def test_the_measured_duration_replaces_the_providers_claim(tmp_path: Path) -> None:
    pipeline = clip_pipeline(
        tmp_path,
        ClipTTS(tone(10.0, "wav"), "wav", claimed_s=2.0),
        assembler=ss.render.NullAssembler,
    )
    claimed: list[float] = []
    async with pipeline.stream("Long clip") as events:
        async for event in events:
            if isinstance(event, ss.AudioReady):
                claimed.append(event.duration_s)
    assert events.deck is not None
    assert claimed == [pytest.approx(10.0, abs=0.01)] * 2
    assert [s.duration_s for s in events.deck.slides] == [pytest.approx(10.0, abs=0.01)] * 2


async def test_several_distinct_errors_all_reach_the_caller(tmp_path: Path) -> None:
    arrived = 0
    both = anyio.Event()

    class Misconfigured(Provider):
        name = "misconfigured-tts"

        async def synthesize(self, text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
            nonlocal arrived
            arrived += 1
            if arrived == 2:
                both.set()
            # Both slides fail together, so neither is cancelled by the other's failure.
            with anyio.CancelScope(shield=True):
                await both.wait()
            raise ss.ConfigurationError(f"slide {ss.current_slide_index()} has no voice")

    pipeline = clip_pipeline(tmp_path, Misconfigured(), assembler=ss.render.NullAssembler)
    with pytest.raises(ss.PipelineError) as caught, anyio.fail_after(30):
        await pipeline.run("Two errors", project="deck")
    error = caught.value
    assert sorted(str(e) for e in error.errors) == ["slide 0 has no voice", "slide 1 has no voice"]
    assert all(isinstance(e, ss.ConfigurationError) for e in error.errors)
    assert "2 errors" in str(error)
    assert "slide 0 has no voice" in str(error) and "slide 1 has no voice" in str(error)
    manifest = (tmp_path / "deck" / "slidestream.json").read_text(encoding="utf-8")
    assert '"status": "failed"' in manifest and "slide 1 has no voice" in manifest


def test_copies_of_one_error_are_shown_once_and_distinct_ones_together() -> None:
    same = ExceptionGroup("g", [ss.ConfigurationError("no key"), ss.ConfigurationError("no key")])
    assert isinstance(one_error(same), ss.ConfigurationError)
    assert str(one_error(same)) == "no key"
    render = ss.RenderError("video failed")
    nested = ExceptionGroup("g", [ExceptionGroup("h", [ss.ConfigurationError("no key")]), render])
    combined = one_error(nested)
    assert isinstance(combined, ss.PipelineError)
    assert [str(e) for e in combined.errors] == ["no key", "video failed"]
    assert str(combined) == "The run failed with 2 errors: (1) no key; (2) video failed"
    assert one_error(render) is render
    lone = KeyError("bug")
    assert one_error(ExceptionGroup("g", [lone])) is lone


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.parametrize("wrapped", [False, True], ids=["bare-generator", "slide-stream"])
@pytest.mark.parametrize("leave", ["at-the-end", "early"])
async def test_a_slide_stream_is_closed_however_the_run_ends(
    tmp_path: Path, wrapped: bool, leave: str
) -> None:
    timeline = Timeline()
    if leave == "early":
        timeline.hold("script", 1)  # the stream never gets past slide 1
    closed: list[str] = []

    class Scripts(GatedStreamingScripts):
        def stream_slides(  # type: ignore[override]
            self, request: ss.DeckRequest, outline: ss.Outline
        ) -> AsyncIterator[ss.SlideScript] | SlideStream:
            async def generate() -> AsyncIterator[ss.SlideScript]:
                try:
                    async for script in super(Scripts, self).stream_slides(request, outline):
                        yield script
                finally:
                    closed.append("generator")

            async def on_close() -> None:
                closed.append("stream")

            return SlideStream(generate(), on_close=on_close) if wrapped else generate()

    pipeline = ss.StreamingPipeline(
        script_provider=Scripts(timeline, slides=3),
        output_dir=tmp_path,
        assembler=ss.render.NullAssembler,
    )
    with anyio.fail_after(30):
        async with pipeline.stream("Closing") as events:
            async for event in events:
                if leave == "early" and isinstance(event, ss.SlideResult):
                    break
    assert closed == (["generator", "stream"] if wrapped else ["generator"])
    assert (events.deck is None) == (leave == "early")
    assert timeline.recorder.running == 0


async def test_timings_spans_errors_and_mode_use_the_typed_vocabularies(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=2),
        tts_provider=ClipTTS(b"not audio", "wav", claimed_s=1.0),
        output_dir=tmp_path,
        assembler=ss.render.NullAssembler,
    )
    with pytest.raises(ss.PipelineError) as caught:
        await pipeline.run("Typed")
    for slide in caught.value.slides:
        assert all(type(key) is Stage for key in slide.timings)
        assert [type(error.stage) for error in slide.errors] == [Stage]
    assert caught.value.stage is Stage.TTS
    sequential = ss.SequentialPipeline(
        script_provider=FakeStreamingScriptProvider(slides=1), output_dir=tmp_path
    )
    deck = await sequential.run("Typed ok")
    assert deck.mode is RunMode.SEQUENTIAL and deck.mode == "sequential"
    assert sequential.mode == "sequential" and pipeline.mode == "streaming"
    assert {type(span.stage) for span in deck.spans} == {Stage}
    assert {Stage.OUTLINE, Stage.SCRIPT, Stage.ASSEMBLE} <= set(deck.timings)


async def test_a_broken_image_named_by_the_script_is_that_slides_image_error(
    tmp_path: Path,
) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (32, 18), (200, 10, 10)).save(picture, "PNG")
    data = bytearray(picture.getvalue())
    data[data.index(b"IDAT") + 8] ^= 0xFF  # Pillow reports the bad checksum as SyntaxError
    broken = tmp_path / "broken.png"
    broken.write_bytes(bytes(data))

    class WithImage(FakeScriptProvider):
        async def write_slide(
            self, request: ss.DeckRequest, outline: ss.Outline, index: int
        ) -> ss.SlideScript:
            script = await super().write_slide(request, outline, index)
            return replace(script, image_path=str(broken) if index == 0 else None)

    pipeline = ss.StreamingPipeline(
        script_provider=WithImage(slides=2),
        image_provider=FakeImageProvider(size=(32, 18)),
        output_dir=tmp_path / "out",
        assembler=ss.render.NullAssembler,
    )
    deck = await pipeline.run("Broken picture")
    first, second = deck.slides
    (error,) = first.errors
    assert (error.stage, error.provider) == (Stage.IMAGES, "outline")
    assert error.message.startswith(f"cannot use image {broken}: damaged image: broken PNG")
    assert len(first.images) == 1  # the image provider filled the place
    assert second.ok


async def test_providers_made_from_names_are_closed_when_a_later_name_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slidestream import providers

    closed: list[str] = []

    class Closing(FakeScriptProvider):
        async def aclose(self) -> None:
            closed.append(self.name)

    monkeypatch.setattr("slidestream._registry._runtime", {})
    providers.register("closing-script", Closing)
    pipeline = ss.StreamingPipeline(
        script_provider="closing-script", tts_provider="no-such-voice", output_dir=tmp_path
    )
    with pytest.raises(ss.ProviderNotFoundError, match="no-such-voice"):
        await pipeline.run("Unclosed")
    assert closed == ["test-script"]
