"""The shipped faces as they are drawn: without grid-fitting.

Lato's TrueType hinting makes FreeType run a bytecode program for every glyph it draws,
about 85 % of the time Pillow takes to draw a line of text. Slides are drawn at 20 pixels
and up, anti-aliased, where grid-fitting moves a glyph's edges by a pixel at most. So the
faces are drawn from a copy whose control-value program turns grid-fitting off (the
TrueType ``INSTCTRL`` instruction, selector 1): FreeType then draws the outlines as
designed, with the same advance widths, so lines break where they did. The copy is made in
memory, once per process; the shipped files are unchanged.
"""

from __future__ import annotations

import functools
import io

from fontTools.ttLib import TTFont, TTLibError, newTable
from fontTools.ttLib.tables.ttProgram import Program

__all__ = ["drawing_source", "unhinted"]

_NO_GRID_FITTING = bytes([0xB1, 1, 1, 0x8E])
"""``PUSHB[1] 1 1`` then ``INSTCTRL[]``: selector 1 set, grid-fitting inhibited."""


@functools.lru_cache(maxsize=8)
def unhinted(path: str) -> bytes | None:
    """The TrueType font at ``path`` with grid-fitting turned off, as bytes; ``None`` for
    a font that is not TrueType outlines or cannot be read (draw it from its file)."""
    try:
        with open(path, "rb") as file:
            source = io.BytesIO(file.read())
        with TTFont(source, lazy=True, recalcBBoxes=False, recalcTimestamp=False) as font:
            if "glyf" not in font:
                return None
            program = Program()
            program.fromBytecode(_NO_GRID_FITTING)
            prep = newTable("prep")
            prep.program = program
            font["prep"] = prep
            out = io.BytesIO()
            font.save(out, reorderTables=False)
            return out.getvalue()
    except (TTLibError, OSError, ValueError, KeyError, AssertionError):
        return None


def drawing_source(path: str) -> str | io.BytesIO:
    """What FreeType reads the font at ``path`` from: the copy without grid-fitting when
    there is one (each load shares its bytes), else the file itself."""
    data = unhinted(path)
    return path if data is None else io.BytesIO(data)
