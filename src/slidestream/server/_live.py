"""The live narrated preview: an HLS EVENT playlist that grows by one segment per slide.

:func:`live_assembler` wraps a run's deck assembler (the built-in one unless told otherwise):
every call is passed on unchanged, and beside it each slide gets a preview frame (drawn by the
renderer's :func:`~slidestream.render._frames.render_frame` as soon as its script and images
exist) and a narrated segment (the renderer's levelled narration piece,
:func:`~slidestream.render._audio.make_piece`, over the frame): MPEG-TS, H.264 and AAC.

Segments join the playlist in slide order, each as soon as it and every slide before it are
ready, so a player can start slide 1 while later slides are still being written; the
playlist ends with ``#EXT-X-ENDLIST`` when the deck is done (or failed, so players stop).
A slide whose frame or segment cannot be made ends the preview there (and is logged); the
deck itself goes on.

Sync across segments: each segment's timestamps start where the previous one ended
(``-output_ts_offset``), its length is a whole number of AAC frames, and its audio is shifted
by the encoder's 1024 priming samples and shortened by as many, so audio and video start
together in every segment and no segment's audio overlaps the next.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from .._files import atomic_write_text
from .._media import aac_args
from .._models import SlideResult
from ..render import AssemblerFactory, AssemblyContext, DeckAssembler, DeckFiles
from ..render import default_assembler as _default_assembler
from ..render._assembler import SupportsPrepareSlide
from ..render._audio import AudioPiece, make_piece
from ..render._ffmpeg import FfmpegPipe, atomic_output
from ..render._frames import render_frame
from ..render._look import Look
from ..render._pptx import open_style

__all__ = [
    "LIVE_DIR",
    "PLAYLIST",
    "LiveAssembler",
    "Segment",
    "end_playlist",
    "live_assembler",
    "remove_preview",
]

LIVE_DIR = "live"
PLAYLIST = f"{LIVE_DIR}/live.m3u8"
FRAME_SIZE = (1280, 720)
AUDIO_RATE = 48000
AAC_FRAME = 1024
"""Samples per AAC frame, and the encoder's priming delay."""
FPS = 2
ENDLIST = "#EXT-X-ENDLIST"
START_AT_FIRST_SLIDE = "#EXT-X-START:TIME-OFFSET=0"
"""Players start a playlist still growing at its live edge unless told otherwise: a deck's
preview starts at slide 1 (hls.js and Safari honour this; ffmpeg with ``-prefer_x_start 1``)."""

logger = logging.getLogger("slidestream.server")

OnSegment = Callable[["Segment"], Any]


@dataclass(frozen=True)
class Segment:
    """A slide's published segment: names relative to the project folder."""

    index: int
    frame: str
    segment: str
    duration_s: float


def segment_duration(piece: AudioPiece) -> float:
    """The piece's length rounded up to a whole number of AAC frames (seconds)."""
    frames = math.ceil(piece.duration_s * AUDIO_RATE / AAC_FRAME)
    return frames * AAC_FRAME / AUDIO_RATE


def playlist_text(segments: Sequence[Segment], *, ended: bool) -> str:
    """The EVENT playlist listing ``segments`` (URIs relative to ``live.m3u8``'s URL)."""
    target = max([2, *(math.ceil(s.duration_s) for s in segments)])
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        START_AT_FIRST_SLIDE,
    ]
    for segment in segments:
        lines += [f"#EXTINF:{segment.duration_s:.6f},", f"files/{segment.segment}"]
    if ended:
        lines.append(ENDLIST)
    return "\n".join(lines) + "\n"


def end_playlist(project_dir: Path) -> None:
    """End the project's playlist with ``#EXT-X-ENDLIST`` if it is there and not ended yet.

    A run that stopped without closing its preview (the process was killed) leaves a playlist
    that players would poll for ever; once its job is marked finished, nothing will follow.
    """
    path = project_dir / PLAYLIST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    if ENDLIST not in text.splitlines():
        atomic_write_text(path, text.rstrip("\n") + f"\n{ENDLIST}\n")


def remove_preview(project_dir: Path) -> None:
    """Remove the project's preview folder, so a new deck there starts with no segments."""
    shutil.rmtree(project_dir / LIVE_DIR, ignore_errors=True)


def live_assembler(
    on_segment: OnSegment | None = None, inner: AssemblerFactory | None = None
) -> AssemblerFactory:
    """An assembler factory: ``inner`` (default: the built-in one) plus the live preview.

    ``on_segment`` is called with each :class:`Segment` once it is in the playlist.
    """
    wrapped = inner or _default_assembler

    def factory(context: AssemblyContext) -> AbstractAsyncContextManager[DeckAssembler]:
        return LiveAssembler(context, wrapped, on_segment)

    return factory


class LiveAssembler:
    """Passes every call to the wrapped assembler and builds the live preview beside it."""

    def __init__(
        self,
        context: AssemblyContext,
        inner: AssemblerFactory,
        on_segment: OnSegment | None,
    ) -> None:
        self.context = context
        self.count = context.slide_count
        self.folder = context.project_dir / LIVE_DIR
        self._inner_factory = inner
        self._inner_context: AbstractAsyncContextManager[DeckAssembler] | None = None
        self._inner: DeckAssembler | None = None
        self._on_segment = on_segment
        self._task_group: TaskGroup | None = None
        self._frames: dict[int, Path] = {}
        self._pieces: dict[int, AudioPiece] = {}
        self._encoded: dict[int, Path] = {}
        self._started: set[int] = set()
        self._frames_started: set[int] = set()
        self.published: list[Segment] = []

    async def __aenter__(self) -> LiveAssembler:
        # Made in a worker thread: the built-in assembler sets up its PPTX when created, and
        # ten decks doing that at once would stall every other job's events.
        inner = await anyio.to_thread.run_sync(self._inner_factory, self.context)
        self._inner = await inner.__aenter__()
        self._inner_context = inner
        # The preview's frames are planned as the deck's pages are (the template's look).
        self._look: Look = await anyio.to_thread.run_sync(lambda: open_style(self.context).look)
        self._frame_ready = [anyio.Event() for _ in range(self.count)]
        self._piece_ready = [anyio.Event() for _ in range(self.count)]
        self._encoded_ready = [anyio.Event() for _ in range(self.count)]
        self._encoder = anyio.CapacityLimiter(2)
        self._all_published = anyio.Event()
        try:
            await anyio.to_thread.run_sync(self._write_playlist, False)
            task_group = anyio.create_task_group()
            await task_group.__aenter__()
        except BaseException as error:
            await inner.__aexit__(type(error), error, error.__traceback__)
            raise
        self._task_group = task_group
        task_group.start_soon(self._publish_in_order)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        try:
            if task_group is not None:
                task_group.cancel_scope.cancel()
                await task_group.__aexit__(None, None, None)
        finally:
            if exc is not None:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._write_playlist, True)
            assert self._inner_context is not None
            handled = await self._inner_context.__aexit__(exc_type, exc, tb)
        return handled

    # -- the wrapped assembler's calls ---------------------------------------------------------

    async def prepare_slide(self, slide: SlideResult) -> None:
        """Start drawing the slide's preview frame; pass the call on."""
        assert self._inner is not None
        self._start_frame(slide)
        if isinstance(self._inner, SupportsPrepareSlide):
            await self._inner.prepare_slide(slide)

    async def add_slide(self, slide: SlideResult) -> None:
        """Pass the slide on, then start its narration piece and segment."""
        assert self._inner is not None
        await self._inner.add_slide(slide)
        if self._task_group is None or not 0 <= slide.index < self.count:
            return
        if slide.index in self._started:
            return
        self._started.add(slide.index)
        self._start_frame(slide)
        self._task_group.start_soon(self._piece, slide)
        self._task_group.start_soon(self._encode, slide.index)

    async def finish(self, slides: Sequence[SlideResult]) -> DeckFiles:
        """Finish the wrapped assembler's files and the playlist (then ``#EXT-X-ENDLIST``)."""
        assert self._inner is not None
        for slide in slides:
            await self.add_slide(slide)
        files = await self._inner.finish(slides)
        await self._all_published.wait()
        await anyio.to_thread.run_sync(self._write_playlist, True)
        return files

    # -- the preview ---------------------------------------------------------------------------

    def _start_frame(self, slide: SlideResult) -> None:
        index = slide.index
        if self._task_group is None or index in self._frames_started or not 0 <= index < self.count:
            return
        self._frames_started.add(index)
        self._task_group.start_soon(self._frame, slide)

    async def _frame(self, slide: SlideResult) -> None:
        path, look, count = self.folder / f"slide-{slide.index + 1:03d}.png", self._look, self.count
        try:
            self._frames[slide.index] = await anyio.to_thread.run_sync(
                lambda: render_frame(slide, look=look, count=count, path=path, size=FRAME_SIZE)
            )
        except Exception as error:
            _preview_failed("drawing the preview frame", slide.index, error)
        finally:
            self._frame_ready[slide.index].set()

    async def _piece(self, slide: SlideResult) -> None:
        last = slide.index == self.count - 1
        pause = 0.0 if last else self.context.options.pause_s
        clip = slide.audio_path
        try:
            self._pieces[slide.index] = await anyio.to_thread.run_sync(
                lambda: make_piece(clip if clip is not None and clip.is_file() else None,
                                   pause_s=pause)
            )  # fmt: skip
        except Exception:
            self._pieces[slide.index] = await anyio.to_thread.run_sync(
                lambda: make_piece(None, pause_s=pause)
            )
        finally:
            self._piece_ready[slide.index].set()

    async def _encode(self, index: int) -> None:
        try:
            for earlier in range(index + 1):
                await self._piece_ready[earlier].wait()
            await self._frame_ready[index].wait()
            frame, piece = self._frames.get(index), self._pieces.get(index)
            if frame is None or piece is None:
                return
            offset = sum(segment_duration(self._pieces[i]) for i in range(index))
            out = self.folder / f"slide-{index + 1:03d}.ts"
            async with self._encoder:
                await _encode_segment(frame, piece, out, offset=offset, index=index)
            self._encoded[index] = out
        except Exception as error:
            _preview_failed("encoding the preview segment", index, error)
        finally:
            self._encoded_ready[index].set()

    async def _publish_in_order(self) -> None:
        try:
            for index in range(self.count):
                await self._encoded_ready[index].wait()
                if index not in self._encoded:
                    break  # a gap would break the timeline: the preview stops here
                segment = Segment(
                    index=index,
                    frame=f"{LIVE_DIR}/{self._frames[index].name}",
                    segment=f"{LIVE_DIR}/{self._encoded[index].name}",
                    duration_s=segment_duration(self._pieces[index]),
                )
                self.published.append(segment)
                await anyio.to_thread.run_sync(self._write_playlist, False)
                if self._on_segment is not None:
                    await self._on_segment(segment)
        finally:
            self._all_published.set()

    def _write_playlist(self, ended: bool) -> None:
        atomic_write_text(
            self.context.project_dir / PLAYLIST, playlist_text(self.published, ended=ended)
        )


def _preview_failed(what: str, index: int, error: Exception) -> None:
    """Log a slide's preview that could not be made: the preview stops there, the deck goes on."""
    logger.warning("The live preview stops at slide %d: %s failed: %s", index + 1, what, error)


async def _encode_segment(
    frame: Path, piece: AudioPiece, out: Path, *, offset: float, index: int
) -> None:
    duration = segment_duration(piece)
    samples = round(duration * AUDIO_RATE) - AAC_FRAME
    audio = (
        f"[1:a]aresample={AUDIO_RATE},apad=whole_len={samples},atrim=end_sample={samples},"
        f"asetpts=PTS+{AAC_FRAME}/{AUDIO_RATE}/TB[a]"
    )
    with atomic_output(out) as tmp:
        args: list[str | Path] = [
            "-framerate", str(FPS), "-loop", "1", "-t", f"{duration:.6f}", "-i", frame,
            "-f", "s16le", "-ar", "24000", "-ac", "1", "-i", "pipe:0",
            "-filter_complex", audio, "-map", "0:v", "-map", "[a]",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-crf", "23",
            "-pix_fmt", "yuv420p", "-g", str(FPS), "-bf", "0",
            *aac_args("64k"), "-ac", "1",
            "-output_ts_offset", f"{offset:.6f}", "-mpegts_flags", "+initial_discontinuity",
            "-f", "mpegts", tmp,
        ]  # fmt: skip
        async with FfmpegPipe(args, what=f"encoding the preview of slide {index + 1}") as pipe:
            await pipe.send(piece.pcm)
