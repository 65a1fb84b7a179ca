"""Deck pieces in the run's cache: slide frames, video segments and levelled audio pieces.

Each piece is keyed by what it is made from and nothing else:

- a frame: the deck's look (its title, the template's bytes, who draws it, the fonts
  installed), the slide's number, title, bullets and images (by digest); not its narration;
- a levelled audio piece: the narration clip's bytes (the pause after it is added on reuse);
- a video segment: the frame's bytes, the piece's length in samples, the transition (and the
  previous frame for a crossfade), the burned-in cues and the fonts installed when subtitles
  are burned;
- a clip as the MP3 the PPTX embeds: the clip's bytes;
- the narration track (AAC and MP3): the samples of every piece, in order;
- the PDF LibreOffice prints: what the PPTX holds (see :func:`pptx_digest`), and which
  LibreOffice with which stand-in fonts.

Every key also holds :func:`render_version`, a digest of the render code, the bundled fonts
and the versions of the libraries that draw and encode, so a piece an older render version
made is never reused. Lookups and writes go through the run's :class:`RunCache`, which
verifies each entry (a damaged one is discarded and the piece made again) and records each
reuse for the slide's timings and the report.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .._cache.keys import code_version, digest, make_key
from .._cache.store import Entry
from .._exceptions import RenderError
from .._files import atomic_write_bytes
from .._models import SlideResult
from .._types import AudioFormat, CacheKind
from .._version import __version__
from ._audio import AudioPiece, clip_as_mp3, levelled_pcm, piece_of

if TYPE_CHECKING:
    from .._cache.run import RunCache

__all__ = ["RenderPieces", "pptx_digest", "render_version"]

_PACKAGE = Path(__file__).resolve().parent.parent
_LIBRARIES = ("pillow", "imageio-ffmpeg", "pydub", "python-pptx", "moviepy")
_RID = re.compile(rb'"(rId\d+)"')
_SLIDE_ID = re.compile(rb'<p:sldId id="\d+"')


@functools.cache
def render_version() -> str:
    """A digest of the render code, the bundled fonts and the drawing and encoding libraries."""
    versions = {"slidestream": __version__}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    paths = [_PACKAGE / "render", _PACKAGE / "_fonts", _PACKAGE / "_media.py"]
    return code_version(paths, extra=versions)


def _write_blobs(paths: Mapping[str, Path]) -> Callable[[Entry], bool]:
    def decode(entry: Entry) -> bool:
        blobs = {name: entry.blobs[name] for name in paths}  # all there, before any write
        for name, path in paths.items():
            atomic_write_bytes(path, blobs[name])
        return True

    return decode


def _digest_file(path: Path) -> str:
    return digest(path.read_bytes())


def _read_files(paths: Mapping[str, Path]) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in paths.items()}


def pptx_digest(path: Path) -> str:
    """A digest of what a PPTX holds, the same however its parts happen to be named.

    Slides are added to the PPTX as they complete, so the same deck made twice may number
    its parts (and relationship ids) differently. Each part is digested with every
    relationship id replaced by its target's digest, and the deck's digest is the
    presentation part's (its slide ids left out, also numbered by arrival). The document
    properties (dates) are not reached from the presentation, so they are left out too.
    """
    from pptx import Presentation

    memo: dict[str, str] = {}

    def part_digest(part: Any, open_parts: set[str]) -> str:
        name = str(part.partname)
        if name in memo:
            return memo[name]
        if name in open_parts:
            return "back"  # a part on the way here (a notes page points back to its slide)
        open_parts.add(name)
        targets = {
            rid: f"external:{rel.target_ref}"
            if rel.is_external
            else part_digest(rel.target_part, open_parts)
            for rid, rel in part.rels.items()
        }
        open_parts.discard(name)
        blob = _SLIDE_ID.sub(b"<p:sldId", part.blob)
        blob = _RID.sub(lambda m: b'"' + targets.get(m[1].decode(), "?").encode() + b'"', blob)
        hasher = hashlib.sha256(part.content_type.encode() + b"\0" + blob)
        for rel in sorted((rel.reltype, targets[rid]) for rid, rel in part.rels.items()):
            hasher.update(("\0".join(rel) + "\0").encode())
        memo[name] = hasher.hexdigest()
        return memo[name]

    return part_digest(Presentation(str(path)).part, set())


class RenderPieces:
    """The run's cache as the assembler sees it; without a cache, every piece is made.

    Args:
        cache: the run's cache, or None when it is off.
        look: what names the deck's look in frame keys (plain JSON values).
    """

    def __init__(self, cache: RunCache | None, look: Mapping[str, Any]) -> None:
        self.cache = cache
        self.look = dict(look)

    def _key(self, kind: CacheKind, parts: Mapping[str, Any]) -> str:
        return make_key(kind, {"render": render_version(), **parts})

    @property
    def enabled(self) -> bool:
        """True when pieces are kept (the run has a cache)."""
        return self.cache is not None

    async def reuse(
        self, kind: CacheKind, parts: Mapping[str, Any] | None, path: Path, *, index: int | None
    ) -> bool:
        """Write the kept piece named by ``parts`` to ``path``; False when there is none
        (or ``parts`` is None: a piece that is never kept). ``index``: its slide (None: the
        deck's)."""
        return await self.reuse_files(kind, parts, {"file": path}, index=index)

    async def reuse_files(
        self,
        kind: CacheKind,
        parts: Mapping[str, Any] | None,
        paths: Mapping[str, Path],
        *,
        index: int | None,
    ) -> bool:
        """Like :meth:`reuse` for a piece of several files (``paths`` by blob name)."""
        if self.cache is None or parts is None:
            return False
        key = self._key(kind, parts)
        return await self.cache.load(kind, key, _write_blobs(paths), index=index) is not None

    async def keep(
        self, kind: CacheKind, parts: Mapping[str, Any] | None, path: Path, made_s: float
    ) -> None:
        """Keep the piece at ``path`` (a failure to store it never fails the run)."""
        await self.keep_files(kind, parts, {"file": path}, made_s)

    async def keep_files(
        self,
        kind: CacheKind,
        parts: Mapping[str, Any] | None,
        paths: Mapping[str, Path],
        made_s: float,
    ) -> None:
        """Like :meth:`keep` for a piece of several files (``paths`` by blob name)."""
        if self.cache is None or parts is None:
            return
        try:
            blobs = await anyio.to_thread.run_sync(_read_files, paths)
        except OSError:
            return
        key = self._key(kind, parts)
        await self.cache.keep(kind, key, data={}, blobs=blobs, made_s=made_s)

    async def made(
        self,
        kind: CacheKind,
        parts: Mapping[str, Any] | None,
        path: Path,
        make: Callable[[], Awaitable[object]],
        *,
        index: int,
    ) -> bool:
        """Put the piece at ``path``: from the cache, else by ``make()`` (then kept).

        Returns True when it came from the cache.
        """
        if await self.reuse(kind, parts, path, index=index):
            return True
        started = time.perf_counter()
        await make()
        await self.keep(kind, parts, path, time.perf_counter() - started)
        return False

    # -- what names each piece -------------------------------------------------------------------

    def frame_parts(self, slide: SlideResult, count: int) -> dict[str, Any] | None:
        """What a slide's frame is drawn from (its narration is not on it); None when an
        image is known only by a path, whose file may change: such a frame is not kept."""
        if any(not image.data for image in slide.images):
            return None
        return {
            "look": self.look,
            "index": slide.index,
            "count": count,
            "title": slide.script.title,
            "bullets": list(slide.script.bullets),
            "images": [digest(image.data) for image in slide.images],
        }

    async def segment_parts(
        self, frame: Path, samples: int, extra: Mapping[str, Any]
    ) -> dict[str, Any]:
        """What a slide's video segment is encoded from: its frame's bytes and its length."""
        frame_digest = await anyio.to_thread.run_sync(_digest_file, frame)
        return {"frame": frame_digest, "samples": samples, **extra}

    async def file_digest(self, path: Path) -> str:
        """The digest of a file's bytes (a frame named in a segment's key, say)."""
        return await anyio.to_thread.run_sync(_digest_file, path)

    # -- levelled audio pieces ------------------------------------------------------------------

    async def piece(
        self, clip: Path | None, *, pause_s: float, index: int
    ) -> tuple[AudioPiece, bool]:
        """A slide's narration piece, and whether its levelled speech came from the cache.

        Raises:
            RenderError: the clip cannot be decoded.
        """
        if clip is None:
            return piece_of(b"", pause_s=pause_s), False
        cache = self.cache
        if cache is None:
            speech = await anyio.to_thread.run_sync(levelled_pcm, clip)
            return piece_of(speech, pause_s=pause_s), False
        clip_digest = await anyio.to_thread.run_sync(_digest_file, clip)
        key = self._key(CacheKind.PIECE, {"clip": clip_digest, "format": clip.suffix.lower()})
        kept = await cache.load(CacheKind.PIECE, key, _speech, index=index)
        if kept is not None:
            return piece_of(kept, pause_s=pause_s), True
        started = time.perf_counter()
        speech = await anyio.to_thread.run_sync(levelled_pcm, clip)
        made_s = time.perf_counter() - started
        await cache.keep(CacheKind.PIECE, key, data={}, blobs={"pcm": speech}, made_s=made_s)
        return piece_of(speech, pause_s=pause_s), False

    async def narration_mp3(self, clip: Path, *, index: int) -> bytes | None:
        """The clip as the MP3 the PPTX embeds, from the cache when kept; None without a
        cache (the PPTX builder converts it then) or when it does not convert (the builder
        reports that)."""
        cache = self.cache
        if cache is None or AudioFormat.from_suffix(clip.suffix) is AudioFormat.MP3:
            return None  # an MP3 clip is embedded as it is
        clip_digest = await anyio.to_thread.run_sync(_digest_file, clip)
        key = self._key(CacheKind.EMBED, {"clip": clip_digest, "format": clip.suffix.lower()})
        kept = await cache.load(CacheKind.EMBED, key, _mp3, index=index)
        if kept is not None:
            return kept
        started = time.perf_counter()
        try:
            audio = await anyio.to_thread.run_sync(clip_as_mp3, clip)
        except RenderError:
            return None
        made_s = time.perf_counter() - started
        await cache.keep(CacheKind.EMBED, key, data={}, blobs={"mp3": audio}, made_s=made_s)
        return audio

    # -- the deck's narration track and its printed PDF ----------------------------------------

    async def track_parts(
        self, pieces: Sequence[AudioPiece], files: Iterable[str]
    ) -> dict[str, Any]:
        """What names the narration track: every piece's samples in order, and its files."""

        def samples_digest() -> str:
            hasher = hashlib.sha256()
            for piece in pieces:
                hasher.update(piece.pcm)
            return hasher.hexdigest()

        return self.track_parts_of(await anyio.to_thread.run_sync(samples_digest), files)

    @staticmethod
    def track_parts_of(pcm_digest: str, files: Iterable[str]) -> dict[str, Any]:
        """What names the narration track, from the SHA-256 of its samples in order."""
        return {"pcm": pcm_digest, "files": sorted(files)}

    async def pdf_parts(self, pptx: Path, printer: Mapping[str, Any]) -> dict[str, Any] | None:
        """What names a PDF printed from ``pptx`` by ``printer`` (None: the cache is off)."""
        if self.cache is None:
            return None
        return {"pptx": await anyio.to_thread.run_sync(pptx_digest, pptx), "printer": dict(printer)}


def _mp3(entry: Entry) -> bytes:
    audio = entry.blobs["mp3"]
    if not audio:
        raise ValueError("the MP3 is empty")
    return audio


def _speech(entry: Entry) -> bytes:
    pcm = entry.blobs["pcm"]
    if not pcm or len(pcm) % 2:
        raise ValueError("the levelled speech is empty or cut mid-sample")
    return pcm
