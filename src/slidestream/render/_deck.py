"""The built-in deck assembler: every file a run keeps, built while slides still arrive.

When a slide completes (in any order) its share of the work starts in the background at
once: its narration piece (decoded, levelled, with the pause that follows it), its frame, its
H.264 segment, its page in the PPTX. The narration track is encoded continuously (AAC for the
video and MP3 for the user, one ffmpeg process fed in slide order), so when the last slide
arrives little is left: that slide's own share, then cheap joins done concurrently (segments
joined by stream copy, subtitles written, PPTX saved).

Files, in the project folder: ``<project>.pptx``, ``.pdf``, ``.mp3``, ``.srt``, ``.vtt``,
``.mp4``; intermediates live in ``build/`` and are removed at the end. A slide whose
narration clip cannot be decoded makes :meth:`StreamingDeckAssembler.finish` raise a
:class:`RenderError` naming the slide (the PPTX is still written); it never silently drops
the deck's audio.

The PDF: the built-in look's pages are drawn as vectors from the scenes the video frames are
painted from (``_vector.py``; each slide's pictures are prepared as it completes, so the end
only writes drawing commands). A deck in a user's template is printed by LibreOffice when it
is installed (``RenderOptions.page_renderer``), from a copy of the PPTX without narration, at
the lowest CPU priority, as soon as every slide's script and pictures are known
(``prepare_slide``), so it is usually done before the last slide's voice is; when they are not
known early, the PPTX itself is printed at the end. LibreOffice also draws such a deck's video
frames from one-slide PPTXs (batched, so it starts once for all the slides that are waiting).
Without LibreOffice, frames are painted and PDF pages drawn from the same plans in the same
look; a PDF LibreOffice fails to print is drawn instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from PIL import Image

from .._cache.keys import digest
from .._exceptions import RenderError
from .._files import atomic_write_bytes, atomic_write_text
from .._fonts.faces import fonts_fingerprint
from .._media import aac_args, mp3_args
from .._models import SlideResult
from .._types import AudioFormat, CacheKind, DeckFileKind
from ._assembler import AssemblyContext, DeckFiles
from ._audio import SAMPLE_RATE, AudioPiece, setup_pydub
from ._ffmpeg import FfmpegPipe, atomic_output, children_cpu_s
from ._frames import FRAME_SIZE, fit_size, framed, render_frame
from ._libreoffice import LibreOffice, find_soffice, stand_ins
from ._look import Look
from ._mp3_cut import Mp3Clip, parse_mp3
from ._paint import write_frame
from ._pieces import RenderPieces
from ._pptx import PptxDeckBuilder, blank_copy, frame_deck, open_style
from ._pptx_template import TemplateStyle
from ._scene import Scene
from ._subtitles import Cue, deck_cues, format_srt, format_vtt, slide_cues
from ._vector import PreparedPage, prepare_page, vector_pdf_bytes
from ._video import (
    encode_burned_segment,
    encode_motion_segment,
    encode_still_segment,
    join_segments,
)

__all__ = ["StreamingDeckAssembler"]

BUILD_DIR = "build"
AUDIO_BITRATE = "64k"
PDF_PAGE_WIDTH = 1920
"""Pixels across a painted PDF page (2 per point on a 16:9 slide)."""
_CUT_PAUSE_S = 0.25
"""The shortest pause between slides that a clip cut from the MP3 track can start in (its
first frames, about 0.15 s at 64 kbit/s, decode only partly)."""
_ORDER = (
    DeckFileKind.PPTX,
    DeckFileKind.PDF,
    DeckFileKind.MP3,
    DeckFileKind.SRT,
    DeckFileKind.VTT,
    DeckFileKind.MP4,
)


@dataclass
class _Slide:
    """What the assembler holds for one slide, and the events its parts wait on."""

    index: int
    result: SlideResult | None = None
    piece: AudioPiece | None = None
    piece_reused: bool = False
    """True when the piece's levelled speech came from the cache."""
    cues: list[Cue] = field(default_factory=list)
    frame: Path | None = None
    segment: Path | None = None
    frame_started: bool = False
    narration_later: bool = False
    """True when the PPTX gets this slide's narration cut from the MP3 track at the end."""
    pdf_pages: list[PreparedPage] = field(default_factory=list)
    piece_ready: anyio.Event = field(default_factory=anyio.Event)
    frame_ready: anyio.Event = field(default_factory=anyio.Event)
    done: anyio.Event = field(default_factory=anyio.Event)

    @property
    def name(self) -> str:
        """``"slide 3"``, for error messages."""
        return f"slide {self.index + 1}"


_Page = tuple[_Slide, SlideResult, Path]
"""A slide waiting for LibreOffice to draw its one-slide deck."""


class _TrackAbandoned(Exception):
    """A slide has no narration piece (its error is already recorded): stop the track."""


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
        self.paths = {kind: project_dir / f"{name}.{kind}" for kind in DeckFileKind}
        self.build_dir = project_dir / BUILD_DIR
        self.count = context.slide_count
        self.received: list[int] = []
        """Slide indexes in the order they were handed over."""
        self._media = self.options.audio or self.options.video or self.options.subtitles
        self._pptx: PptxDeckBuilder | None = None
        self._office: LibreOffice | None = None
        self._template: bytes | None = None
        self._office_frames = self._office_pdf = self._drawn_pdf = False
        self._title_page: list[PreparedPage] = []
        self._saved_pptx: Path | None = None
        self._slides: list[_Slide] = []
        self._errors: list[str] = []
        self._track_started = False
        self._track_written = False
        """True once this run's narration track is on disk (cut PPTX clips come from it)."""
        self._printed: anyio.Event | None = None
        self._early_pdf: Path | None = None
        self._task_group: TaskGroup | None = None

    def _open(self) -> None:
        """Read the look (a template is parsed here) and start the PPTX: in a worker thread."""
        style = open_style(self.context)
        self.look: Look = style.look
        if self.options.pptx or self.options.pdf:
            self._pptx = PptxDeckBuilder(self.context, style)
        soffice = None if self.options.drawn_by == "pillow" else find_soffice()
        if soffice:
            # LibreOffice draws fonts this machine lacks with the stand-ins the plan measured,
            # so its pages break lines where the frames and the PPTX plan do.
            substitutes = stand_ins(self.look.typefaces())
            self._office = LibreOffice(soffice, self.build_dir, substitutes=substitutes)
        self._template = style.data if isinstance(style, TemplateStyle) else None
        self._office_frames = bool(self._office and self._template and self.options.video)
        # LibreOffice prints a template's PDF (it reads the template as its editor wrote it);
        # the built-in look's pages are drawn from the scenes the frames are painted from.
        self._office_pdf = bool(
            self._office
            and self.options.pdf
            and (self._template is not None or self.options.drawn_by == "libreoffice")
        )
        self._drawn_pdf = self.options.pdf and not self._office_pdf
        if self._office_pdf and self._pptx is not None:
            # LibreOffice prints a copy without narration as soon as every page is known.
            self._print_copy: PptxDeckBuilder | None = PptxDeckBuilder(
                self.context, blank_copy(style, self.context)
            )
        else:
            self._print_copy = None
        self._print_asked: set[int] = set()
        self._print_pages: set[int] = set()
        look = {
            "title": self.context.title,
            "template": digest(self._template) if self._template is not None else None,
            "drawn_by": str(soffice) if self._office_frames else "pillow",
            "fonts": fonts_fingerprint(),  # a font installed since may draw what showed boxes
        }
        self._pieces = RenderPieces(self.context.cache, look)

    async def __aenter__(self) -> StreamingDeckAssembler:
        await anyio.to_thread.run_sync(self._open)
        self._limiter = anyio.CapacityLimiter(self.options.video_workers)
        self._pptx_lock = anyio.Lock()
        self._slides = [_Slide(index) for index in range(self.count)]
        self._track_done = anyio.Event()
        self._title_ready = anyio.Event()
        self._pages_in: MemoryObjectSendStream[_Page]
        self._pages_out: MemoryObjectReceiveStream[_Page]
        self._pages_in, self._pages_out = anyio.create_memory_object_stream(self.count or 1)
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        # Finding ffmpeg runs it once: off the event loop, while the first slides are made.
        task_group.start_soon(anyio.to_thread.run_sync, setup_pydub)
        if self._office_frames:
            task_group.start_soon(self._draw_office_pages)
        if self._drawn_pdf and self._pptx is not None:
            task_group.start_soon(self._draw_title_page)
        else:
            self._title_ready.set()
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
        self._pages_in.close()
        try:
            await task_group.__aexit__(None, None, None)
        finally:
            self._pages_out.close()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._remove_build_dir)

    def _cpu(self, index: int | None) -> AbstractAsyncContextManager[object]:
        """A share of the run's CPU budget for local work on slide ``index``: lower slides
        first, then in the order the runs sharing the limits started."""
        limits, run = self.context.limits, self.context.run
        return contextlib.nullcontext() if limits is None else limits.cpu(index=index, run=run)

    def _tasks(self) -> TaskGroup:
        if self._task_group is None:
            raise RuntimeError("Use the assembler as an async context manager.")
        return self._task_group

    # -- per slide, in the background --------------------------------------------------------

    async def add_slide(self, slide: SlideResult) -> None:
        """Take a completed slide (any order) and start its work in the background."""
        tasks = self._tasks()
        if not 0 <= slide.index < self.count or self._slides[slide.index].result is not None:
            return
        state = self._slides[slide.index]
        state.result = slide
        self.received.append(slide.index)
        tasks.start_soon(self._slide_work, state, slide)

    async def prepare_slide(self, slide: SlideResult) -> None:
        """Start drawing a slide's frame as soon as its script and images exist.

        The pipeline calls this before the slide's narration is done, so the frame is
        usually ready by the time :meth:`add_slide` needs it for the video segment.
        """
        tasks = self._tasks()
        if self.options.video and 0 <= slide.index < self.count:
            self._start_frame(self._slides[slide.index], slide, tasks)
        if self._print_copy is not None and 0 <= slide.index < self.count:
            tasks.start_soon(self._add_print_page, slide)

    async def _add_print_page(self, slide: SlideResult) -> None:
        """Add ``slide``'s pages to the print copy; once every slide's are in, print it."""
        copy = self._print_copy
        if copy is None or slide.index in self._print_asked:
            return
        self._print_asked.add(slide.index)
        try:
            # Never the narration, even when the slide already has it: the same pages then
            # make the same copy (what names its PDF in the cache). Laid out outside the CPU
            # budget: it takes milliseconds, and waiting behind earlier slides' voices would
            # hold the print back until the end.
            pages = dataclasses.replace(slide, audio_path=None, duration_s=0.0)
            await anyio.to_thread.run_sync(functools.partial(copy.add_slide, pages))
        except Exception:
            self._print_copy = None  # printed from the PPTX at the end instead
            return
        self._print_pages.add(slide.index)
        if len(self._print_pages) == self.count and self._print_copy is copy:
            self._printed = anyio.Event()
            self._tasks().start_soon(self._print_early, copy, self._printed)

    async def _print_early(self, copy: PptxDeckBuilder, printed: anyio.Event) -> None:
        """Print the PDF from the print copy, at low priority, while narration goes on.

        The pages are the PPTX's (narration is not printed), so the PDF needs no waiting for
        the last slide's voice; a failure leaves the PDF to the end.
        """
        office = self._office
        assert office is not None
        try:
            source = self.build_dir / "print" / f"{self.context.request.project}.pptx"
            await anyio.to_thread.run_sync(copy.save, source)  # makes the folder
            self._early_pdf = await self._printed_pdf(office, source, low_priority=True)
        except RenderError:
            pass
        finally:
            printed.set()

    def _start_frame(self, state: _Slide, slide: SlideResult, tasks: TaskGroup) -> None:
        if not state.frame_started:
            state.frame_started = True
            tasks.start_soon(self._guard, state.name, self._make_frame, state, slide)

    async def _slide_work(self, state: _Slide, slide: SlideResult) -> None:
        # Each part records its own failure, so a failed video never cancels the PPTX page.
        try:
            async with anyio.create_task_group() as tasks:
                if self._pptx is not None:
                    tasks.start_soon(self._guard, state.name, self._add_to_pptx, state, slide)
                if self._media:
                    tasks.start_soon(self._guard, state.name, self._make_piece, state, slide)
                if self.options.video:
                    self._start_frame(state, slide, tasks)
                    # Waits for the piece and the frame, not for the PPTX page.
                    tasks.start_soon(self._guard, state.name, self._make_segment, state, slide)
        finally:
            state.piece_ready.set()
            state.frame_ready.set()
            state.done.set()

    async def _guard(
        self,
        what: str,
        work: Callable[[_Slide, SlideResult], Awaitable[None]],
        state: _Slide,
        slide: SlideResult,
    ) -> None:
        try:
            await work(state, slide)
        except Exception as error:
            self._fail(what, error)

    def _fail(self, what: str, error: Exception) -> None:
        text = str(error)
        message = text if text.startswith(what) else f"{what}: {text}"
        if message not in self._errors:
            self._errors.append(message)

    async def _add_to_pptx(self, state: _Slide, slide: SlideResult) -> None:
        builder = self._pptx
        assert builder is not None
        narration = None
        # Cut from the MP3 track once it is made (see _embed_track_narration), or made now.
        state.narration_later = self._narration_from_track(builder, slide)
        if not state.narration_later and slide.audio_path and builder.wants_narration(slide):
            narration = await self._pieces.narration_mp3(slide.audio_path, index=state.index)
        async with self._pptx_lock, self._cpu(state.index):
            add = functools.partial(
                builder.add_slide, slide, narration=narration, embed=not state.narration_later
            )
            await anyio.to_thread.run_sync(add)
        if self._drawn_pdf:
            scenes = builder.slide_scenes(state.index)
            async with self._cpu(state.index):
                state.pdf_pages = await anyio.to_thread.run_sync(self._prepare_pages, scenes)

    def _narration_from_track(self, builder: PptxDeckBuilder, slide: SlideResult) -> bool:
        """True when the PPTX's clip of ``slide`` can be cut from the MP3 track: the track is
        made, the clip is not an MP3 already, and the pause before each slide is long enough
        to start a cut in."""
        if slide.audio_path is None or not builder.wants_narration(slide):
            return False
        return (
            self.options.audio
            and self.options.pause_s >= _CUT_PAUSE_S
            and AudioFormat.from_suffix(Path(slide.audio_path).suffix) is not AudioFormat.MP3
        )

    async def _embed_track_narration(self) -> None:
        """Embed the narration of the slides that wait for it, cut from the MP3 track (or,
        when the track cannot be read so, each clip encoded on its own)."""
        builder = self._pptx
        waiting = [s for s in self._slides if s.narration_later and s.result is not None]
        if builder is None or not waiting:
            return
        clips = await anyio.to_thread.run_sync(self._cut_clips, waiting)
        for state in waiting:
            assert state.result is not None
            # Without a cut (the track unreadable), the builder encodes the clip on its own.
            embed = functools.partial(builder.add_narration, state.result, clips.get(state.index))
            try:
                async with self._pptx_lock:
                    await anyio.to_thread.run_sync(embed)
            except RenderError as error:
                self._fail(state.name, error)

    def _cut_clips(self, waiting: list[_Slide]) -> dict[int, Mp3Clip]:
        """Each waiting slide's speech cut from the MP3 track; none when it cannot be."""
        if not self._track_written:
            return {}  # the file there, if any, is an earlier run's
        try:
            frames = parse_mp3(self.paths[DeckFileKind.MP3].read_bytes())
        except OSError:
            return {}
        if frames is None or any(s.piece is None for s in self._slides):
            return {}
        starts = self._starts()
        scale = frames.sample_rate / SAMPLE_RATE
        clips = {}
        for state in waiting:
            assert state.piece is not None
            start = starts[state.index]
            end = start + round(state.piece.speech_s * SAMPLE_RATE)
            clips[state.index] = frames.cut(round(start * scale), round(end * scale))
        return clips

    def _prepare_pages(self, scenes: list[Scene]) -> list[PreparedPage]:
        width, height = self.look.size
        size = (PDF_PAGE_WIDTH, round(PDF_PAGE_WIDTH * height / width))
        folder = self.build_dir / "pdf-pictures"
        return [prepare_page(scene, size, folder) for scene in scenes]

    async def _draw_title_page(self) -> None:
        assert self._pptx is not None
        try:
            scene = self._pptx.title_scene()
            async with self._cpu(None):
                self._title_page = await anyio.to_thread.run_sync(self._prepare_pages, [scene])
        except Exception as error:
            self._fail("the PDF", error)
        finally:
            self._title_ready.set()

    async def _make_piece(self, state: _Slide, slide: SlideResult) -> None:
        pause = self.options.pause_s if state.index < self.count - 1 else 0.0
        try:
            async with self._cpu(state.index):
                state.piece, state.piece_reused = await self._pieces.piece(
                    slide.audio_path, pause_s=pause, index=state.index
                )
            if not (self.options.audio or self.options.video):
                # Only the narration track needs the samples; the rest needs the lengths.
                state.piece = dataclasses.replace(state.piece, pcm=b"")
            if state.piece.speech_s > 0:
                narration = slide.script.narration
                state.cues = slide_cues(slide.words, narration, state.piece.speech_s)
                if not self._track_started and (self.options.audio or self.options.video):
                    self._track_started = True
                    self._tasks().start_soon(self._encode_track)
        finally:
            state.piece_ready.set()

    def _frame_path(self, state: _Slide) -> Path:
        # A frame that only ffmpeg reads, once, for a still segment is left uncompressed;
        # one the cache keeps, or that is captioned or animated, is a PNG.
        options = self.options
        once = options.transitions == "none" and not options.burn_subtitles
        suffix = ".ppm" if once and not self._pieces.enabled else ".png"
        return self.build_dir / "frames" / f"slide-{state.index + 1:03d}{suffix}"

    async def _make_frame(self, state: _Slide, slide: SlideResult) -> None:
        parts = self._pieces.frame_parts(slide, self.count)
        path = self._frame_path(state)
        try:
            if await self._pieces.reuse(CacheKind.FRAME, parts, path, index=state.index):
                state.frame = path
                state.frame_ready.set()
                return
        except BaseException:
            state.frame_ready.set()
            raise
        if self._office_frames and self._template is not None:
            # LibreOffice draws it (see _draw_office_pages), which sets frame_ready.
            template, count = self._template, self.count
            deck = self.build_dir / "pages" / f"slide-{state.index + 1:03d}.pptx"
            try:
                data = await anyio.to_thread.run_sync(lambda: frame_deck(template, slide, count))
                await anyio.to_thread.run_sync(_write, deck, data)
            except BaseException:
                state.frame_ready.set()
                raise
            await self._pages_in.send((state, slide, deck))
            return
        started = time.perf_counter()
        await self._paint_frame(state, slide)
        if state.frame is not None:
            made_s = time.perf_counter() - started
            await self._pieces.keep(CacheKind.FRAME, parts, state.frame, made_s)

    async def _paint_frame(self, state: _Slide, slide: SlideResult) -> None:
        path, look, count = self._frame_path(state), self.look, self.count
        try:
            async with self._cpu(state.index):
                state.frame = await anyio.to_thread.run_sync(
                    lambda: render_frame(slide, look=look, count=count, path=path)
                )
        finally:
            state.frame_ready.set()

    async def _draw_office_pages(self) -> None:
        """Draw the one-slide decks LibreOffice is given, as many at a time as are waiting."""
        office = self._office
        assert office is not None
        size = fit_size(self.look.size, FRAME_SIZE)
        async with self._pages_out:
            async for first in self._pages_out:
                batch = [first]
                while True:
                    try:
                        batch.append(self._pages_out.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                try:
                    pictures = await office.pictures(
                        [deck for _, _, deck in batch], self.build_dir / "pages", size
                    )
                except RenderError:
                    pictures = []  # painted by Pillow below instead
                for number, (state, slide, _) in enumerate(batch):
                    picture = pictures[number] if number < len(pictures) else None
                    await self._office_frame(state, slide, picture)

    async def _office_frame(self, state: _Slide, slide: SlideResult, picture: Path | None) -> None:
        path = self._frame_path(state)
        try:
            if picture is not None:
                state.frame = await anyio.to_thread.run_sync(_frame_from_picture, picture, path)
                parts = self._pieces.frame_parts(slide, self.count)
                await self._pieces.keep(CacheKind.FRAME, parts, state.frame, 0.0)
                return
        except OSError:
            pass
        finally:
            if state.frame is not None:
                state.frame_ready.set()
        await self._guard(state.name, self._paint_frame, state, slide)

    async def _make_segment(self, state: _Slide, slide: SlideResult) -> None:
        await state.piece_ready.wait()
        await state.frame_ready.wait()
        frame, piece = state.frame, state.piece
        if frame is None or piece is None:
            return
        previous = None
        if self.options.transitions == "crossfade" and state.index > 0:
            before = self._slides[state.index - 1]
            await before.frame_ready.wait()
            previous = before.frame
        out = self.build_dir / "segments" / f"slide-{state.index + 1:03d}.mp4"
        what = f"encoding the video of {state.name}"

        async def encode() -> None:
            async with self._limiter, self._cpu(state.index):
                if self.options.transitions != "none":
                    await encode_motion_segment(
                        frame,
                        out,
                        piece.duration_s,
                        mode=self.options.transitions,
                        previous=previous,
                        what=what,
                    )
                elif self.options.burn_subtitles and state.cues:
                    await encode_burned_segment(
                        frame,
                        out,
                        piece.duration_s,
                        state.cues,
                        work_dir=self.build_dir / "captions",
                        what=what,
                    )
                else:
                    await encode_still_segment(frame, out, piece.duration_s, what=what)

        parts = None
        if self._pieces.enabled:
            parts = await self._segment_parts(state, frame, piece, previous)
        await self._pieces.made(CacheKind.SEGMENT, parts, out, encode, index=state.index)
        state.segment = out
        if frame.suffix == ".ppm":  # large, and nothing else reads it
            await anyio.to_thread.run_sync(functools.partial(frame.unlink, missing_ok=True))

    async def _segment_parts(
        self, state: _Slide, frame: Path, piece: AudioPiece, previous: Path | None
    ) -> dict[str, object]:
        """What names a slide's video segment in the cache (see ``_pieces``)."""
        extra: dict[str, object] = {"transitions": self.options.transitions}
        if self.options.transitions == "crossfade" and previous is not None:
            extra["previous"] = await self._pieces.file_digest(previous)
        elif self.options.transitions == "none" and self.options.burn_subtitles:
            extra["cues"] = state.cues
            extra["fonts"] = self._pieces.look["fonts"]  # the captions are drawn with them
        return await self._pieces.segment_parts(frame, piece.samples, extra)

    async def _encode_track(self) -> None:
        """Encode the narration track (AAC for the video, MP3) as pieces arrive in order.

        With a cache, the first pieces that came from it are held back: when every slide's
        did, the whole track is taken from the cache if it was kept. As soon as one piece is
        new, encoding starts (held pieces first), and the finished track is kept.
        """
        files: dict[str, Path] = {}
        if self.options.video:
            files["m4a"] = self.build_dir / "narration.m4a"
        if self.options.audio:
            files["mp3"] = self.paths[DeckFileKind.MP3]
        try:
            held = await self._reused_pieces()
            parts = None
            if len(held) == self.count:
                parts = await self._pieces.track_parts(held, files)
                if await self._pieces.reuse_files(CacheKind.TRACK, parts, files, index=None):
                    self._track_written = True
                    return
            del held  # the encoder drops each piece's samples once it has sent them
            busy_s, pcm_digest = await self._encode_pieces()
            self._track_written = True
            if self._pieces.enabled:
                parts = parts or self._pieces.track_parts_of(pcm_digest, files)
                await self._pieces.keep_files(CacheKind.TRACK, parts, files, busy_s)
        except _TrackAbandoned:
            pass
        except Exception as error:
            self._fail("narration", error)
        finally:
            self._track_done.set()

    async def _reused_pieces(self) -> list[AudioPiece]:
        """The pieces, in slide order, up to the first that did not come from the cache."""
        held: list[AudioPiece] = []
        if not self._pieces.enabled:
            return held
        for state in self._slides:
            await state.piece_ready.wait()
            if state.piece is None:
                raise _TrackAbandoned
            if not state.piece_reused:
                break
            held.append(state.piece)
        return held

    async def _encode_pieces(self) -> tuple[float, str]:
        """Encode every slide's piece in order as it arrives; return the seconds spent
        writing to ffmpeg and waiting for it to finish (its share of the run), and the digest
        of the samples sent (what names the track in the cache).

        A piece's samples are dropped once sent: the rest of the deck needs only its lengths.
        """
        busy_s = 0.0
        hasher = hashlib.sha256()
        with contextlib.ExitStack() as stack:
            args: list[str | Path] = ["-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1"]
            args += ["-i", "pipe:0"]
            if self.options.video:
                m4a = stack.enter_context(atomic_output(self.build_dir / "narration.m4a"))
                args += [*aac_args(AUDIO_BITRATE), m4a]
            if self.options.audio:
                mp3 = stack.enter_context(atomic_output(self.paths[DeckFileKind.MP3]))
                args += [*mp3_args(AUDIO_BITRATE), mp3]
            async with FfmpegPipe(args, what="encoding the narration") as pipe:
                for state in self._slides:
                    await state.piece_ready.wait()
                    if state.piece is None:
                        raise _TrackAbandoned  # kills ffmpeg; nothing half-written stays
                    if self._pieces.enabled:  # the track's cache key
                        hasher.update(state.piece.pcm)
                    busy_s += await _timed_send(pipe, state.piece.pcm)
                    state.piece = dataclasses.replace(state.piece, pcm=b"")
                closing = time.perf_counter()
            busy_s += time.perf_counter() - closing
        return busy_s, hasher.hexdigest()

    # -- the end -----------------------------------------------------------------------------

    async def finish(self, slides: Sequence[SlideResult]) -> DeckFiles:
        """Wait for the background work, then join, write subtitles and save the PPTX."""
        for slide in slides:
            if 0 <= slide.index < self.count and self._slides[slide.index].result is None:
                await self.add_slide(slide)
        for state in self._slides:
            await state.done.wait()
        if self._track_started:
            await self._track_done.wait()
        await self._embed_track_narration()
        if self._errors:
            saved: dict[str, Path] = {}
            if self._pptx is not None:
                # The slides themselves are fine: keep the PPTX even when the media failed.
                with contextlib.suppress(Exception):
                    await self._save_pptx(saved)
            raise self._failure(saved)
        speech = any(s.piece is not None and s.piece.speech_s > 0 for s in self._slides)
        files: dict[str, Path] = {}
        async with anyio.create_task_group() as tasks:
            if self._pptx is not None:
                tasks.start_soon(self._save_pptx_and_pdf, files)
            if speech and self.options.subtitles:
                tasks.start_soon(self._write_subtitles, files)
            if speech and self.options.video:
                tasks.start_soon(self._join_video, files)
        if self._errors:
            raise self._failure(files)
        if speech and self.options.audio:
            files[DeckFileKind.MP3] = self.paths[DeckFileKind.MP3]
        await anyio.to_thread.run_sync(self._remove_build_dir)
        ordered: dict[str, Path] = {kind: files[kind] for kind in _ORDER if kind in files}
        return DeckFiles(
            pptx_path=ordered.get(DeckFileKind.PPTX),
            audio_path=ordered.get(DeckFileKind.MP3),
            video_path=ordered.get(DeckFileKind.MP4),
            subtitles_path=ordered.get(DeckFileKind.SRT),
            files=ordered,
        )

    def _failure(self, files: dict[str, Path]) -> RenderError:
        message = "Building the deck files failed: " + "; ".join(self._errors) + "."
        if DeckFileKind.PPTX in files:
            message += f" The PPTX was still written to {files[DeckFileKind.PPTX]}."
        return RenderError(message)

    def _starts(self) -> list[int]:
        """Where each slide's piece starts in the narration track, in samples."""
        starts, at = [], 0
        for state in self._slides:
            assert state.piece is not None
            starts.append(at)
            at += state.piece.samples
        return starts

    def _offsets(self) -> list[float]:
        return [start / SAMPLE_RATE for start in self._starts()]

    async def _save_pptx(self, files: dict[str, Path]) -> None:
        assert self._pptx is not None
        if self.options.pptx:
            path = self.paths[DeckFileKind.PPTX]
        else:  # only the PDF is wanted: the PPTX is its source
            path = self.build_dir / f"{self.context.request.project}.pptx"
        saved = await anyio.to_thread.run_sync(self._pptx.save, path)
        if self.options.pptx:
            files[DeckFileKind.PPTX] = saved
        self._saved_pptx = saved

    async def _save_pptx_and_pdf(self, files: dict[str, Path]) -> None:
        await self._save_pptx(files)
        if self.options.pdf:
            try:
                await self._write_pdf_file(files)
            except Exception as error:
                self._fail("the PDF", error)

    async def _write_pdf_file(self, files: dict[str, Path]) -> None:
        assert self._saved_pptx is not None
        target = self.paths[DeckFileKind.PDF]
        if self._office is not None and self._office_pdf:
            if self._printed is not None:
                await self._printed.wait()
            try:
                printed = self._early_pdf
                if printed is None:
                    printed = await self._printed_pdf(self._office, self._saved_pptx)
                await anyio.to_thread.run_sync(os.replace, printed, target)
                files[DeckFileKind.PDF] = target
                return
            except RenderError:
                pass  # drawn below instead
            await self._draw_missing_pages()
        await self._title_ready.wait()
        files[DeckFileKind.PDF] = await anyio.to_thread.run_sync(self._write_pdf, target)

    async def _printed_pdf(
        self, office: LibreOffice, pptx: Path, *, low_priority: bool = False
    ) -> Path:
        """``pptx`` printed by LibreOffice into ``build/``, or the same print from the cache."""
        printer = {"soffice": str(office.exe), "fonts": office.substitutes}
        parts = await self._pieces.pdf_parts(pptx, printer)
        out_dir = self.build_dir / "pdf" / pptx.parent.name
        kept = out_dir / f"{pptx.stem}.pdf"
        if await self._pieces.reuse(CacheKind.PAGE, parts, kept, index=None):
            return kept
        started, cpu_before = time.perf_counter(), children_cpu_s()
        printed = await office.pdf(pptx, out_dir, low_priority=low_priority)
        work_s = time.perf_counter() - started
        cpu_after = children_cpu_s()
        if low_priority and cpu_before is not None and cpu_after is not None:
            # Waiting for idle cores is not work the cache saves: count the CPU time the
            # children finished meanwhile used (LibreOffice, and at most a few encoders).
            work_s = min(work_s, cpu_after - cpu_before)
        await self._pieces.keep(CacheKind.PAGE, parts, printed, work_s)
        return printed

    async def _draw_missing_pages(self) -> None:
        """Draw the pages LibreOffice was meant to print (it failed)."""
        builder = self._pptx
        assert builder is not None
        self._title_page = await anyio.to_thread.run_sync(
            self._prepare_pages, [builder.title_scene()]
        )
        for state in self._slides:
            scenes = builder.slide_scenes(state.index)
            state.pdf_pages = await anyio.to_thread.run_sync(self._prepare_pages, scenes)

    def _write_pdf(self, target: Path) -> Path:
        assert self._pptx is not None
        pages = [*self._title_page]
        for state in self._slides:
            pages += state.pdf_pages
        pages += self._prepare_pages(self._pptx.credit_scenes())
        data = vector_pdf_bytes(pages, self.look.size, title=self.context.title)
        return atomic_write_bytes(target, data)

    async def _write_subtitles(self, files: dict[str, Path]) -> None:
        cues = deck_cues(zip(self._offsets(), [s.cues for s in self._slides], strict=True))
        for kind, render in ((DeckFileKind.SRT, format_srt), (DeckFileKind.VTT, format_vtt)):
            files[kind] = await anyio.to_thread.run_sync(
                atomic_write_text, self.paths[kind], render(cues)
            )

    async def _join_video(self, files: dict[str, Path]) -> None:
        segments = []
        for state in self._slides:
            assert state.segment is not None
            assert state.piece is not None
            segments.append((state.segment, state.piece.duration_s))
        files[DeckFileKind.MP4] = await join_segments(
            segments,
            self.build_dir / "narration.m4a",
            self.paths[DeckFileKind.MP4],
            work_dir=self.build_dir,
        )

    def _remove_build_dir(self) -> None:
        shutil.rmtree(self.build_dir, ignore_errors=True)


async def _timed_send(pipe: FfmpegPipe, data: bytes) -> float:
    started = time.perf_counter()
    await pipe.send(data)
    return time.perf_counter() - started


def _result(state: _Slide) -> SlideResult:
    assert state.result is not None
    return state.result


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _frame_from_picture(picture: Path, path: Path) -> Path:
    """A LibreOffice page picture as a video frame (opaque, 16:9, pillarboxed when not)."""
    with Image.open(picture) as source:
        source.load()
        page = source.convert("RGBA")
    opaque = Image.new("RGBA", page.size, (255, 255, 255, 255))
    opaque.alpha_composite(page)
    return write_frame(framed(opaque.convert("RGB"), FRAME_SIZE), path)
