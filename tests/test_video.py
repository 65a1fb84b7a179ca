"""The MP4: codecs, size, audio/video alignment, burned subtitles and transitions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import imageio_ffmpeg
import numpy as np
import pytest

from slidestream import DeckRequest, SlideResult, SlideScript
from slidestream.render import AssemblyContext, DeckFiles, RenderOptions, StreamingDeckAssembler
from slidestream.render._audio import MIN_PIECE_S
from slidestream.testing import FakeTTSProvider

from .media import decoded_seconds, parse_subtitles, probe, stream_end, video_packet_times

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

NARRATION = ["Hello there. This is slide one.", "Second slide, short.", "The end."]


async def make_slides(folder: Path, *, silent: frozenset[int] = frozenset()) -> list[SlideResult]:
    tts = FakeTTSProvider(tone=True, words_per_second=4.0)
    slides = []
    for index, text in enumerate(NARRATION):
        clip = await tts.synthesize(text, voice=None, language="en")
        audio = None
        if index not in silent:
            audio = folder / f"clip-{index}.wav"
            audio.write_bytes(clip.audio)
        script = SlideScript(index=index, title=f"Slide {index + 1}", bullets=["A point"])
        slides.append(
            SlideResult(
                index=index,
                script=SlideScript(**{**vars(script), "narration": text}),
                audio_path=audio,
                duration_s=clip.duration_s if audio else 0.0,
                words=clip.words if audio else [],
            )
        )
    return slides


async def assemble(folder: Path, slides: list[SlideResult], **options: object) -> DeckFiles:
    context = AssemblyContext(
        request=DeckRequest(topic="Video", project="video"),
        title="Video",
        project_dir=folder / "video",
        options=RenderOptions(pptx=False, pdf=False, **options),  # type: ignore[arg-type]
        slide_count=len(slides),
    )
    async with StreamingDeckAssembler(context) as assembler:
        for slide in reversed(slides):  # completion order differs from slide order
            await assembler.add_slide(slide)
        return await assembler.finish(slides)


def frame_at(path: Path, seconds: float) -> np.ndarray:
    width, height = probe(path)["size"]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-ss", f"{seconds:.3f}"]
    command += ["-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    data = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)


def check_mp4(files: DeckFiles) -> Path:
    video = files.video_path
    assert video is not None
    assert video.is_file()
    meta = probe(video)
    assert meta["codec"] == "h264"
    assert meta["audio_codec"] == "aac"
    assert meta["size"] == (1920, 1080)
    assert abs(stream_end(video, "v") - stream_end(video, "a")) < 0.1
    assert files.audio_path is not None
    assert abs(decoded_seconds(files.audio_path) - stream_end(video, "a")) < 0.1
    return video


async def test_mp4_holds_each_slide_for_its_narration(tmp_path: Path) -> None:
    slides = await make_slides(tmp_path, silent=frozenset({1}))
    files = await assemble(tmp_path, slides, pause_s=0.5)
    video = check_mp4(files)
    # Slide changes land on the narration boundaries (slide 2 has no audio: 3 s of silence).
    first = slides[0].duration_s + 0.5
    second = first + 3.0 + 0.5
    times = video_packet_times(video)
    assert min(abs(t - first) for t in times) < 0.01
    assert min(abs(t - second) for t in times) < 0.01
    last = max(slides[2].duration_s, MIN_PIECE_S)  # very short clips are held a little longer
    assert stream_end(video, "v") == pytest.approx(second + last, abs=0.05)
    cues = parse_subtitles(files.files["vtt"].read_text())
    assert cues[0].start_s == 0.0
    assert all(not first <= cue.start_s < second for cue in cues)  # the silent slide
    assert cues[-1].end_s <= stream_end(video, "a") + 0.001
    assert not (tmp_path / "video" / "build").exists()


async def test_burned_subtitles_are_drawn(tmp_path: Path) -> None:
    slides = await make_slides(tmp_path)
    plain = check_mp4(await assemble(tmp_path / "plain", slides))
    burned = check_mp4(await assemble(tmp_path / "burned", slides, burn_subtitles=True))
    assert stream_end(burned, "v") == pytest.approx(stream_end(plain, "v"), abs=0.05)
    with_text, without = frame_at(burned, 0.5), frame_at(plain, 0.5)
    bottom = slice(800, 1080)
    assert np.abs(with_text[bottom].astype(int) - without[bottom].astype(int)).mean() > 5


async def test_crossfade_transition(tmp_path: Path) -> None:
    slides = (await make_slides(tmp_path))[:2]
    files = await assemble(tmp_path, slides, transitions="crossfade", pause_s=0.2)
    video = check_mp4(files)
    boundary = slides[0].duration_s + 0.2
    # Mid-fade the picture is a mix of both slides' frames.
    before, middle, after = (frame_at(video, t) for t in (0.5, boundary + 0.25, boundary + 0.8))
    # Compare only where the two slides' frames differ (their titles and page numbers).
    differs = np.abs(before.astype(int) - after.astype(int)).sum(axis=2) > 60
    assert differs.sum() > 500

    def diff(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a[differs].astype(int) - b[differs].astype(int)).mean())

    change = diff(before, after)
    assert change > 20
    assert 0.2 * change < diff(middle, after) < 0.8 * change
    assert 0.2 * change < diff(middle, before) < 0.8 * change


async def test_cancelling_mid_encode_leaves_no_process_or_file(tmp_path: Path) -> None:
    from .media import ffmpeg_children

    slides = await make_slides(tmp_path)
    with anyio.move_on_after(0.6):
        await assemble(tmp_path, slides, transitions="zoom")
    assert ffmpeg_children() == []
    leftovers = [p for p in (tmp_path / "video").rglob("*") if p.is_file()]
    assert not [p for p in leftovers if p.suffix == ".mp4"]
    assert not (tmp_path / "video" / "build").exists()
