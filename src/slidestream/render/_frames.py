"""Slide frames: each slide drawn to a picture file with Pillow, as the MP4 shows it.

The frame follows the same layout rules as the PPTX (``_layout.py``) in the deck's look
(``_look.py``): the built-in theme, or the user's template with its background, furniture,
fonts and colours. A frame is one picture, so a slide whose text the PPTX splits over a
continuation slide is drawn with smaller text instead (and, past a hard floor, its last lines
cut with an ellipsis). The video is 16:9; a 4:3 template's frames are pillarboxed.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from .._models import SlideResult
from ._imaging import first_image, open_image
from ._layout import plan_pages
from ._look import Look
from ._paint import paint, write_frame
from ._scene import Scene

__all__ = ["FRAME_SIZE", "fit_size", "framed", "render_frame", "slide_number", "slide_scene"]

FRAME_SIZE = (1920, 1080)
"""The video's frame size."""


def slide_number(index: int, count: int) -> str:
    """``"3 / 8"``: a slide's number as its footer shows it."""
    return f"{index + 1} / {max(count, index + 1)}"


def slide_scene(slide: SlideResult, look: Look, count: int) -> Scene:
    """A slide as one page (text shrunk rather than continued), as the video shows it."""
    asset = first_image(slide)
    image = open_image(asset) if asset is not None else None
    plan = plan_pages(
        slide.script.title,
        slide.script.bullets,
        look.geometry(with_image=image is not None),
        image_size=image.size if image is not None else None,
        max_pages=1,
    )[0]
    return look.content_scene(plan, image, slide_number(slide.index, count))


def fit_size(page: tuple[float, float], frame: tuple[int, int] = FRAME_SIZE) -> tuple[int, int]:
    """The largest pixel size of ``page``'s aspect that fits ``frame``."""
    width, height = page
    scale = min(frame[0] / width, frame[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def framed(picture: Image.Image, frame: tuple[int, int] = FRAME_SIZE) -> Image.Image:
    """``picture`` centred on a black frame of ``frame`` pixels (pillarbox or letterbox);
    ``picture`` itself when it is an RGB picture of that size."""
    if picture.size == frame:
        return picture if picture.mode == "RGB" else picture.convert("RGB")
    inner = fit_size(picture.size, frame)
    canvas = Image.new("RGB", frame, (0, 0, 0))
    resized = picture.convert("RGB").resize(inner, Image.Resampling.LANCZOS)
    canvas.paste(resized, ((frame[0] - inner[0]) // 2, (frame[1] - inner[1]) // 2))
    return canvas


def render_frame(
    slide: SlideResult,
    *,
    look: Look,
    count: int,
    path: Path,
    size: tuple[int, int] = FRAME_SIZE,
) -> Path:
    """Draw ``slide`` as a picture of ``size`` pixels at ``path`` (written atomically): a PNG,
    or an uncompressed PPM when ``path`` ends in ``.ppm``.

    Thread-safe: it shares no mutable state (fonts are cached per thread).
    """
    scene = slide_scene(slide, look, count)
    picture = paint(scene, fit_size(look.size, size))
    return write_frame(framed(picture, size), path)
