"""The MP4: one H.264 segment per slide, joined by stream copy with the narration track.

Each slide's segment holds its frame for exactly the slide's share of the narration track:
the frame is encoded once, as a key frame, and repeated once as a closing frame placed so
that the segment ends on the narration boundary to the sample (timestamps in 1/48000 s, the
audio's sample clock). Frames in between would show the same picture, and each costs x264 a
full pass over it. The final join concatenates the segments by stream copy (the
concat demuxer, with each segment's exact duration) and adds the narration, encoded once as
a continuous AAC stream: AAC segments joined by stream copy would each bring their own
1024 priming samples (about +30 ms per slide, measured), which adds up past the 0.1 s
audio/video tolerance within a few slides.

``burn_subtitles`` draws each cue onto a copy of the frame; ``transitions`` ("crossfade",
"zoom") renders the slide's frames through moviepy and pipes them to the same encoder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import anyio
from PIL import Image, ImageDraw

from .._files import atomic_write_text
from ._ffmpeg import FfmpegPipe, atomic_output, run_ffmpeg
from ._fonts import load_font
from ._subtitles import Cue, wrap

__all__ = [
    "SIZE",
    "TICKS",
    "caption_frame",
    "encode_burned_segment",
    "encode_motion_segment",
    "encode_still_segment",
    "join_segments",
]

SIZE = (1920, 1080)
"""The video's frame size."""
TICKS = 48000
"""Timestamps are counted in 1/48000 s, a multiple of the narration's sample clock."""
CLOSING_FRAME_S = 1
"""How long a still segment's closing frame lasts (the opening frame lasts the rest)."""
MOTION_FPS = 24
"""Frames per second of slides with transitions."""
TRANSITION_S = 0.6

_ENCODE = [
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-crf", "20",
    "-pix_fmt", "yuv420p", "-fps_mode", "passthrough", "-enc_time_base", f"1/{TICKS}",
    "-video_track_timescale", str(TICKS), "-an",
]  # fmt: skip


def _quote(path: Path) -> str:
    return "'" + str(path.resolve()).replace("'", "'\\''") + "'"


async def encode_still_segment(frame: Path, out: Path, duration_s: float, *, what: str) -> Path:
    """Encode ``frame`` held for ``duration_s`` seconds as an H.264 segment at ``out``.

    Two frames: the picture at 0, and again at ``duration_s - CLOSING_FRAME_S`` (a segment
    shorter than that is the one frame).
    """
    step = TICKS * CLOSING_FRAME_S
    last = round(duration_s * TICKS) - step
    count = 2 if last > 0 else 1
    video_filter = (
        f"format=yuv420p,tpad=stop_mode=clone:stop={count - 1},settb=1/{TICKS},"
        f"setpts='if(eq(N,1),{max(last, 0)},0)'"
    )
    with atomic_output(out) as tmp:
        await run_ffmpeg(
            ["-framerate", f"1/{CLOSING_FRAME_S}", "-i", frame, "-vf", video_filter,
             "-frames:v", str(count), *_ENCODE, tmp],
            what=what,
        )  # fmt: skip
    return out


def caption_frame(frame: Path, text: str, path: Path) -> Path:
    """Draw ``text`` as a subtitle onto a copy of ``frame`` and save it as ``path``."""
    image = Image.open(frame).convert("RGB")
    width, height = image.size
    scale = height / 1080
    font = load_font(round(46 * scale), bold=True)
    lines = wrap(text)
    line_height = round(60 * scale)
    box_height = line_height * len(lines) + round(30 * scale)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    top = height - box_height - round(50 * scale)
    draw.rectangle([0, top, width, top + box_height], fill=(0, 0, 0, 170))
    for n, line in enumerate(lines):
        y = top + round(15 * scale) + n * line_height
        draw.text((width // 2, y), line, font=font, fill=(255, 255, 255), anchor="ma")
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    image.save(path, format="PNG", compress_level=1)
    return path


async def encode_burned_segment(
    frame: Path,
    out: Path,
    duration_s: float,
    cues: Sequence[Cue],
    *,
    work_dir: Path,
    what: str,
) -> Path:
    """Like :func:`encode_still_segment`, with ``cues`` (slide-relative times) drawn in."""
    await anyio.to_thread.run_sync(lambda: work_dir.mkdir(parents=True, exist_ok=True))
    events: list[tuple[float, Path]] = [(0.0, frame)]
    for n, cue in enumerate(cues):
        start, end = min(cue.start_s, duration_s), min(cue.end_s, duration_s)
        if end <= start:
            continue
        image = await anyio.to_thread.run_sync(
            caption_frame, frame, cue.text, work_dir / f"{out.stem}-cue{n:03d}.png"
        )
        events += [(start, image), (end, frame)]
    tail = 1.0 / 25  # the image demuxer's frame length: the last frame lasts that long
    end_at = max(duration_s - tail, 0.0)
    entries: list[tuple[Path, float]] = []
    for n, (at, image) in enumerate(events):
        until = min(events[n + 1][0] if n + 1 < len(events) else end_at, end_at)
        if until > min(at, end_at):
            entries.append((image, until - min(at, end_at)))
    entries.append((entries[-1][0] if entries else frame, tail))
    lines = [f"file {_quote(image)}\nduration {length:.6f}\n" for image, length in entries]
    listing = work_dir / f"{out.stem}.txt"
    await anyio.to_thread.run_sync(atomic_write_text, listing, "".join(lines))
    with atomic_output(out) as tmp:
        await run_ffmpeg(
            ["-f", "concat", "-safe", "0", "-i", listing,
             "-vf", f"format=yuv420p,settb=1/{TICKS}", *_ENCODE, tmp],
            what=what,
        )  # fmt: skip
    return out


def _motion_clip(
    frame: Path, previous: Path | None, mode: Literal["crossfade", "zoom"], duration_s: float
) -> Any:
    from moviepy import CompositeVideoClip, ImageClip, vfx

    current = ImageClip(str(frame)).with_duration(duration_s)
    if mode == "zoom":
        zoomed = current.resized(lambda t: 1.0 + 0.06 * t / duration_s).with_position("center")
        return CompositeVideoClip([zoomed], size=SIZE).with_duration(duration_s)
    if previous is None:
        return current
    fade = min(TRANSITION_S, duration_s / 2)
    before = ImageClip(str(previous)).with_duration(duration_s)
    after = current.with_effects([vfx.CrossFadeIn(fade)])
    return CompositeVideoClip([before, after], size=SIZE).with_duration(duration_s)


async def encode_motion_segment(
    frame: Path,
    out: Path,
    duration_s: float,
    *,
    mode: Literal["crossfade", "zoom"],
    previous: Path | None,
    what: str,
) -> Path:
    """Render the slide through moviepy (``mode`` transition) into an H.264 segment."""
    clip = await anyio.to_thread.run_sync(_motion_clip, frame, previous, mode, duration_s)
    count = max(1, round(duration_s * MOTION_FPS))
    still_after = TRANSITION_S if mode == "crossfade" else math.inf
    held: bytes | None = None

    def render(t: float) -> bytes:
        data = clip.get_frame(t)
        rgb = Image.fromarray(data.astype("uint8")).convert("RGB")
        if rgb.size != SIZE:
            rgb = rgb.resize(SIZE)
        return rgb.tobytes()

    try:
        with atomic_output(out) as tmp:
            async with FfmpegPipe(
                ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{SIZE[0]}x{SIZE[1]}",
                 "-framerate", str(MOTION_FPS), "-i", "pipe:0",
                 "-vf", f"format=yuv420p,settb=1/{TICKS}", *_ENCODE, tmp],
                what=what,
            ) as pipe:  # fmt: skip
                for n in range(count):
                    t = n / MOTION_FPS
                    if held is None or t < still_after:
                        data = await anyio.to_thread.run_sync(render, t)
                        if t >= still_after:
                            held = data
                    else:
                        data = held
                    await pipe.send(data)
    finally:
        clip.close()
    return out


async def join_segments(
    segments: Sequence[tuple[Path, float]], audio: Path, out: Path, *, work_dir: Path
) -> Path:
    """Join the per-slide segments by stream copy and add the narration, atomically.

    ``segments`` are ``(path, duration in seconds)`` in slide order; the durations place each
    segment exactly where its narration starts.
    """
    listing = work_dir / "segments.txt"
    text = "".join(f"file {_quote(path)}\nduration {seconds:.6f}\n" for path, seconds in segments)
    await anyio.to_thread.run_sync(atomic_write_text, listing, text)
    with atomic_output(out) as tmp:
        await run_ffmpeg(
            ["-f", "concat", "-safe", "0", "-i", listing, "-i", audio,
             "-map", "0:v", "-map", "1:a", "-c", "copy", "-video_track_timescale", str(TICKS),
             "-movflags", "+faststart", tmp],
            what="joining the video segments",
        )  # fmt: skip
    return out
