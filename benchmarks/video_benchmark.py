"""How fast the MP4 is made: the naive moviepy recipe against slidestream's assembler.

A 10-slide deck with about five minutes of narration (``--quick``: 2 short slides):

(a) naive: an ImageClip per slide frame with its AudioFileClip, ``concatenate_videoclips``,
    ``write_videofile`` at 24 fps;
(b) ours: the streaming deck assembler given every slide at once, then ``finish()``;
tail: the assembler given slides one by one as a pipeline would (one every ``--interval``
    seconds), timed from the last slide's arrival to the finished MP4.

Run: ``python benchmarks/video_benchmark.py [--quick] [--slides N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import anyio

from slidestream import DeckRequest, SlideResult, SlideScript
from slidestream.render import AssemblyContext, RenderOptions, StreamingDeckAssembler
from slidestream.render._frames import render_frame
from slidestream.render._look import BuiltinLook
from slidestream.testing import FakeTTSProvider

WORDS_PER_SECOND = 2.5


async def make_slides(folder: Path, count: int, seconds: float) -> list[SlideResult]:
    tts = FakeTTSProvider(tone=True, words_per_second=WORDS_PER_SECOND)
    slides = []
    words = max(2, round(seconds * WORDS_PER_SECOND))
    for index in range(count):
        text = " ".join(f"word{n}." if n % 12 == 11 else f"word{n}" for n in range(words))
        clip = await tts.synthesize(text, voice=None, language="en")
        audio = folder / f"slide-{index + 1:02d}.wav"
        audio.write_bytes(clip.audio)
        script = SlideScript(
            index=index,
            title=f"Slide {index + 1}: a benchmark",
            bullets=["First point", "Second point", "Third point"],
            narration=text,
        )
        slides.append(
            SlideResult(
                index=index,
                script=script,
                audio_path=audio,
                duration_s=clip.duration_s,
                words=clip.words,
            )
        )
    return slides


def context(folder: Path, count: int, project: str) -> AssemblyContext:
    request = DeckRequest(topic="Benchmark", project=project)
    return AssemblyContext(
        request=request,
        title="Benchmark",
        project_dir=folder / project,
        options=RenderOptions(pdf=False),  # the PPTX, audio, subtitles and video, as before
        slide_count=count,
    )


def naive(folder: Path, slides: list[SlideResult]) -> float:
    from moviepy import AudioFileClip, ImageClip, concatenate_videoclips

    started = time.perf_counter()
    ctx = context(folder, len(slides), "naive")
    clips = []
    for slide in slides:
        look = BuiltinLook(ctx.title)
        frame = render_frame(
            slide, look=look, count=ctx.slide_count, path=folder / f"naive-{slide.index}.png"
        )
        assert slide.audio_path is not None
        audio = AudioFileClip(str(slide.audio_path))
        clips.append(ImageClip(str(frame)).with_duration(audio.duration).with_audio(audio))
    video = concatenate_videoclips(clips)
    video.write_videofile(
        str(folder / "naive.mp4"),
        fps=24,
        logger=None,
        temp_audiofile=str(folder / "naive-audio.mp3"),
    )
    video.close()
    return time.perf_counter() - started


async def ours(folder: Path, slides: list[SlideResult]) -> float:
    started = time.perf_counter()
    async with StreamingDeckAssembler(context(folder, len(slides), "ours")) as assembler:
        for slide in slides:
            await assembler.add_slide(slide)
        files = await assembler.finish(slides)
    assert files.video_path is not None
    return time.perf_counter() - started


async def tail(folder: Path, slides: list[SlideResult], interval: float) -> float:
    async with StreamingDeckAssembler(context(folder, len(slides), "tail")) as assembler:
        for slide in slides:
            await anyio.sleep(interval)
            last = time.perf_counter()
            await assembler.add_slide(slide)
        files = await assembler.finish(slides)
        done = time.perf_counter()
    assert files.video_path is not None
    return done - last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 slides of 2 s (for tests)")
    parser.add_argument("--slides", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0, help="narration per slide")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between slides")
    parser.add_argument("--skip-naive", action="store_true", help="time only our path")
    args = parser.parse_args()
    if args.quick:
        args.slides, args.seconds, args.interval = 2, 2.0, 0.3
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        slides = anyio.run(make_slides, folder, args.slides, args.seconds)
        narration = sum(slide.duration_s for slide in slides)
        naive_s = None if args.skip_naive else naive(folder, slides)
        ours_s = anyio.run(ours, folder, slides)
        tail_s = anyio.run(tail, folder, slides, args.interval)
    print(f"deck: {args.slides} slides, {narration:.0f} s of narration, 1920x1080")
    print(f"{'path':<34}{'seconds':>10}")
    if naive_s is not None:
        print(f"{'(a) naive moviepy, 24 fps':<34}{naive_s:>10.2f}")
    print(f"{'(b) slidestream assembler':<34}{ours_s:>10.2f}")
    if naive_s is not None:
        print(f"{'ratio (a)/(b)':<34}{naive_s / ours_s:>10.1f}")
    print(f"{'tail: last slide -> MP4 done':<34}{tail_s:>10.2f}")


if __name__ == "__main__":
    main()
