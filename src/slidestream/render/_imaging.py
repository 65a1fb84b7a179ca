"""Reading slide images: decode, honour EXIF orientation, re-encode for PowerPoint.

Image bytes are decoded under a pixel limit, large ones at a reduced scale where the format
allows (:func:`slidestream._images.open_bounded`), and scaled to at most :data:`MAX_SIDE`,
so one huge image cannot exhaust memory; 16-bit, CMYK and palette images become 8-bit RGB(A)
(a 16-bit greyscale PNG keeps its greys instead of turning white).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from .._exceptions import RenderError
from .._images import open_bounded, to_8bit
from .._models import ImageAsset, SlideResult

__all__ = ["PreparedImage", "first_image", "open_image", "prepare_for_pptx"]

MAX_SIDE = 2400
"""Images larger than this (pixels, longest side) are scaled down before embedding."""
_POWERPOINT_FORMATS = {"PNG", "JPEG", "GIF", "BMP"}
_POWERPOINT_MODES = {"RGB", "RGBA", "L", "LA", "P", "1"}
"""8-bit modes PowerPoint shows as they are (16-bit and CMYK images are converted)."""


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


def _cannot(asset: ImageAsset, reason: object) -> RenderError:
    return RenderError(f"Cannot use the image from {asset.source_url or asset.path}: {reason}")


def open_image(asset: ImageAsset) -> Image.Image:
    """Decode ``asset`` upright (EXIF orientation applied), 8-bit RGB or RGBA, at most
    :data:`MAX_SIDE` pixels on its longest side.

    Raises:
        RenderError: the image is empty, not an image, damaged or too large.
    """
    try:
        with open_bounded(_raw(asset), max_side=MAX_SIDE) as opened:
            upright = ImageOps.exif_transpose(opened.image)
            image = to_8bit(upright)
            if image is opened.image:
                image = image.copy()  # outlives the decoder's buffer
    except ValueError as err:
        raise _cannot(asset, err) from None
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image.convert("RGB") if image.mode == "L" else image


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
        with open_bounded(raw, max_side=MAX_SIDE) as opened:
            probe = opened.image
            keep = (
                probe.format in _POWERPOINT_FORMATS
                and probe.mode in _POWERPOINT_MODES
                and probe.getexif().get(0x0112, 1) == 1
                and not opened.reduced
                and max(probe.size) <= MAX_SIDE
            )
            size = probe.size
    except ValueError as err:
        raise _cannot(asset, err) from None
    if keep:
        return PreparedImage(raw, *size)
    image = open_image(asset)
    out = io.BytesIO()
    if image.mode == "RGBA":
        image.save(out, format="PNG", optimize=True)
    else:
        image.save(out, format="JPEG", quality=88, optimize=True)
    return PreparedImage(out.getvalue(), *image.size)
