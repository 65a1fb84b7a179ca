"""Drawing one line of text in any script with Pillow: run by run, in visual order.

Each run (:func:`.fallback.split_runs`) is drawn with its own font on one shared baseline, the
runs placed left to right in bidirectional display order, so CJK, Arabic and Hebrew show real
glyphs and a right-to-left word among left-to-right ones keeps the spaces around it.
"""

from __future__ import annotations

import math
from typing import Literal

from PIL import ImageDraw

from .bidi import visual_order
from .faces import FontFace, lato, load_face
from .fallback import direction, run_length, split_runs

__all__ = ["Anchor", "draw_line"]

Anchor = Literal["la", "lm", "ls", "ld", "ma", "mm", "ms", "md", "ra", "rm", "rs", "rd"]
"""Where ``xy`` is on the line, as in Pillow: horizontal (left, middle, right) then vertical
(ascender, middle, baseline, descender), measured with the primary font's metrics."""


def draw_line(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    *,
    size: int,
    fill: tuple[int, ...],
    bold: bool = False,
    primary: FontFace | None = None,
    rtl: bool | None = False,
    anchor: Anchor = "ls",
    stroke_width: int = 0,
) -> float:
    """Draw one line of ``text`` at ``size`` pixels and return its advance width in pixels.

    Characters ``primary`` (Lato when not given) lacks are drawn with a fallback font;
    ``rtl`` is the paragraph's direction (``None``: from its first strong character).
    """
    runs = visual_order(split_runs(text, bold=bold, primary=primary, rtl=rtl))
    lengths = [run_length(run, size) for run in runs]
    width = sum(lengths)
    ascent, descent = load_face(primary or lato(bold=bold), size).getmetrics()
    x, y = xy
    # Offsets are rounded half up to whole pixels, as Pillow places its own anchors.
    x -= {"l": 0, "m": math.floor(width / 2 + 0.5), "r": math.floor(width + 0.5)}[anchor[0]]
    y += {"a": ascent, "m": math.floor((ascent - descent) / 2 + 0.5), "s": 0, "d": -descent}[
        anchor[1]
    ]
    for run, length in zip(runs, lengths, strict=True):
        draw.text(
            (x, y),
            run.text,
            font=load_face(run.face, size),
            fill=fill,
            anchor="ls",
            direction=direction(run),
            stroke_width=stroke_width,
            stroke_fill=fill if stroke_width else None,
        )
        x += length
    return width
