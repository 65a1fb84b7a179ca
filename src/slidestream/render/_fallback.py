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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError
from PIL import ImageFont, features

from ._fonts import font_path

__all__ = [
    "FontFace",
    "TextRun",
    "bidi_levels",
    "direction",
    "face_for",
    "font_dirs",
    "font_files",
    "is_rtl",
    "load_face",
    "measure",
    "paragraph_rtl",
    "raqm_available",
    "run_length",
    "split_runs",
    "visual_order",
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
    """A stretch of text drawn with one font in one direction.

    ``level`` is the run's bidirectional embedding level: even runs read left to right, odd
    ones right to left.
    """

    text: str
    face: FontFace
    level: int = 0

    @property
    def rtl(self) -> bool:
        """True when the run reads right to left."""
        return self.level % 2 == 1


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


@functools.lru_cache(maxsize=4096)
def _fallback_for(codepoint: int, bold: bool) -> FontFace | None:
    files = font_files()
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


def face_for(char: str, *, bold: bool, primary: FontFace | None = None) -> FontFace:
    """The font a character is drawn with: ``primary`` (Lato when not given) when it has the
    character, else the first installed font that covers it."""
    first = primary or FontFace(str(font_path(bold=bold)))
    codepoint = ord(char)
    if codepoint in _coverage(first) or char in "\n\r\t":
        return first
    return _fallback_for(codepoint, bold) or first


# -- bidirectional text: a small part of the Unicode Bidirectional Algorithm (UAX #9) ----------
# Characters are strong left-to-right (L), strong right-to-left (R), numbers (EN), or neutral
# (N). Numbers and neutrals between digits follow rules W4-W5 and W7, neutrals between two strong
# characters of one direction take that direction and all others the paragraph's (N1-N2);
# levels follow I1-I2 and lines are reordered by L2. Embeddings and mirroring are left out.

_L, _R, _EN, _N = "L", "R", "EN", "N"


def _classes(text: str) -> list[str]:
    out: list[str] = []
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            out.append(_R)
        elif kind == "L":
            out.append(_L)
        elif kind in ("EN", "AN"):
            out.append(_EN)
        elif kind == "NSM" and out:
            out.append(out[-1])  # W1: a combining mark takes the class of its base
        else:
            out.append(_N)
    for i, char in enumerate(text):
        kind = unicodedata.bidirectional(char)
        before = out[i - 1] if i else None
        after = out[i + 1] if i + 1 < len(out) else None
        if kind in ("CS", "ES") and before == _EN and after == _EN:
            out[i] = _EN  # W4: "1,000" and "2+2" stay one number
        elif kind == "ET" and _EN in (before, after):
            out[i] = _EN  # W5: "50%" and "$5"
    return out


def _numbers_after_l(classes: list[str], base: int) -> list[str]:
    """Rule W7: a number whose nearest strong character before it is L (or, with none, a
    left-to-right paragraph) is L: "page 1 / 3" stays in order."""
    out = list(classes)
    last = _R if base else _L
    for i, kind in enumerate(classes):
        if kind in (_L, _R):
            last = kind
        elif kind == _EN and last == _L:
            out[i] = _L
    return out


def paragraph_rtl(text: str) -> bool:
    """True when the first strong character of ``text`` is right-to-left (rules P2-P3)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def bidi_levels(text: str, *, rtl: bool | None = None) -> list[int]:
    """The embedding level of each character of one line: even left-to-right, odd right-to-left.

    ``rtl`` is the paragraph's direction; ``None`` takes it from the first strong character.
    """
    base = (1 if paragraph_rtl(text) else 0) if rtl is None else int(rtl)
    classes = _numbers_after_l(_classes(text), base)
    embedding = _R if base else _L
    strong = [(_R if c == _EN else c) for c in classes]  # N1: numbers count as R
    resolved = list(classes)
    i = 0
    while i < len(classes):
        if classes[i] != _N:
            i += 1
            continue
        end = i
        while end < len(classes) and classes[end] == _N:
            end += 1
        before = strong[i - 1] if i else embedding
        after = strong[end] if end < len(classes) else embedding
        side = before if before == after else embedding
        resolved[i:end] = [side] * (end - i)
        i = end
    levels = []
    for kind in resolved:
        if base == 0:
            levels.append({_L: 0, _R: 1, _EN: 2}[kind])
        else:
            levels.append({_L: 2, _R: 1, _EN: 2}[kind])
    return levels


def split_runs(
    text: str, *, bold: bool = False, primary: FontFace | None = None, rtl: bool | None = False
) -> list[TextRun]:
    """Cut one line of ``text`` into runs that each need one font and one direction.

    Spaces, punctuation and digits stay in the current run when its font has them, so a
    Japanese sentence with an ASCII comma is one run, not three. A run's ``level`` is its
    bidirectional embedding level: a space between an Arabic word and an English one belongs
    to the paragraph's direction, so it stays between them when the line is reordered.
    Paragraphs read left to right unless ``rtl`` says otherwise (``None``: from the text), as
    PowerPoint and LibreOffice lay out a paragraph that does not say it is right-to-left.
    """
    runs: list[TextRun] = []
    current: list[str] = []
    face: FontFace | None = None
    level = 0
    for char, char_level in zip(text, bidi_levels(text, rtl=rtl), strict=True):
        keep = face is not None and char_level == level and _is_neutral(char)
        if keep and face is not None and ord(char) in _coverage(face):
            current.append(char)
            continue
        char_face = face_for(char, bold=bold, primary=primary)
        if face is None or char_face != face or char_level != level:
            if current and face is not None:
                runs.append(TextRun("".join(current), face, level))
            current, face, level = [char], char_face, char_level
        else:
            current.append(char)
    if current and face is not None:
        runs.append(TextRun("".join(current), face, level))
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
    """The ``direction`` to give Pillow for ``run`` when raqm can lay it out, else None."""
    if not raqm_available():
        return None
    return "rtl" if run.rtl else "ltr"


def run_length(run: TextRun, size: int) -> float:
    """The advance width of one run at ``size`` pixels."""
    return float(load_face(run.face, size).getlength(run.text, direction=direction(run)))


def measure(text: str, size: int, *, bold: bool = False, primary: FontFace | None = None) -> float:
    """The advance width of ``text`` at ``size`` pixels, with fallback fonts where needed."""
    return sum(run_length(run, size) for run in split_runs(text, bold=bold, primary=primary))


def visual_order(runs: Sequence[TextRun]) -> list[TextRun]:
    """One line's runs in drawing order, left to right (rule L2 of UAX #9).

    From the highest level down to the lowest odd one, every stretch of runs at that level
    or above is reversed; each right-to-left run is then drawn right-to-left by Pillow.
    """
    order = list(runs)
    if not order:
        return order
    highest = max(run.level for run in order)
    lowest_odd = min((run.level for run in order if run.level % 2), default=highest + 1)
    for level in range(highest, lowest_odd - 1, -1):
        i = 0
        while i < len(order):
            if order[i].level < level:
                i += 1
                continue
            end = i
            while end < len(order) and order[end].level >= level:
                end += 1
            order[i:end] = order[i:end][::-1]
            i = end
    return order
