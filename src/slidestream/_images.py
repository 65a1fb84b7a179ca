"""Image bytes: recognise, verify and convert them; load the user's own image files.

Used by the image-search downloads (:func:`prepare_image`), the ``local`` image provider and
the run's images named in a Markdown outline (:func:`load_local_image`). Everything here is
blocking: run it in a worker thread.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from ._models import ImageAsset

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "PreparedImage",
    "load_local_image",
    "prepare_image",
    "sniff_image_type",
]

IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"})
"""The file suffixes of the user's own images (in a folder, or named in a Markdown outline)."""
DEFAULT_MAX_PIXELS: Final = 40_000_000
"""Larger images are refused: decoding them would take too much memory."""
_PHOTO_FORMATS: Final = frozenset({"JPEG", "MPO", "WEBP", "AVIF", "TIFF"})
_KEEP_MODES: Final = frozenset({"RGB", "L"})


@dataclass(frozen=True)
class PreparedImage:
    """Image bytes ready for a slide."""

    data: bytes
    mime_type: str
    width: int
    height: int


def sniff_image_type(head: bytes) -> str | None:
    """The image format that ``head`` (the first bytes of a file) starts with, if any."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "avif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM":
        return "bmp"
    return None


def _verify(data: bytes, max_pixels: int) -> None:
    """Refuse ``data`` unless Pillow reads it as an image of at most ``max_pixels`` pixels.

    Raises:
        ValueError: not an image, damaged, or too large.
    """
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > max_pixels:
                raise ValueError(f"{probe.width}x{probe.height} pixels is too large")
            probe.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise ValueError(str(error)) from error
    except (OSError, SyntaxError, EOFError, IndexError) as error:
        raise ValueError(f"damaged image: {error}") from error


def _flatten(image: Image.Image) -> Image.Image:
    """8-bit RGB, with transparency composited onto white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        scale = 1 / 257 if image.mode != "F" else 255.0
        image = image.convert("I") if image.mode.startswith("I;16") else image
        image = image.point(lambda value: value * scale).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "La", "PA", "RGBa") or (
        image.mode == "L" and "transparency" in image.info
    ):
        image = image.convert("RGBA")
    if image.mode == "RGB" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def prepare_image(
    data: bytes,
    *,
    min_size: tuple[int, int] = (0, 0),
    max_pixels: int = DEFAULT_MAX_PIXELS,
    jpeg_quality: int = 90,
) -> PreparedImage | None:
    """Verify ``data`` and convert it to 8-bit RGB for slides; ``None`` when it is too small.

    Photographic formats (JPEG, WEBP, AVIF, TIFF) become JPEG, graphics formats (PNG, GIF,
    BMP) PNG, transparency is flattened onto white and EXIF rotation applied; an RGB or
    greyscale JPEG or PNG that needs none of this is kept byte for byte. ``min_size`` is
    ``(long side, short side)`` in pixels.

    Raises:
        ValueError: the data is not an image Pillow can read, or it is too large.
    """
    _verify(data, max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as opened:
            source_format = opened.format or ""
            opened.seek(0)  # the first frame of an animation
            opened.load()
            rotated = opened.getexif().get(0x0112, 1) != 1
            image = ImageOps.exif_transpose(opened) if rotated else opened
            width, height = image.size
            if max(width, height) < max(min_size) or min(width, height) < min(min_size):
                return None
            keep = (
                source_format in ("JPEG", "PNG")
                and opened.mode in _KEEP_MODES
                and "transparency" not in opened.info
                and not rotated
                and not getattr(opened, "is_animated", False)
            )
            if keep:
                mime = "image/jpeg" if source_format == "JPEG" else "image/png"
                return PreparedImage(data, mime, width, height)
            rgb = _flatten(image)
            out = io.BytesIO()
            if source_format in _PHOTO_FORMATS:
                rgb.save(out, "JPEG", quality=jpeg_quality, optimize=True)
                mime = "image/jpeg"
            else:
                rgb.save(out, "PNG", optimize=True)
                mime = "image/png"
            return PreparedImage(out.getvalue(), mime, width, height)
    except (OSError, SyntaxError, EOFError, IndexError) as error:
        raise ValueError(f"damaged image: {error}") from error


def load_local_image(
    path: str | Path, *, attribution: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageAsset:
    """The image file at ``path``, verified, as an :class:`ImageAsset` (bytes kept as they are).

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not an image Pillow can read, it is damaged, or it is too large.
    """
    file = Path(path).expanduser()
    data = file.read_bytes()
    _verify(data, max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            fmt = (image.format or "").upper()
    except (OSError, SyntaxError) as error:  # verified above; a race with a writer
        raise ValueError(f"damaged image: {error}") from error
    mime = Image.MIME.get(fmt) or mimetypes.guess_type(file.name)[0] or "image/png"
    return ImageAsset(
        data=data,
        mime_type=mime,
        width=width,
        height=height,
        source_url=file.resolve().as_uri(),
        attribution=attribution,
    )
