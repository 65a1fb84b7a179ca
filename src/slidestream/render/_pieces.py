"""Deck pieces in the run's cache: slide frames, video segments and levelled audio pieces.

Each piece is keyed by what it is made from and nothing else:

- a frame: the deck's look (its title, the template's bytes, who draws it), the slide's
  number, title, bullets and images (by digest); not its narration;
- a levelled audio piece: the narration clip's bytes (the pause after it is added on reuse);
- a video segment: the frame's bytes, the piece's length in samples, the transition (and the
  previous frame for a crossfade), the burned-in cues when subtitles are burned.

Every key also holds :func:`render_version`, a digest of the render code, the bundled fonts
and the versions of the libraries that draw and encode, so a piece an older render version
made is never reused. Lookups and writes go through the run's :class:`RunCache`, which
verifies each entry (a damaged one is discarded and the piece made again) and records each
reuse for the slide's timings and the report.
"""

from __future__ import annotations

import functools
import importlib.metadata
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .._cache.keys import code_version, digest, make_key
from .._cache.store import Entry
from .._files import atomic_write_bytes
from .._models import SlideResult
from .._types import CacheKind
from .._version import __version__
from ._audio import AudioPiece, levelled_pcm, piece_of

if TYPE_CHECKING:
    from .._cache.run import RunCache

__all__ = ["RenderPieces", "render_version"]

_PACKAGE = Path(__file__).resolve().parent.parent
_LIBRARIES = ("pillow", "imageio-ffmpeg", "pydub", "python-pptx", "moviepy")


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


def _write_blob(path: Path) -> Callable[[Entry], Path]:
    def decode(entry: Entry) -> Path:
        return atomic_write_bytes(path, entry.blobs["file"])

    return decode


def _digest_file(path: Path) -> str:
    return digest(path.read_bytes())


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
        self, kind: CacheKind, parts: Mapping[str, Any] | None, path: Path, *, index: int
    ) -> bool:
        """Write the kept piece named by ``parts`` to ``path``; False when there is none
        (or ``parts`` is None: a piece that is never kept)."""
        if self.cache is None or parts is None:
            return False
        key = self._key(kind, parts)
        return await self.cache.load(kind, key, _write_blob(path), index=index) is not None

    async def keep(
        self, kind: CacheKind, parts: Mapping[str, Any] | None, path: Path, made_s: float
    ) -> None:
        """Keep the piece at ``path`` (a failure to store it never fails the run)."""
        if self.cache is None or parts is None:
            return
        try:
            data = await anyio.to_thread.run_sync(path.read_bytes)
        except OSError:
            return
        key = self._key(kind, parts)
        await self.cache.keep(kind, key, data={}, blobs={"file": data}, made_s=made_s)

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

    async def piece(self, clip: Path | None, *, pause_s: float, index: int) -> AudioPiece:
        """A slide's narration piece; its levelled speech is taken from the cache when kept.

        Raises:
            RenderError: the clip cannot be decoded.
        """
        if clip is None:
            return piece_of(b"", pause_s=pause_s)
        cache = self.cache
        if cache is None:
            speech = await anyio.to_thread.run_sync(levelled_pcm, clip)
            return piece_of(speech, pause_s=pause_s)
        clip_digest = await anyio.to_thread.run_sync(_digest_file, clip)
        key = self._key(CacheKind.PIECE, {"clip": clip_digest, "format": clip.suffix.lower()})
        kept = await cache.load(CacheKind.PIECE, key, _speech, index=index)
        if kept is None:
            started = time.perf_counter()
            kept = await anyio.to_thread.run_sync(levelled_pcm, clip)
            made_s = time.perf_counter() - started
            await cache.keep(CacheKind.PIECE, key, data={}, blobs={"pcm": kept}, made_s=made_s)
        return piece_of(kept, pause_s=pause_s)


def _speech(entry: Entry) -> bytes:
    pcm = entry.blobs["pcm"]
    if not pcm or len(pcm) % 2:
        raise ValueError("the levelled speech is empty or cut mid-sample")
    return pcm
