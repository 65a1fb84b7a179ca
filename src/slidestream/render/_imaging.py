"""Reading slide images: decode, honour EXIF orientation, re-encode for PowerPoint."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from .._exceptions import RenderError
from .._models import ImageAsset, SlideResult

__all__ = ["PreparedImage", "first_image", "open_image", "prepare_for_pptx"]

MAX_SIDE = 2400
"""Images larger than this (pixels, longest side) are scaled down before embedding."""
_POWERPOINT_FORMATS = {"PNG", "JPEG", "GIF", "BMP"}


def first_image(slide: SlideResult) -> ImageAsset | None:
    """The image a slide shows: its first one that has data or a readable path."""
    for asset in slide.images:
        if asset.data or (asset.path is not None and asset.path.is_file()):
            return asset
    return None


def _raw(asset: ImageAsset) -> bytes:
    if asset.data:
        return asset.data
    if asset.path is not None:
        return asset.path.read_bytes()
    raise RenderError("The image has neither data nor a path.")


def open_image(asset: ImageAsset) -> Image.Image:
    """Decode ``asset`` upright (EXIF orientation applied), as RGB or RGBA."""
    try:
        image = Image.open(io.BytesIO(_raw(asset)))
        image.load()
    except (UnidentifiedImageError, OSError) as err:
        raise RenderError(
            f"Cannot read the image from {asset.source_url or asset.path}: {err}"
        ) from err
    upright = ImageOps.exif_transpose(image)
    if upright.mode not in ("RGB", "RGBA"):
        has_alpha = upright.mode in ("LA", "PA") or "transparency" in upright.info
        upright = upright.convert("RGBA" if has_alpha else "RGB")
    return upright


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to embed: bytes PowerPoint reads, and its pixel size."""

    data: bytes
    width: int
    height: int


def prepare_for_pptx(asset: ImageAsset) -> PreparedImage:
    """The image as PNG/JPEG/GIF bytes, upright and at most :data:`MAX_SIDE` pixels.

    The original bytes are kept when they already qualify; anything else (WebP, AVIF, a
    rotated JPEG, a huge photo) is re-encoded: JPEG for opaque images, PNG otherwise.
    """
    raw = _raw(asset)
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            fmt = probe.format or ""
            orientation = probe.getexif().get(0x0112, 1)
            size = probe.size
    except (UnidentifiedImageError, OSError) as err:
        raise RenderError(
            f"Cannot read the image from {asset.source_url or asset.path}: {err}"
        ) from err
    if fmt in _POWERPOINT_FORMATS and orientation == 1 and max(size) <= MAX_SIDE:
        return PreparedImage(raw, *size)
    image = open_image(asset)
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if image.mode == "RGBA":
        image.save(out, format="PNG", optimize=True)
    else:
        image.save(out, format="JPEG", quality=88, optimize=True)
    return PreparedImage(out.getvalue(), *image.size)
