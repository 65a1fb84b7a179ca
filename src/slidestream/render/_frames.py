"""Slide frames: each slide drawn to a PNG with Pillow, as the MP4 shows it.

The frame follows the same layout rules as the PPTX (``_layout.py``): title, bullets at the
same size and wrapping, the image in the same box, the built-in theme's colours. A frame is
one picture, so a slide whose text the PPTX splits over a continuation slide is drawn with
smaller text instead (and, past a hard floor, its last lines cut with an ellipsis).
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from .._files import atomic_write_bytes
from .._models import SlideResult
from ._assembler import AssemblyContext
from ._fallback import direction, load_face, run_length, split_runs, visual_order
from ._imaging import first_image, open_image
from ._layout import (
    THEME,
    Box,
    ImagePlacement,
    PagePlan,
    builtin_geometry,
    plan_pages,
    text_width,
)

__all__ = ["render_frame"]

RGB = tuple[int, int, int]
_BASELINE = 0.96
"""The baseline sits this many font sizes below the top of a line (Lato's metrics)."""


class _Canvas:
    """A frame being drawn, with point-to-pixel scaling."""

    def __init__(self, size: tuple[int, int], background: RGB) -> None:
        self.image = Image.new("RGB", size, background)
        self.draw = ImageDraw.Draw(self.image)
        self.scale = size[0] / 960
        self.height_pt = size[1] / self.scale

    def px(self, points: float) -> int:
        return round(points * self.scale)

    def line(
        self, x: float, top: float, text: str, size: float, fill: RGB, *, bold: bool = False
    ) -> None:
        """Draw one line of text with its top at ``top`` (points), falling back per character."""
        pixels = self.px(size)
        baseline = self.px(top + size * _BASELINE)
        cursor = float(self.px(x))
        for run in visual_order(split_runs(text, bold=bold)):
            font = load_face(run.face, pixels)
            self.draw.text(
                (cursor, baseline),
                run.text,
                font=font,
                fill=fill,
                anchor="ls",
                direction=direction(run),
            )
            cursor += run_length(run, pixels)

    def rect(self, box: Box, fill: RGB, radius: float = 0) -> None:
        self.draw.rounded_rectangle(box.scaled(self.scale), radius=self.px(radius), fill=fill)

    def picture(self, image: Image.Image, placement: ImagePlacement, radius: float) -> None:
        """Paste ``image`` cropped and scaled as ``placement`` says, with rounded corners."""
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
        patch.paste((15, 23, 42), (0, 0), shade)
        self.image.paste(patch, region[:2])

    def png(self) -> bytes:
        out = io.BytesIO()
        self.image.save(out, format="PNG", compress_level=3)
        return out.getvalue()


def _footer(canvas: _Canvas, left_text: str, right_text: str) -> None:
    size = 10
    top = canvas.height_pt - 38
    margin = 56
    canvas.line(margin, top, left_text, size, THEME.muted)
    width = text_width(right_text, size)
    canvas.line(960 - margin - width, top, right_text, size, THEME.muted)


def _draw_page(canvas: _Canvas, plan: PagePlan, image: Image.Image | None) -> None:
    title_top = plan.title_box.bottom - plan.title.height
    for i, text in enumerate(plan.title.lines):
        canvas.line(
            plan.title_box.x,
            title_top + i * plan.title.height / len(plan.title.lines),
            text,
            plan.title.size,
            THEME.title,
            bold=True,
        )
    canvas.rect(Box(plan.title_box.x, plan.title_box.bottom + 10, 56, 5), THEME.accent, 2.5)
    size = plan.body_size
    top = plan.body_box.y
    for bullet in plan.bullets:
        if not bullet.continued:
            dot = size * 0.32
            centre_y = top + size * (_BASELINE - 0.3)
            centre_x = plan.body_box.x + size * 0.3
            canvas.rect(
                Box(centre_x - dot / 2, centre_y - dot / 2, dot, dot), THEME.accent, dot / 2
            )
        for line in bullet.lines:
            canvas.line(plan.body_box.x + plan.indent, top, line, size, THEME.text)
            top += plan.line_pitch
        top += plan.paragraph_gap
    if image is not None and plan.image is not None:
        canvas.picture(image, plan.image, radius=12)


def render_frame(
    slide: SlideResult,
    *,
    context: AssemblyContext,
    path: Path,
    size: tuple[int, int] = (1920, 1080),
) -> Path:
    """Draw ``slide`` as a PNG of ``size`` pixels at ``path`` (written atomically).

    Thread-safe: it shares no mutable state (fonts are cached per thread).
    """
    canvas = _Canvas(size, THEME.background)
    geometry = builtin_geometry(960, canvas.height_pt)
    asset = first_image(slide)
    image = open_image(asset) if asset is not None else None
    plan = plan_pages(
        slide.script.title,
        slide.script.bullets,
        geometry,
        image_size=image.size if image is not None else None,
        max_pages=1,
    )[0]
    _draw_page(canvas, plan, image)
    _footer(
        canvas, context.title, f"{slide.index + 1} / {max(context.slide_count, slide.index + 1)}"
    )
    return atomic_write_bytes(path, canvas.png())
