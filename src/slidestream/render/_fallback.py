"""Per-character font fallback: Lato first, then a system font that has the glyph.

Lato covers Latin, Greek and Cyrillic. For anything else (CJK, Arabic, Hebrew, Devanagari,
Georgian, symbols) the text is cut into runs, and each run is drawn with the first installed
font whose character map covers it. Fonts are looked up in the usual system folders (and in
the folders named by ``SLIDESTREAM_FONT_DIRS``, separated by ``os.pathsep``); their character
maps are read with fontTools once and cached for the life of the process.

Right-to-left scripts are shaped and ordered by Pillow's libraqm layout engine when Pillow has
it (``PIL.features.check("raqm")``); without it Arabic letters are drawn unjoined and
left-to-right. See ``docs/fonts.md``.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError
from PIL import ImageFont, features

from ._fonts import font_path

__all__ = [
    "FontFace",
    "TextRun",
    "direction",
    "font_dirs",
    "is_rtl",
    "load_face",
    "measure",
    "raqm_available",
    "split_runs",
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
_NEUTRAL_CATEGORIES = ("Z", "P", "S", "N", "C", "M")


@dataclass(frozen=True)
class FontFace:
    """One font file (and face index, for collections)."""

    path: str
    index: int = 0

    @property
    def is_lato(self) -> bool:
        """True for the shipped Lato."""
        return Path(self.path).parent == font_path().parent


@dataclass(frozen=True)
class TextRun:
    """A stretch of text drawn with one font."""

    text: str
    face: FontFace
    rtl: bool = False


def raqm_available() -> bool:
    """True when Pillow can shape complex scripts and lay out right-to-left text."""
    return bool(features.check("raqm"))


def font_dirs() -> list[Path]:
    """The folders searched for fallback fonts, in order."""
    extra = [Path(p) for p in os.environ.get("SLIDESTREAM_FONT_DIRS", "").split(os.pathsep) if p]
    home = Path.home()
    dirs = [
        *extra,
        home / ".fonts",
        home / ".local/share/fonts",
        Path("/usr/local/share/fonts"),
        Path("/usr/share/fonts"),
    ]
    if sys.platform == "darwin":
        dirs += [home / "Library/Fonts", Path("/Library/Fonts"), Path("/System/Library/Fonts")]
    if sys.platform == "win32":
        windir = Path(os.environ.get("WINDIR", "C:/Windows"))
        dirs += [windir / "Fonts", home / "AppData/Local/Microsoft/Windows/Fonts"]
    return dirs


def _rank(path: Path) -> tuple[int, str]:
    name = path.name.lower().replace("-", "").replace("_", "").replace(" ", "")
    for rank, prefix in enumerate(_PREFERRED):
        if name.startswith(prefix):
            return rank, name
    return len(_PREFERRED), name


@functools.lru_cache(maxsize=1)
def _font_files() -> tuple[Path, ...]:
    found: dict[str, Path] = {}
    for folder in font_dirs():
        if not folder.is_dir():
            continue
        for root, _dirs, files in os.walk(folder):
            for name in files:
                if name.lower().endswith(_FONT_SUFFIXES):
                    found.setdefault(name.lower(), Path(root) / name)
    return tuple(sorted(found.values(), key=_rank))


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


def _cmaps(path: Path) -> list[frozenset[int]]:
    with _cmap_lock:
        cached = _cmap_cache.get(path)
    if cached is None:
        cached = _cmaps_of(path)
        with _cmap_lock:
            _cmap_cache[path] = cached
    return cached


@functools.lru_cache(maxsize=2)
def _lato_cmap(bold: bool) -> frozenset[int]:
    return _cmaps(font_path(bold=bold))[0]


@functools.lru_cache(maxsize=4096)
def _fallback_for(codepoint: int, bold: bool) -> FontFace | None:
    files = _font_files()
    if bold:
        files = tuple(sorted(files, key=lambda p: "bold" not in p.name.lower()))
    for path in files:
        for index, cmap in enumerate(_cmaps(path)):
            if codepoint in cmap:
                return FontFace(str(path), index)
    return None


def _is_neutral(char: str) -> bool:
    return unicodedata.category(char)[0] in _NEUTRAL_CATEGORIES


def is_rtl(char: str) -> bool:
    """True for characters of right-to-left scripts (Arabic, Hebrew, ...)."""
    return unicodedata.bidirectional(char) in ("R", "AL")


def face_for(char: str, *, bold: bool) -> FontFace:
    """The font a character is drawn with: Lato when it has it, else a covering system font."""
    lato = FontFace(str(font_path(bold=bold)))
    codepoint = ord(char)
    if codepoint in _lato_cmap(bold) or char in "\n\r\t":
        return lato
    return _fallback_for(codepoint, bold) or lato


def split_runs(text: str, *, bold: bool = False) -> list[TextRun]:
    """Cut ``text`` into runs that each need one font.

    Spaces, punctuation and digits stay in the current run when its font has them, so a
    Japanese sentence with an ASCII comma is one run, not three.
    """
    runs: list[TextRun] = []
    current: list[str] = []
    face: FontFace | None = None
    rtl = False
    for char in text:
        if face is not None and _is_neutral(char) and ord(char) in _coverage(face):
            current.append(char)
            continue
        char_face = face_for(char, bold=bold)
        char_rtl = is_rtl(char)
        if face is None or char_face != face or (char_rtl != rtl and not _is_neutral(char)):
            if current and face is not None:
                runs.append(TextRun("".join(current), face, rtl))
            current, face, rtl = [char], char_face, char_rtl
        else:
            current.append(char)
    if current and face is not None:
        runs.append(TextRun("".join(current), face, rtl))
    return runs


def _coverage(face: FontFace) -> frozenset[int]:
    cmaps = _cmaps(Path(face.path))
    return cmaps[face.index] if face.index < len(cmaps) else frozenset()


_local = threading.local()


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
        font = ImageFont.truetype(face.path, max(1, size), index=face.index)
        cache[(face, size)] = font
    return font


def direction(run: TextRun) -> str | None:
    """The ``direction`` to give Pillow for ``run``: ``"rtl"`` when raqm can lay it out."""
    return "rtl" if run.rtl and raqm_available() else None


def run_length(run: TextRun, size: int) -> float:
    """The advance width of one run at ``size`` pixels."""
    return float(load_face(run.face, size).getlength(run.text, direction=direction(run)))


def measure(text: str, size: int, *, bold: bool = False) -> float:
    """The advance width of ``text`` at ``size`` pixels, with fallback fonts where needed."""
    return sum(run_length(run, size) for run in split_runs(text, bold=bold))


def visual_order(runs: Sequence[TextRun]) -> Iterator[TextRun]:
    """Runs in drawing order, left to right: reversed when the line starts right-to-left."""
    first_strong = next(
        (run for run in runs if any(not _is_neutral(c) for c in run.text)),
        None,
    )
    if first_strong is not None and first_strong.rtl:
        return reversed(list(runs))
    return iter(runs)
