"""Where a :class:`~._scene.TextItem`'s lines and bullet markers go, for any surface.

Both painters (Pillow for frames, reportlab for PDF pages) draw a text block the same way: the
block anchored in its box, each wrapped line aligned in the room its indent leaves, the bullet
marker before a paragraph's first line on that line's baseline. This module walks the block; a
:class:`TextSurface` draws one line, measures one, and fills the round dot of a bullet.
"""

from __future__ import annotations

import functools
import logging
from typing import Protocol

from fontTools.ttLib import TTCollection, TTFont, TTLibError

from .._fonts.faces import FontFace
from ._layout import Box
from ._scene import RGB, Fill, Solid, TextItem
from ._typeface import Typeface

__all__ = ["TextSurface", "baseline_offset", "draw_text_item"]


class TextSurface(Protocol):
    """What a painter offers to draw text blocks, in points from the page's top left."""

    def line(
        self,
        x: float,
        top: float,
        text: str,
        size: float,
        fill: RGB,
        *,
        bold: bool = False,
        face: Typeface = ...,
        pitch: float | None = None,
    ) -> float:
        """Draw one line with its line box's top at ``top``; return its width."""
        ...

    def text_width(self, text: str, size: float, *, face: Typeface, bold: bool) -> float:
        """The advance width of ``text`` as :meth:`line` draws it."""
        ...

    def fill(self, fill: Fill, box: Box, *, kind: str = "rect", radius: float = 0.0) -> None:
        """Fill ``box`` (a rectangle, rounded rectangle or ellipse)."""
        ...


class _KnownHeadQuirk(logging.Filter):
    """Drops fontTools' warning about a font's creation date, which shipped fonts (Lato
    among them) trip and which changes nothing here: unasked, it would print on stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "timestamp seems very low" not in record.getMessage()


logging.getLogger("fontTools.ttLib.tables._h_e_a_d").addFilter(_KnownHeadQuirk())


@functools.lru_cache(maxsize=64)
def _descent(face: FontFace) -> float:
    """The font's descent below the baseline (its ``hhea`` table) as a share of the size."""
    try:
        if face.path.lower().endswith(".ttc"):
            collection = TTCollection(face.path, lazy=True)
            try:
                font = collection.fonts[face.index]
                return float(-font["hhea"].descent / font["head"].unitsPerEm)
            finally:
                collection.close()
        with TTFont(face.path, lazy=True) as font:
            return float(-font["hhea"].descent / font["head"].unitsPerEm)
    except (TTLibError, OSError, KeyError, IndexError, ZeroDivisionError):
        return 0.2


def baseline_offset(face: Typeface, size: float, pitch: float, *, bold: bool = False) -> float:
    """How far below a line's top its baseline sits, in points.

    With an exact line pitch, LibreOffice puts the baseline the font's descent above the
    bottom of the line; so do the painters, so a frame matches the page it paints.
    """
    return pitch - _descent(face.face(bold=bold)) * size


def draw_text_item(surface: TextSurface, item: TextItem) -> None:
    """Draw ``item``'s lines (and bullet markers) on ``surface``, where the plan put them."""
    if item.anchor == "b":
        top = item.box.bottom - item.height
    elif item.anchor == "ctr":
        top = item.box.y + (item.box.h - item.height) / 2
    else:
        top = item.box.y
    for paragraph in item.paragraphs:
        for number, text in enumerate(paragraph.lines):
            if number == 0 and paragraph.marked and item.bullet is not None:
                _marker(surface, item, top)
            left, room = item.box.x + item.indent, item.box.w - item.indent
            if item.align != "l":
                width = surface.text_width(text, item.size, face=item.face, bold=item.bold)
                left += (room - width) / 2 if item.align == "ctr" else room - width
            surface.line(
                left,
                top,
                text,
                item.size,
                item.colour,
                bold=item.bold,
                face=item.face,
                pitch=item.pitch,
            )
            top += item.pitch
        top += item.gap


def _marker(surface: TextSurface, item: TextItem, top: float) -> None:
    mark = item.bullet
    assert mark is not None
    size = item.size
    if mark.char is None:
        dot = size * 0.32
        centre_y = top + baseline_offset(item.face, size, item.pitch) - size * 0.3
        centre_x = item.box.x + size * 0.3
        box = Box(centre_x - dot / 2, centre_y - dot / 2, dot, dot)
        surface.fill(Solid(mark.colour), box, kind="roundRect", radius=dot / 2)
        return
    marker_size = size * mark.scale
    # The marker shares the text's baseline.
    lead = baseline_offset(item.face, size, item.pitch)
    marker_lead = baseline_offset(mark.face, marker_size, marker_size * 1.2)
    surface.line(
        item.box.x,
        top + lead - marker_lead,
        mark.char,
        marker_size,
        mark.colour,
        face=mark.face,
        pitch=marker_size * 1.2,
    )
