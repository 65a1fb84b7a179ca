"""The built-in deck assembler: every file a run keeps, built while slides still arrive.

When a slide completes (in any order) its share of the work starts in the background at
once: its narration piece (decoded, levelled, with the pause that follows it), its frame, its
H.264 segment, its page in the PPTX. The narration track is encoded continuously (AAC for the
video and MP3 for the user, one ffmpeg process fed in slide order), so when the last slide
arrives little is left: that slide's own share, then cheap joins done concurrently (segments
joined by stream copy, subtitles written, PPTX saved).

Files, in the project folder: ``<project>.pptx``, ``.mp3``, ``.srt``, ``.vtt``, ``.mp4``;
intermediates live in ``build/`` and are removed at the end.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import anyio
from anyio.abc import TaskGroup

from .._exceptions import RenderError, SlidestreamError
from .._files import atomic_write_text
from .._models import SlideResult
from ._assembler import AssemblyContext, DeckFiles
from ._audio import SAMPLE_RATE, AudioPiece, make_piece, setup_pydub
from ._ffmpeg import FfmpegPipe, atomic_output
from ._frames import render_frame
from ._pptx import PptxDeckBuilder
from ._subtitles import Cue, deck_cues, format_srt, format_vtt, slide_cues
from ._video import (
    encode_burned_segment,
    encode_motion_segment,
    encode_still_segment,
    join_segments,
)

__all__ = ["StreamingDeckAssembler"]

BUILD_DIR = "build"
AUDIO_BITRATE = "64k"


class StreamingDeckAssembler:
    """Builds the PPTX, narration MP3, SRT/VTT subtitles and MP4 as slides complete.

    An async context manager owning a task group for the background work; at most
    ``RenderOptions.video_workers`` video segments are encoded at a time. Leaving the
    context early cancels the work, kills any ffmpeg it started and removes ``build/``.
    """

    def __init__(self, context: AssemblyContext) -> None:
        self.context = context
        self.options = context.options
        project_dir, name = context.project_dir, context.request.project
        self.paths = {kind: project_dir / f"{name}.{kind}" for kind in _KINDS}
        self.build_dir = project_dir / BUILD_DIR
        self.count = context.slide_count
        self.received: list[int] = []
        """Slide indexes in the order they were handed over."""
        self._media = self.options.audio or self.options.video or self.options.subtitles
        self._pptx = PptxDeckBuilder(context) if self.options.pptx else None
        self._slides: dict[int, SlideResult] = {}
        self._pieces: dict[int, AudioPiece] = {}
        self._cues: dict[int, list[Cue]] = {}
        self._frames: dict[int, Path] = {}
        self._segments: dict[int, Path] = {}
        self._frames_started: set[int] = set()
        self._errors: list[str] = []
        self._track_started = False
        self._task_group: TaskGroup | None = None

    async def __aenter__(self) -> StreamingDeckAssembler:
        setup_pydub()
        self._limiter = anyio.CapacityLimiter(self.options.video_workers)
        self._pptx_lock = anyio.Lock()
        self._done = [anyio.Event() for _ in range(self.count)]
        self._piece_ready = [anyio.Event() for _ in range(self.count)]
        self._frame_ready = [anyio.Event() for _ in range(self.count)]
        self._track_done = anyio.Event()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return
        if exc is not None:
            task_group.cancel_scope.cancel()
        try:
            await task_group.__aexit__(None, None, None)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._remove_build_dir)

    # -- per slide, in the background --------------------------------------------------------

    async def add_slide(self, slide: SlideResult) -> None:
        """Take a completed slide (any order) and start its work in the background."""
        if self._task_group is None:
            raise RuntimeError("Use the assembler as an async context manager.")
        if not 0 <= slide.index < self.count or slide.index in self._slides:
            return
        self._slides[slide.index] = slide
        self.received.append(slide.index)
        self._task_group.start_soon(self._slide_work, slide)

    async def prepare_slide(self, slide: SlideResult) -> None:
        """Start drawing a slide's frame as soon as its script and images exist.

        The pipeline calls this before the slide's narration is done, so the frame is
        usually ready by the time :meth:`add_slide` needs it for the video segment.
        """
        if self._task_group is None:
            raise RuntimeError("Use the assembler as an async context manager.")
        if self.options.video and 0 <= slide.index < self.count:
            self._start_frame(slide, self._task_group)

    def _start_frame(self, slide: SlideResult, task_group: TaskGroup) -> None:
        if slide.index not in self._frames_started:
            self._frames_started.add(slide.index)
            task_group.start_soon(self._make_frame, slide)

    async def _slide_work(self, slide: SlideResult) -> None:
        index = slide.index
        try:
            async with anyio.create_task_group() as task_group:
                if self._pptx is not None:
                    task_group.start_soon(self._add_to_pptx, slide)
                if self._media:
                    task_group.start_soon(self._make_piece, slide)
                if self.options.video:
                    self._start_frame(slide, task_group)
                    # Waits for the piece and the frame, not for the PPTX page.
                    task_group.start_soon(self._make_segment_or_fail, slide)
        except Exception as error:
            self._fail(f"slide {index + 1}", error)
        finally:
            self._piece_ready[index].set()
            self._frame_ready[index].set()
            self._done[index].set()

    def _fail(self, what: str, error: Exception) -> None:
        self._errors.append(f"{what}: {error}")

    async def _add_to_pptx(self, slide: SlideResult) -> None:
        assert self._pptx is not None
        async with self._pptx_lock:
            await anyio.to_thread.run_sync(self._pptx.add_slide, slide)

    async def _make_piece(self, slide: SlideResult) -> None:
        index = slide.index
        pause = self.options.pause_s if index < self.count - 1 else 0.0
        clip = slide.audio_path
        try:
            try:
                piece = await anyio.to_thread.run_sync(_piece, clip, pause)
            except SlidestreamError:
                piece = await anyio.to_thread.run_sync(_piece, None, pause)
            self._pieces[index] = piece
            if piece.speech_s > 0:
                narration = slide.script.narration
                self._cues[index] = slide_cues(slide.words, narration, piece.speech_s)
                if not self._track_started and (self.options.audio or self.options.video):
                    self._track_started = True
                    assert self._task_group is not None
                    self._task_group.start_soon(self._encode_track)
        finally:
            self._piece_ready[index].set()

    async def _make_frame(self, slide: SlideResult) -> None:
        path = self.build_dir / "frames" / f"slide-{slide.index + 1:03d}.png"
        try:
            self._frames[slide.index] = await anyio.to_thread.run_sync(
                lambda: render_frame(slide, context=self.context, path=path)
            )
        finally:
            self._frame_ready[slide.index].set()

    async def _make_segment_or_fail(self, slide: SlideResult) -> None:
        # A failed video must not cancel the slide's PPTX page running beside it.
        try:
            await self._make_segment(slide)
        except Exception as error:
            self._fail(f"slide {slide.index + 1}", error)

    async def _make_segment(self, slide: SlideResult) -> None:
        index = slide.index
        await self._piece_ready[index].wait()
        await self._frame_ready[index].wait()
        frame, piece = self._frames.get(index), self._pieces.get(index)
        if frame is None or piece is None:
            return
        previous = None
        if self.options.transitions == "crossfade" and index > 0:
            await self._frame_ready[index - 1].wait()
            previous = self._frames.get(index - 1)
        out = self.build_dir / "segments" / f"slide-{index + 1:03d}.mp4"
        what = f"encoding the video of slide {index + 1}"
        async with self._limiter:
            if self.options.transitions != "none":
                await encode_motion_segment(
                    frame,
                    out,
                    piece.duration_s,
                    mode=self.options.transitions,
                    previous=previous,
                    what=what,
                )
            elif self.options.burn_subtitles and self._cues.get(index):
                await encode_burned_segment(
                    frame,
                    out,
                    piece.duration_s,
                    self._cues[index],
                    work_dir=self.build_dir / "captions",
                    what=what,
                )
            else:
                await encode_still_segment(frame, out, piece.duration_s, what=what)
        self._segments[index] = out

    async def _encode_track(self) -> None:
        """Encode the narration track (AAC for the video, MP3) as pieces arrive in order."""
        try:
            with contextlib.ExitStack() as stack:
                args: list[str | Path] = ["-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1"]
                args += ["-i", "pipe:0"]
                if self.options.video:
                    m4a = stack.enter_context(atomic_output(self.build_dir / "narration.m4a"))
                    args += ["-c:a", "aac", "-b:a", AUDIO_BITRATE, m4a]
                if self.options.audio:
                    mp3 = stack.enter_context(atomic_output(self.paths["mp3"]))
                    args += ["-c:a", "libmp3lame", "-b:a", AUDIO_BITRATE, mp3]
                async with FfmpegPipe(args, what="encoding the narration") as pipe:
                    for index in range(self.count):
                        await self._piece_ready[index].wait()
                        piece = self._pieces.get(index)
                        if piece is None:
                            raise RenderError(f"slide {index + 1} has no narration piece")
                        await pipe.send(piece.pcm)
        except Exception as error:
            self._fail("narration", error)
        finally:
            self._track_done.set()

    # -- the end -----------------------------------------------------------------------------

    async def finish(self, slides: Sequence[SlideResult]) -> DeckFiles:
        """Wait for the background work, then join, write subtitles and save the PPTX."""
        for slide in slides:
            if slide.index not in self._slides:
                await self.add_slide(slide)
        for done in self._done:
            await done.wait()
        if self._track_started:
            await self._track_done.wait()
        if self._errors:
            kept = ""
            if self._pptx is not None:
                # The slides themselves are fine: keep the PPTX even when the media failed.
                saved: dict[str, Path] = {}
                with contextlib.suppress(Exception):
                    await self._save_pptx(saved)
                kept = f" The PPTX was still written to {saved['pptx']}." if saved else ""
            raise RenderError(
                "Building the deck files failed: " + "; ".join(self._errors) + "." + kept
            )
        speech = any(piece.speech_s > 0 for piece in self._pieces.values())
        files: dict[str, Path] = {}
        async with anyio.create_task_group() as task_group:
            if self._pptx is not None:
                task_group.start_soon(self._save_pptx, files)
            if speech and self.options.subtitles:
                task_group.start_soon(self._write_subtitles, files)
            if speech and self.options.video:
                task_group.start_soon(self._join_video, files)
        if speech and self.options.audio:
            files["mp3"] = self.paths["mp3"]
        await anyio.to_thread.run_sync(self._remove_build_dir)
        ordered = {kind: files[kind] for kind in _KINDS if kind in files}
        return DeckFiles(
            pptx_path=ordered.get("pptx"),
            audio_path=ordered.get("mp3"),
            video_path=ordered.get("mp4"),
            subtitles_path=ordered.get("srt"),
            files=ordered,
        )

    def _offsets(self) -> list[float]:
        offsets, at = [], 0
        for index in range(self.count):
            offsets.append(at / SAMPLE_RATE)
            at += self._pieces[index].samples
        return offsets

    async def _save_pptx(self, files: dict[str, Path]) -> None:
        assert self._pptx is not None
        files["pptx"] = await anyio.to_thread.run_sync(self._pptx.save, self.paths["pptx"])

    async def _write_subtitles(self, files: dict[str, Path]) -> None:
        offsets = self._offsets()
        cues = deck_cues((offsets[i], self._cues.get(i, [])) for i in range(self.count))
        srt, vtt = self.paths["srt"], self.paths["vtt"]
        files["srt"] = await anyio.to_thread.run_sync(atomic_write_text, srt, format_srt(cues))
        files["vtt"] = await anyio.to_thread.run_sync(atomic_write_text, vtt, format_vtt(cues))

    async def _join_video(self, files: dict[str, Path]) -> None:
        segments = [(self._segments[i], self._pieces[i].duration_s) for i in range(self.count)]
        files["mp4"] = await join_segments(
            segments, self.build_dir / "narration.m4a", self.paths["mp4"], work_dir=self.build_dir
        )

    def _remove_build_dir(self) -> None:
        shutil.rmtree(self.build_dir, ignore_errors=True)


_KINDS = ("pptx", "mp3", "srt", "vtt", "mp4")


def _piece(path: Path | None, pause_s: float) -> AudioPiece:
    # Runs in a worker thread, so the file check stays off the event loop.
    return make_piece(path if path is not None and path.is_file() else None, pause_s=pause_s)
