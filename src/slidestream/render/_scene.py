"""A page as a list of things to draw: what the Pillow painter paints.

The built-in theme and a user's template both describe their pages in these terms
(``_look.py``): a background fill, then shapes, pictures and text blocks, in points, in
drawing order. ``_paint.py`` turns a :class:`Scene` into pixels, so one painter draws video
frames and PDF pages in either look.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

from ._layout import Box, ImagePlacement, line_pitch
from ._typeface import LATO, Typeface

__all__ = [
    "RGB",
    "Align",
    "Anchor",
    "BulletMark",
    "Fill",
    "Gradient",
    "ImageItem",
    "Item",
    "LineItem",
    "Paragraph",
    "PictureFill",
    "Scene",
    "ShapeItem",
    "Solid",
    "TextItem",
]

RGB = tuple[int, int, int]
Align = Literal["l", "ctr", "r"]
Anchor = Literal["t", "ctr", "b"]


@dataclass(frozen=True)
class Solid:
    """One colour."""

    colour: RGB


@dataclass(frozen=True)
class Gradient:
    """A linear gradient: ``(position 0..1, colour)`` stops along ``angle`` degrees
    (0: left to right, 90: top to bottom, as DrawingML's ``a:lin``)."""

    stops: tuple[tuple[float, RGB], ...]
    angle: float = 90.0


@dataclass(frozen=True)
class PictureFill:
    """A picture stretched over the area (a template's background image)."""

    data: bytes


Fill = Solid | Gradient | PictureFill


@dataclass(frozen=True)
class ShapeItem:
    """A rectangle, rounded rectangle or ellipse, filled and/or outlined."""

    box: Box
    fill: Fill | None
    kind: Literal["rect", "roundRect", "ellipse"] = "rect"
    radius: float = 0.0
    outline: RGB | None = None
    outline_width: float = 0.0


@dataclass(frozen=True)
class LineItem:
    """A straight line from ``(x1, y1)`` to ``(x2, y2)`` in points."""

    x1: float
    y1: float
    x2: float
    y2: float
    colour: RGB
    width: float = 1.0


@dataclass(frozen=True)
class ImageItem:
    """A picture (image file bytes, or a decoded upright image) placed as ``placement`` says."""

    data: bytes | Image.Image
    placement: ImagePlacement
    radius: float = 0.0
    shadow: bool = False


@dataclass(frozen=True)
class BulletMark:
    """The marker before a bullet: a character, or a round dot (``char=None``)."""

    colour: RGB
    char: str | None = None
    face: Typeface = LATO
    scale: float = 1.0
    """The marker's size as a share of the text size."""


@dataclass(frozen=True)
class Paragraph:
    """Wrapped lines; ``marked`` paragraphs start with the bullet marker."""

    lines: tuple[str, ...]
    marked: bool = False


@dataclass(frozen=True)
class TextItem:
    """A block of text in ``box`` (its insets already taken off), as the plan wrapped it."""

    box: Box
    paragraphs: tuple[Paragraph, ...]
    size: float
    colour: RGB
    face: Typeface = LATO
    bold: bool = False
    align: Align = "l"
    anchor: Anchor = "t"
    indent: float = 0.0
    """Left margin of the text; a marker sits in it."""
    gap: float = 0.0
    """Extra space between paragraphs, in points."""
    bullet: BulletMark | None = None

    @property
    def pitch(self) -> float:
        """The distance between baselines."""
        return line_pitch(self.size)

    @property
    def height(self) -> float:
        """The block's height: its lines and the gaps between paragraphs."""
        lines = sum(len(p.lines) for p in self.paragraphs)
        return lines * self.pitch + max(0, len(self.paragraphs) - 1) * self.gap


Item = ShapeItem | LineItem | ImageItem | TextItem


@dataclass(frozen=True)
class Scene:
    """One page: its size in points, its background, and what is drawn on it, in order."""

    width: float
    height: float
    background: Fill
    items: tuple[Item, ...] = field(default_factory=tuple)
