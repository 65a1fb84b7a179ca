"""Installed font files: where they are, which characters they cover, loading them.

Fonts are looked up in the usual system folders (and in the folders named by
``SLIDESTREAM_FONT_DIRS``, separated by ``os.pathsep``); their character maps are read with
fontTools once and cached for the life of the process.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError
from PIL import ImageFont

from . import font_path
from .unhinted import drawing_source

__all__ = [
    "FontFace",
    "cmaps",
    "coverage",
    "font_dirs",
    "font_files",
    "fonts_fingerprint",
    "lato",
    "load_face",
]

_FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
# Families tried first, in this order, when several fonts cover a character.
_PREFERRED = (
    "notosans",
    "notosanscjk",
    "notosansarabic",
    "notonaskharabic",
    "dejavusans",
    "wqy",
    "droidsansfallback",
    "arialunicode",
    "msyh",
    "yugoth",
    "malgun",
    "segoeui",
    "arial",
)


@dataclass(frozen=True)
class FontFace:
    """One font file (and face index, for collections)."""

    path: str
    index: int = 0

    @property
    def is_lato(self) -> bool:
        """True for the shipped Lato."""
        return Path(self.path).parent == font_path().parent


def lato(*, bold: bool = False) -> FontFace:
    """The shipped Lato as a :class:`FontFace`."""
    return FontFace(str(font_path(bold=bold)))


def font_dirs() -> list[Path]:
    """The folders searched for fallback fonts, in order (the user's own only where a home
    folder is known: a service may run as a user without one)."""
    extra = [Path(p) for p in os.environ.get("SLIDESTREAM_FONT_DIRS", "").split(os.pathsep) if p]
    found = os.path.expanduser("~")
    homes = [] if found == "~" else [Path(found)]
    dirs = [
        *extra,
        *(home / ".fonts" for home in homes),
        *(home / ".local/share/fonts" for home in homes),
        Path("/usr/local/share/fonts"),
        Path("/usr/share/fonts"),
    ]
    if sys.platform == "darwin":
        dirs += [home / "Library/Fonts" for home in homes]
        dirs += [Path("/Library/Fonts"), Path("/System/Library/Fonts")]
    if sys.platform == "win32":
        windir = Path(os.environ.get("WINDIR", "C:/Windows"))
        dirs += [windir / "Fonts"]
        dirs += [home / "AppData/Local/Microsoft/Windows/Fonts" for home in homes]
    return dirs


def _rank(path: Path) -> tuple[int, str]:
    name = path.name.lower().replace("-", "").replace("_", "").replace(" ", "")
    for rank, prefix in enumerate(_PREFERRED):
        if name.startswith(prefix):
            return rank, name
    return len(_PREFERRED), name


@functools.lru_cache(maxsize=1)
def font_files() -> tuple[Path, ...]:
    """Every font file in :func:`font_dirs`, preferred families first (scanned once)."""
    found: dict[str, Path] = {}
    for folder in font_dirs():
        if not folder.is_dir():
            continue
        for root, _dirs, files in os.walk(folder):
            for name in files:
                if name.lower().endswith(_FONT_SUFFIXES):
                    found.setdefault(name.lower(), Path(root) / name)
    return tuple(sorted(found.values(), key=_rank))


def fonts_fingerprint() -> str:
    """A short digest of what text is drawn with: the installed font files and this package.

    It changes when a font is installed or removed (a script that showed boxes may now show
    glyphs) and when the font code changes, so pictures cached before are not reused.
    """
    return _fingerprint(font_files())


@functools.lru_cache(maxsize=4)
def _fingerprint(files: tuple[Path, ...]) -> str:
    hasher = hashlib.sha256()
    for path in files:
        try:
            size = path.stat().st_size
        except OSError:
            size = -1
        hasher.update(f"{path}\0{size}\0".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        hasher.update(source.read_bytes())
    return hasher.hexdigest()[:16]


def _cmaps_of(path: Path) -> list[frozenset[int]]:
    try:
        if path.suffix.lower() == ".ttc":
            collection = TTCollection(str(path), lazy=True)
            try:
                return [frozenset(font.getBestCmap() or ()) for font in collection.fonts]
            finally:
                collection.close()
        with TTFont(str(path), lazy=True) as font:
            return [frozenset(font.getBestCmap() or ())]
    except (TTLibError, OSError, ValueError, KeyError, AssertionError):
        return []


_cmap_lock = threading.Lock()
_cmap_cache: dict[Path, list[frozenset[int]]] = {}


def cmaps(path: Path) -> list[frozenset[int]]:
    """The code points each face of the font file at ``path`` covers (read once, cached)."""
    with _cmap_lock:
        cached = _cmap_cache.get(path)
    if cached is None:
        cached = _cmaps_of(path)
        with _cmap_lock:
            _cmap_cache[path] = cached
    return cached


@functools.lru_cache(maxsize=256)
def coverage(face: FontFace) -> frozenset[int]:
    """The code points ``face`` has glyphs for (looked up once per face)."""
    maps = cmaps(Path(face.path))
    return maps[face.index] if face.index < len(maps) else frozenset()


_local = threading.local()


def _drawn_from(face: FontFace) -> str | io.BytesIO:
    """What FreeType reads ``face`` from: the shipped Lato without grid-fitting (see
    :mod:`.unhinted`), any other font from its file."""
    return drawing_source(face.path) if face.is_lato else face.path


def load_face(face: FontFace, size: int) -> ImageFont.FreeTypeFont:
    """``face`` at ``size`` pixels, cached per thread (FreeType faces are not thread-safe)."""
    cache: dict[tuple[FontFace, int], ImageFont.FreeTypeFont] | None = getattr(
        _local, "fonts", None
    )
    if cache is None:
        cache = _local.fonts = {}
    font = cache.get((face, size))
    if font is None:
        if len(cache) > 256:
            cache.clear()
        font = ImageFont.truetype(_drawn_from(face), max(1, size), index=face.index)
        cache[(face, size)] = font
    return font
