"""Per-character font fallback: Lato first, then an installed font that has the glyph.

Lato covers Latin, Greek and Cyrillic. For anything else (CJK, Arabic, Hebrew, Devanagari,
Georgian, symbols) a line is cut into runs, each drawn with the first installed font
(:mod:`.faces`) whose character map covers it and in one bidirectional level (:mod:`.bidi`).

Right-to-left scripts are shaped and ordered by Pillow's libraqm layout engine when Pillow has
it (``PIL.features.check("raqm")``); without it Arabic letters are drawn unjoined and
left-to-right. See ``docs/fonts.md``.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from PIL import features

from .bidi import bidi_levels
from .faces import FontFace, cmaps, coverage, font_files, lato, load_face

__all__ = [
    "TextRun",
    "direction",
    "face_for",
    "measure",
    "raqm_available",
    "run_length",
    "split_runs",
]

_NEUTRAL_CATEGORIES = ("Z", "P", "S", "N", "C", "M")


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


@functools.lru_cache(maxsize=4096)
def _fallback_for(codepoint: int, bold: bool) -> FontFace | None:
    files = font_files()
    if bold:
        files = tuple(sorted(files, key=lambda p: "bold" not in p.name.lower()))
    for path in files:
        for index, cmap in enumerate(cmaps(path)):
            if codepoint in cmap:
                return FontFace(str(path), index)
    return None


def _is_neutral(char: str) -> bool:
    return unicodedata.category(char)[0] in _NEUTRAL_CATEGORIES


def face_for(char: str, *, bold: bool, primary: FontFace | None = None) -> FontFace:
    """The font a character is drawn with: ``primary`` (Lato when not given) when it has the
    character, else the first installed font that covers it."""
    first = primary or lato(bold=bold)
    codepoint = ord(char)
    if codepoint in coverage(first) or char in "\n\r\t":
        return first
    return _fallback_for(codepoint, bold) or first


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
        if keep and face is not None and ord(char) in coverage(face):
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


def direction(run: TextRun) -> str | None:
    """The ``direction`` to give Pillow for ``run`` when raqm can lay it out, else None."""
    if not raqm_available():
        return None
    return "rtl" if run.rtl else "ltr"


def run_length(run: TextRun, size: int) -> float:
    """The advance width of one run at ``size`` pixels."""
    return float(load_face(run.face, size).getlength(run.text, direction=direction(run)))


def measure(
    text: str,
    size: int,
    *,
    bold: bool = False,
    primary: FontFace | None = None,
    rtl: bool | None = False,
) -> float:
    """The advance width of ``text`` at ``size`` pixels, with fallback fonts where needed."""
    runs = split_runs(text, bold=bold, primary=primary, rtl=rtl)
    return sum(run_length(run, size) for run in runs)
