"""Typefaces by family name: the fonts text is measured and drawn with.

The built-in theme uses the shipped Lato. A template names its own families ("Calibri",
"Arial", "Montserrat"); :func:`typeface` finds an installed font file of that family (by the
family names inside the font files, read once with fontTools), else a metric-compatible one
(Carlito for Calibri, Liberation Sans for Arial, ...), else falls back to Lato. A fallback
is *measured* less tightly (:attr:`Typeface.safety`): the viewer may draw the real font, a
little wider, so lines wrap with more room to spare.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError

from .._fonts.faces import FontFace, font_files
from ._fonts import font_path

__all__ = ["LATO", "Typeface", "typeface"]

EXACT_SAFETY = 0.94
"""Lines wrap at this share of the box width when the real font (or a metric twin) measures."""
FALLBACK_SAFETY = 0.86
"""The share when a stand-in measures: room for a real font up to about 9 % wider."""

# Metric-compatible families: the same advance widths, so lines break at the same places.
_TWINS = {
    "calibri": ("Carlito",),
    "calibri light": ("Carlito",),
    "cambria": ("Caladea",),
    "arial": ("Liberation Sans", "Arimo"),
    "helvetica": ("Liberation Sans", "Arimo"),
    "helvetica neue": ("Liberation Sans", "Arimo"),
    "arial narrow": ("Liberation Sans Narrow",),
    "times new roman": ("Liberation Serif", "Tinos"),
    "times": ("Liberation Serif", "Tinos"),
    "courier new": ("Liberation Mono", "Cousine"),
    "courier": ("Liberation Mono", "Cousine"),
}


@dataclass(frozen=True)
class Typeface:
    """A family as text is measured and drawn with it.

    Attributes:
        family: the family name the PPTX names (``"Lato"``, ``"Calibri"``).
        regular: the font file drawn for regular text.
        bold: the font file drawn for bold text (the regular one when there is no bold).
        exact: true when the files are that family or a metric-compatible one.
        synthetic_bold: draw bold by stroking the regular face (no bold file was found).
        source: the family of the files (``"Liberation Sans"`` standing in for ``"Arial"``).
    """

    family: str
    regular: FontFace
    bold: FontFace
    exact: bool = True
    synthetic_bold: bool = False
    source: str = ""

    @property
    def drawn_as(self) -> str:
        """The family actually drawn: the source's, else the family itself."""
        return self.source or self.family

    def face(self, *, bold: bool) -> FontFace:
        """The font file for regular or bold text."""
        return self.bold if bold else self.regular

    @property
    def safety(self) -> float:
        """The share of a box's width lines may fill."""
        return EXACT_SAFETY if self.exact else FALLBACK_SAFETY


LATO = Typeface(
    "Lato", FontFace(str(font_path())), FontFace(str(font_path(bold=True))), source="Lato"
)
"""The shipped Lato: the built-in theme's face, and the stand-in for unknown families."""


_lock = threading.Lock()


def _names(path: Path) -> list[tuple[int, str, str]]:
    """``(index, family, style)`` of each face in a font file."""

    def read(font: TTFont) -> tuple[str, str]:
        name = font["name"]
        family = name.getDebugName(16) or name.getDebugName(1) or ""
        style = name.getDebugName(17) or name.getDebugName(2) or ""
        return family, style

    try:
        if path.suffix.lower() == ".ttc":
            collection = TTCollection(str(path), lazy=True)
            try:
                return [(i, *read(font)) for i, font in enumerate(collection.fonts)]
            finally:
                collection.close()
        with TTFont(str(path), lazy=True) as font:
            return [(0, *read(font))]
    except (TTLibError, OSError, ValueError, KeyError, AssertionError):
        return []


@functools.lru_cache(maxsize=1)
def _families() -> dict[str, dict[str, FontFace]]:
    """Installed families by lower-case name: style (lower case) -> face. Read once."""
    found: dict[str, dict[str, FontFace]] = {}
    for path in font_files():
        for index, family, style in _names(path):
            if family:
                styles = found.setdefault(family.strip().lower(), {})
                styles.setdefault(style.strip().lower(), FontFace(str(path), index))
    return found


def _pick(styles: dict[str, FontFace], *, bold: bool) -> FontFace | None:
    wanted = ("bold", "semibold", "demibold") if bold else ("regular", "book", "normal", "roman")
    for style in wanted:
        if style in styles:
            return styles[style]
    plain = [s for s in styles if "italic" not in s and "oblique" not in s]
    if bold:
        plain = [s for s in plain if "bold" in s]
    return styles[sorted(plain)[0]] if plain else None


@functools.lru_cache(maxsize=64)
def typeface(family: str | None) -> Typeface:
    """The typeface to measure and draw ``family`` with (Lato for ``None`` or unknown names)."""
    if not family or family.strip().lower() == "lato":
        return LATO
    with _lock:
        families = _families()
    key = family.strip().lower()
    for candidate in (family.strip(), *_TWINS.get(key, ())):
        styles = families.get(candidate.lower())
        regular = _pick(styles, bold=False) if styles else None
        if styles is None or regular is None:
            continue
        bold = _pick(styles, bold=True)
        return Typeface(
            family, regular, bold or regular, synthetic_bold=bold is None, source=candidate
        )
    return Typeface(family, LATO.regular, LATO.bold, exact=False, source="Lato")
