"""Slide frames: one 1080p PNG per slide, the picture the video holds while the slide speaks."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from .._files import atomic_write_bytes
from .._models import SlideResult
from ._assembler import AssemblyContext
from ._fonts import load_font

__all__ = ["render_frame"]


def render_frame(
    slide: SlideResult,
    *,
    context: AssemblyContext,
    path: Path,
    size: tuple[int, int] = (1920, 1080),
) -> Path:
    """Draw ``slide`` (title, bullets, first image) as a PNG at ``path`` (atomically)."""
    width, height = size
    scale = height / 1080
    image = Image.new("RGB", size, (250, 250, 247))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, width, round(150 * scale)], fill=(32, 76, 140))
    title_font = load_font(round(64 * scale), bold=True)
    draw.text((round(80 * scale), round(40 * scale)), slide.script.title, font=title_font)
    body_font = load_font(round(40 * scale))
    text_width = width if not slide.images else width // 2
    y = round(210 * scale)
    for bullet in slide.script.bullets:
        draw.text((round(90 * scale), y), "• " + bullet, font=body_font, fill=(30, 30, 30))
        y += round(70 * scale)
    if slide.images:
        try:
            picture = Image.open(io.BytesIO(slide.images[0].data)).convert("RGB")
            box = (text_width - round(80 * scale), height - round(260 * scale))
            picture.thumbnail(box)
            image.paste(picture, (text_width + round(20 * scale), round(200 * scale)))
        except OSError:
            pass
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return atomic_write_bytes(path, out.getvalue())
