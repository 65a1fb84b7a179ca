"""Painting a :class:`~._scene.Scene` with Pillow: video frames and PDF pages.

Text is drawn run by run (per-character font fallback, bidirectional reordering, see
``slidestream._fonts.draw``) at the positions the layout plan gave, so the picture breaks
lines where the PPTX does. A line of text at pitch ``p`` has its baseline the font's descent
above the line's bottom, as LibreOffice lays out exactly spaced lines.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from .._files import atomic_writer
from .._fonts.draw import draw_line
from .._fonts.fallback import run_length, split_runs
from ._layout import Box, ImagePlacement
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

__all__ = ["Canvas", "open_picture", "paint", "to_jpeg", "write_frame"]

SHADOW = (15, 23, 42)


class Canvas:
    """A picture being drawn, with point-to-pixel scaling (``size`` pixels for ``width`` pt)."""

    def __init__(self, size: tuple[int, int], background: RGB, *, width_pt: float = 960) -> None:
        self.image = Image.new("RGB", size, background)
        self.draw = ImageDraw.Draw(self.image)
        self.scale = size[0] / width_pt
        self.height_pt = size[1] / self.scale

    def px(self, points: float) -> int:
        """``points`` in pixels."""
        return round(points * self.scale)

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
        """Draw one line of text with its line box's top at ``top`` (points); return its width.

        Characters ``face`` lacks fall back per character; right-to-left runs are reordered.
        """
        pixels = self.px(size)
        lead = baseline_offset(face, size, pitch or size * 1.2, bold=bold)
        width = draw_line(
            self.draw,
            (float(self.px(x)), self.px(top + lead)),
            text,
            size=pixels,
            fill=fill,
            bold=bold,
            primary=face.face(bold=bold),
            stroke_width=1 if bold and face.synthetic_bold else 0,
        )
        return width / self.scale

    def text_width(self, text: str, size: float, *, face: Typeface, bold: bool) -> float:
        """The advance width of ``text`` in points, as :meth:`line` draws it."""
        pixels = self.px(size)
        runs = split_runs(text, bold=bold, primary=face.face(bold=bold))
        return sum(run_length(run, pixels) for run in runs) / self.scale

    def fill(self, fill: Fill, box: Box, *, kind: str = "rect", radius: float = 0.0) -> None:
        """Fill ``box`` (a rectangle, rounded rectangle or ellipse) with ``fill``."""
        left, top, right, bottom = box.scaled(self.scale)
        size = (max(1, right - left), max(1, bottom - top))
        if isinstance(fill, Solid) and kind == "rect":
            self.draw.rectangle((left, top, right - 1, bottom - 1), fill=fill.colour)
            return
        mask = Image.new("L", size, 0)
        shape = ImageDraw.Draw(mask)
        if kind == "ellipse":
            shape.ellipse((0, 0, size[0] - 1, size[1] - 1), fill=255)
        else:
            shape.rounded_rectangle(
                (0, 0, size[0] - 1, size[1] - 1), radius=self.px(radius), fill=255
            )
        self.image.paste(_fill_image(fill, size), (left, top), mask)

    def picture(
        self, image: Image.Image, placement: ImagePlacement, radius: float, *, shadow: bool
    ) -> None:
        """Paste ``image`` cropped and scaled as ``placement`` says, corners rounded."""
        w, h = image.size
        crop = (
            round(w * placement.crop_left),
            round(h * placement.crop_top),
            round(w * (1 - placement.crop_right)),
            round(h * (1 - placement.crop_bottom)),
        )
        left, top, right, bottom = placement.box.scaled(self.scale)
        size = (max(1, right - left), max(1, bottom - top))
        tile = image.crop(crop).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, *size), radius=self.px(radius), fill=255)
        if tile.mode == "RGBA":
            mask = Image.composite(tile.getchannel("A"), mask, mask)
        if shadow:
            self._shadow(placement.box, radius)
        self.image.paste(tile.convert("RGB"), (left, top), mask)

    def _shadow(self, box: Box, radius: float) -> None:
        spread = self.px(14)
        left, top, right, bottom = box.scaled(self.scale)
        region = (left - spread, top - spread, right + spread, bottom + 2 * spread)
        patch = self.image.crop(region)
        shade = Image.new("L", patch.size, 0)
        ImageDraw.Draw(shade).rounded_rectangle(
            (
                spread,
                spread + self.px(6),
                spread + right - left,
                spread + bottom - top + self.px(6),
            ),
            radius=self.px(radius),
            fill=60,
        )
        shade = shade.filter(ImageFilter.GaussianBlur(self.px(9)))
        patch.paste(SHADOW, (0, 0), shade)
        self.image.paste(patch, region[:2])


def _palette(stops: Sequence[tuple[float, RGB]]) -> list[int]:
    ordered = sorted(stops)
    out: list[int] = []
    for n in range(256):
        t = n / 255
        below = max((s for s in ordered if s[0] <= t), default=ordered[0])
        above = min((s for s in ordered if s[0] >= t), default=ordered[-1])
        span = above[0] - below[0]
        share = (t - below[0]) / span if span > 0 else 0.0
        out += [round(a + (b - a) * share) for a, b in zip(below[1], above[1], strict=True)]
    return out


def _fill_image(fill: Fill, size: tuple[int, int]) -> Image.Image:
    """An RGB picture of ``size`` pixels painted with ``fill``."""
    if isinstance(fill, Solid):
        return Image.new("RGB", size, fill.colour)
    if isinstance(fill, PictureFill):
        upright = open_picture(fill.data)
        if upright is None:
            return Image.new("RGB", size, (255, 255, 255))
        return upright.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    assert isinstance(fill, Gradient)
    ramp = Image.linear_gradient("L").rotate(90 - fill.angle, resample=Image.Resampling.BILINEAR)
    # Rotating leaves corners unpainted: the ramp is cut from the middle of a larger square.
    ramp = ramp.resize((512, 512)).crop((128, 128, 384, 384))
    if not fill.stops:
        return Image.new("RGB", size, (255, 255, 255))
    indexed = ramp.resize(size, Image.Resampling.BILINEAR).convert("P")
    indexed.putpalette(_palette(fill.stops))
    return indexed.convert("RGB")


def open_picture(data: bytes | Image.Image) -> Image.Image | None:
    """A scene's picture upright, as RGB or RGBA; ``None`` when its bytes do not decode."""
    if isinstance(data, Image.Image):
        upright = data
    else:
        try:
            with Image.open(io.BytesIO(data)) as source:
                source.load()
                upright = ImageOps.exif_transpose(source)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
    if upright.mode not in ("RGB", "RGBA"):
        has_alpha = upright.mode in ("LA", "PA") or "transparency" in upright.info
        upright = upright.convert("RGBA" if has_alpha else "RGB")
    return upright


def _draw(canvas: Canvas, item: Item) -> None:
    if isinstance(item, TextItem):
        draw_text_item(canvas, item)
    elif isinstance(item, ShapeItem):
        if item.fill is not None:
            canvas.fill(item.fill, item.box, kind=item.kind, radius=item.radius)
        if item.outline is not None and item.outline_width > 0:
            box = item.box.scaled(canvas.scale)
            width = max(1, canvas.px(item.outline_width))
            if item.kind == "ellipse":
                canvas.draw.ellipse(box, outline=item.outline, width=width)
            else:
                radius = canvas.px(item.radius)
                canvas.draw.rounded_rectangle(box, radius, outline=item.outline, width=width)
    elif isinstance(item, LineItem):
        points = [canvas.px(v) for v in (item.x1, item.y1, item.x2, item.y2)]
        canvas.draw.line(points, fill=item.colour, width=max(1, canvas.px(item.width)))
    elif isinstance(item, ImageItem):
        image = open_picture(item.data)
        if image is not None:
            canvas.picture(image, item.placement, item.radius, shadow=item.shadow)


def paint(scene: Scene, size: tuple[int, int]) -> Image.Image:
    """The scene as an RGB picture of ``size`` pixels (its width spans the page's width)."""
    canvas = Canvas(size, (255, 255, 255), width_pt=scene.width)
    canvas.fill(scene.background, Box(0, 0, scene.width, scene.height))
    for item in scene.items:
        _draw(canvas, item)
    return canvas.image


def write_frame(image: Image.Image, path: Path) -> Path:
    """Write ``image`` (RGB) to ``path`` atomically, in the format its suffix names: ``.ppm``
    uncompressed (a frame that only ffmpeg reads, once, costs a tenth of a PNG to write and
    less to decode), else PNG at fast compression (frames are intermediates)."""
    picture = image if image.mode == "RGB" else image.convert("RGB")
    with atomic_writer(path) as handle:
        if path.suffix.lower() == ".ppm":
            picture.save(handle, format="PPM")
        else:
            picture.save(handle, format="PNG", compress_level=3)
    return path


def to_jpeg(image: Image.Image, *, quality: int = 90) -> bytes:
    """``image`` as JPEG bytes (PDF pages)."""
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
