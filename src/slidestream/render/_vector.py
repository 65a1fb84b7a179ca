"""A PDF drawn from scenes with reportlab: text stays text, shapes stay shapes.

Each page is a :class:`~._scene.Scene`, the same one the Pillow painter draws as a video
frame, so the PDF matches the video line for line: text is placed run by run where the plan
put it, in embedded font subsets (selectable and searchable), fills and outlines are vector
paths, and pictures are stored once each, cropped to what shows, as JPEG (PNG when they have
transparency) at no more than 300 dots per inch, as LibreOffice stores them when it prints.

A page whose text needs shaping (right-to-left or combining scripts, which reportlab draws
letter by letter) or a font reportlab cannot embed (CFF outlines, embedding forbidden) is
painted by Pillow and placed as one picture, so every page is drawn right or as a picture.

Pictures are prepared per page (:func:`prepare_page`, the costly part, done as each slide
completes); :func:`vector_pdf_bytes` then only writes the drawing commands.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image
from reportlab import rl_config
from reportlab.lib.colors import Color
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.pathobject import PDFPathObject

from .._fonts.bidi import visual_order
from .._fonts.faces import FontFace, lato
from .._fonts.fallback import split_runs
from ._layout import Box
from ._paint import SHADOW, open_picture, paint
from ._scene import (
    RGB,
    Fill,
    Gradient,
    ImageItem,
    Item,
    LineItem,
    PictureFill,
    Scene,
    ShapeItem,
    Solid,
    TextItem,
)
from ._text_block import baseline_offset, draw_text_item
from ._typeface import LATO, Typeface

__all__ = ["PreparedPage", "prepare_page", "vector_pdf_bytes"]

MAX_DPI = 300
"""Pictures are stored at most this many pixels per inch of the page (72 points)."""
JPEG_QUALITY = 90
SYNTHETIC_BOLD_PT = 1.0
"""The outline stroked around a regular face drawn as bold (the painter's one pixel)."""


@dataclass(frozen=True)
class _Picture:
    """A picture ready for the PDF, cropped to what shows: a JPEG file (stored in the PDF as
    it is) or a PNG file (with transparency), named by its content."""

    path: Path

    @classmethod
    def write(cls, image: Image.Image, folder: Path, *, quality: int = JPEG_QUALITY) -> _Picture:
        """``image`` (RGB or RGBA) saved in ``folder``: PNG when it has transparency, else
        JPEG."""
        out = io.BytesIO()
        if image.mode == "RGBA" and _lowest(image.getchannel("A")) < 255:
            image.save(out, format="PNG", compress_level=1)
            suffix = ".png"
        else:
            image.convert("RGB").save(out, format="JPEG", quality=quality)
            suffix = ".jpg"
        data = out.getvalue()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{hashlib.sha256(data).hexdigest()[:24]}{suffix}"
        path.write_bytes(data)
        return cls(path)


@dataclass(frozen=True)
class PreparedPage:
    """One page ready to be written: a scene whose pictures are prepared, or one picture."""

    scene: Scene | None = None
    pictures: tuple[_Picture | None, ...] = ()
    """One per :class:`ImageItem` of ``scene``, in order (``None``: unreadable, skipped)."""
    background: _Picture | None = None
    painted: _Picture | None = None
    """The page as a JPEG picture, when it cannot be drawn as vectors."""


# -- fonts ---------------------------------------------------------------------------------

_FONTS_LOCK = threading.Lock()
_registered: dict[FontFace, str | None] = {}


def _font_name(face: FontFace) -> str | None:
    """The reportlab name of ``face``, registered on first use; ``None`` if it cannot embed."""
    with _FONTS_LOCK:
        if face not in _registered:
            key = hashlib.sha1(f"{face.path}\0{face.index}".encode()).hexdigest()[:12]
            name = f"slidestream-{key}"
            try:
                pdfmetrics.registerFont(TTFont(name, face.path, subfontIndex=face.index))
            except (TTFError, OSError, ValueError, IndexError, KeyError, AssertionError):
                _registered[face] = None
            else:
                _registered[face] = name
        return _registered[face]


_WRITE_LOCK = threading.Lock()


@contextlib.contextmanager
def _binary_streams() -> Iterator[None]:
    """Store streams as binary while writing (reportlab's default, ASCII85, is a third
    larger and encoded in pure Python)."""
    with _WRITE_LOCK:
        before = rl_config.useA85
        rl_config.useA85 = 0
        try:
            yield
        finally:
            rl_config.useA85 = before


def _needs_shaping(text: str) -> bool:
    """True when ``text`` has characters reportlab would draw wrongly letter by letter."""
    return any(
        unicodedata.bidirectional(char) in ("R", "AL", "AN")
        or unicodedata.category(char).startswith("M")
        for char in text
        if ord(char) > 0x2FF
    )


def _texts(item: TextItem) -> Iterator[tuple[str, FontFace, bool]]:
    """Each line of ``item`` (and its bullet character) with its primary font and boldness."""
    for paragraph in item.paragraphs:
        for line in paragraph.lines:
            yield line, item.face.face(bold=item.bold), item.bold
    if item.bullet is not None and item.bullet.char is not None:
        yield item.bullet.char, item.bullet.face.face(bold=False), False


def _drawable(scene: Scene) -> bool:
    """True when every text of ``scene`` can be drawn as text, in fonts that can embed."""
    for item in scene.items:
        if not isinstance(item, TextItem):
            continue
        for text, face, bold in _texts(item):
            if _needs_shaping(text):
                return False
            runs = split_runs(text, bold=bold, primary=face)
            if any(_font_name(run.face) is None for run in runs):
                return False
    return True


# -- pictures ------------------------------------------------------------------------------


def _lowest(channel: Image.Image) -> int:
    low = channel.getextrema()[0]
    return int(low) if isinstance(low, (int, float)) else 0


def _stored(image: Image.Image, box: Box, folder: Path) -> _Picture:
    """``image`` scaled down to at most :data:`MAX_DPI` over ``box``, saved in ``folder``."""
    factor = min(box.w * MAX_DPI / 72 / image.width, box.h * MAX_DPI / 72 / image.height)
    if factor < 1 / 1.05:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return _Picture.write(image, folder)


def _prepared_picture(item: ImageItem, folder: Path) -> _Picture | None:
    image = open_picture(item.data)
    if image is None:
        return None
    w, h = image.size
    place = item.placement
    crop = (
        round(w * place.crop_left),
        round(h * place.crop_top),
        round(w * (1 - place.crop_right)),
        round(h * (1 - place.crop_bottom)),
    )
    if crop[2] - crop[0] < 1 or crop[3] - crop[1] < 1:
        return None
    return _stored(image.crop(crop) if place.cropped else image, place.box, folder)


def prepare_page(scene: Scene, picture_size: tuple[int, int], folder: Path) -> PreparedPage:
    """``scene`` ready for :func:`vector_pdf_bytes`, its pictures saved in ``folder`` (which
    must outlive the writing); painted at ``picture_size`` pixels when its text cannot be
    drawn as text."""
    if not _drawable(scene):
        painted = _Picture.write(paint(scene, picture_size), folder, quality=88)
        return PreparedPage(painted=painted)
    pictures = tuple(
        _prepared_picture(item, folder) for item in scene.items if isinstance(item, ImageItem)
    )
    background = None
    if isinstance(scene.background, PictureFill):
        opened = open_picture(scene.background.data)
        if opened is not None:
            background = _stored(opened, Box(0, 0, scene.width, scene.height), folder)
    # The prepared pictures stand in for the scene's own: drop those bytes.
    items = tuple(
        replace(item, data=b"") if isinstance(item, ImageItem) else item for item in scene.items
    )
    return PreparedPage(replace(scene, items=items), pictures, background)


# -- drawing -------------------------------------------------------------------------------


def _rgb(colour: RGB) -> tuple[float, float, float]:
    return (colour[0] / 255, colour[1] / 255, colour[2] / 255)


class _Page:
    """Drawing one scene on a reportlab canvas, in the scene's top-down points."""

    def __init__(self, canvas: Canvas, height: float) -> None:
        self.canvas = canvas
        self.height = height

    def y(self, top: float) -> float:
        """The PDF's y (from the bottom) of a scene's ``top`` (from the top)."""
        return self.height - top

    def path(self, box: Box, kind: str, radius: float) -> PDFPathObject:
        """A closed path around ``box``."""
        path = self.canvas.beginPath()
        x, y = box.x, self.y(box.bottom)
        if kind == "ellipse":
            path.ellipse(x, y, box.w, box.h)
        elif kind == "roundRect" and radius > 0:
            path.roundRect(x, y, box.w, box.h, min(radius, box.w / 2, box.h / 2))
        else:
            path.rect(x, y, box.w, box.h)
        path.close()
        return path

    def fill(
        self,
        fill: Fill,
        box: Box,
        *,
        kind: str = "rect",
        radius: float = 0.0,
        picture: _Picture | None = None,
    ) -> None:
        """Fill ``box`` (a rectangle, rounded rectangle or ellipse) with ``fill``."""
        canvas = self.canvas
        if isinstance(fill, Solid):
            canvas.setFillColorRGB(*_rgb(fill.colour))
            canvas.drawPath(self.path(box, kind, radius), stroke=0, fill=1)
            return
        canvas.saveState()
        canvas.clipPath(self.path(box, kind, radius), stroke=0, fill=0)
        if isinstance(fill, Gradient):
            self._gradient(fill, box)
        elif picture is not None:
            self.picture(picture, box)
        canvas.restoreState()

    def _gradient(self, fill: Gradient, box: Box) -> None:
        if not fill.stops:
            self.canvas.setFillColorRGB(1, 1, 1)
            self.canvas.rect(box.x, self.y(box.bottom), box.w, box.h, stroke=0, fill=1)
            return
        angle = math.radians(fill.angle)
        dx, dy = math.cos(angle), math.sin(angle)
        half = (abs(box.w * dx) + abs(box.h * dy)) / 2
        cx, cy = box.x + box.w / 2, box.y + box.h / 2
        stops = sorted(fill.stops)
        self.canvas.linearGradient(
            cx - dx * half,
            self.y(cy - dy * half),
            cx + dx * half,
            self.y(cy + dy * half),
            [Color(*_rgb(colour)) for _, colour in stops],
            [min(1.0, max(0.0, position)) for position, _ in stops],
            extend=True,
        )

    def picture(self, picture: _Picture, box: Box) -> None:
        """Draw ``picture`` stretched over ``box``.

        A JPEG is given by its path: reportlab then stores its bytes as they are, where an
        ``ImageReader`` would be decoded whole (and kept) just to name it.
        """
        x, y = box.x, self.y(box.bottom)
        if picture.path.suffix == ".jpg":
            self.canvas.drawImage(str(picture.path), x, y, box.w, box.h)
        else:
            self.canvas.drawImage(ImageReader(str(picture.path)), x, y, box.w, box.h, mask="auto")

    def shadow(self, box: Box, radius: float) -> None:
        """A soft shadow below and around ``box``, as the painter's blurred one."""
        canvas = self.canvas
        canvas.saveState()
        canvas.setFillColorRGB(*_rgb(SHADOW))
        steps = 6
        for step in range(steps):
            spread = 9 * (1 - step / steps)
            canvas.setFillAlpha(0.235 / steps)
            grown = Box(box.x - spread, box.y + 6 - spread, box.w + 2 * spread, box.h + 2 * spread)
            canvas.drawPath(self.path(grown, "roundRect", radius + spread), stroke=0, fill=1)
        canvas.restoreState()

    def line(
        self,
        x: float,
        top: float,
        text: str,
        size: float,
        fill: RGB,
        *,
        bold: bool = False,
        face: Typeface = LATO,
        pitch: float | None = None,
    ) -> float:
        """Draw one line of text with its line box's top at ``top``, run by run in visual
        order, the baseline where the painter puts it; return its width."""
        canvas = self.canvas
        baseline = self.y(top + baseline_offset(face, size, pitch or size * 1.2, bold=bold))
        canvas.setFillColorRGB(*_rgb(fill))
        start = x
        for run in visual_order(split_runs(text, bold=bold, primary=face.face(bold=bold))):
            name = _font_name(run.face)
            assert name is not None  # the page was checked by _drawable
            text_object = canvas.beginText(x, baseline)
            text_object.setFont(name, size)
            if bold and face.synthetic_bold:  # no bold file: stroke the regular one
                canvas.setStrokeColorRGB(*_rgb(fill))
                canvas.setLineWidth(SYNTHETIC_BOLD_PT)
                text_object.setTextRenderMode(2)
            text_object.textOut(run.text)
            canvas.drawText(text_object)
            x += pdfmetrics.stringWidth(run.text, name, size)
        return x - start

    def text_width(self, text: str, size: float, *, face: Typeface, bold: bool) -> float:
        """The advance width of ``text`` as :meth:`line` draws it."""
        total = 0.0
        for run in split_runs(text, bold=bold, primary=face.face(bold=bold)):
            name = _font_name(run.face)
            assert name is not None
            total += pdfmetrics.stringWidth(run.text, name, size)
        return total


def _draw(page: _Page, item: Item, picture: _Picture | None) -> None:
    """Draw ``item``; ``picture`` is an image item's prepared picture."""
    canvas = page.canvas
    if isinstance(item, TextItem):
        draw_text_item(page, item)
    elif isinstance(item, ShapeItem):
        if item.fill is not None:
            page.fill(item.fill, item.box, kind=item.kind, radius=item.radius)
        if item.outline is not None and item.outline_width > 0:
            canvas.setStrokeColorRGB(*_rgb(item.outline))
            canvas.setLineWidth(item.outline_width)
            canvas.drawPath(page.path(item.box, item.kind, item.radius), stroke=1, fill=0)
    elif isinstance(item, LineItem):
        canvas.setStrokeColorRGB(*_rgb(item.colour))
        canvas.setLineWidth(item.width)
        canvas.line(item.x1, page.y(item.y1), item.x2, page.y(item.y2))
    elif isinstance(item, ImageItem) and picture is not None:
        box = item.placement.box
        if item.shadow:
            page.shadow(box, item.radius)
        canvas.saveState()
        canvas.clipPath(page.path(box, "roundRect", item.radius), stroke=0, fill=0)
        page.picture(picture, box)
        canvas.restoreState()


def _draw_page(canvas: Canvas, prepared: PreparedPage, size: tuple[float, float]) -> None:
    page = _Page(canvas, size[1])
    if prepared.painted is not None:
        page.picture(prepared.painted, Box(0, 0, *size))
        return
    scene = prepared.scene
    assert scene is not None
    page.fill(scene.background, Box(0, 0, *size), picture=prepared.background)
    pictures = iter(prepared.pictures)
    for item in scene.items:
        _draw(page, item, next(pictures) if isinstance(item, ImageItem) else None)


def vector_pdf_bytes(
    pages: Sequence[PreparedPage], size: tuple[float, float], *, title: str = ""
) -> bytes:
    """A PDF of ``pages``, each ``size`` points (width, height)."""
    out = io.BytesIO()
    with _binary_streams():
        # Canvas names a base-14 font in every page's resources unless told another.
        canvas = Canvas(
            out,
            pagesize=size,
            pageCompression=1,
            invariant=1,
            initialFontName=_font_name(lato()),  # type: ignore[arg-type]  # stubs say float
        )
        canvas.setTitle(title)
        canvas.setProducer("slidestream")
        canvas.setCreator("slidestream")
        for prepared in pages:
            _draw_page(canvas, prepared, size)
            canvas.showPage()
        canvas.save()
    return out.getvalue()
