"""Image bytes: recognise, verify and convert them; load the user's own image files.

Used by the image-search downloads (:func:`prepare_image`), the ``local`` image provider, the
run's images named in a Markdown outline (:func:`load_local_image`), and the run's check of
every image a provider returns (:func:`normalize_image`). Everything here is blocking: run it
in a worker thread.

Image bytes are untrusted: an image is measured before it is decoded (a small file can hold a
30000x30000 "decompression bomb"), a JPEG too large to decode whole is decoded at a reduced
scale, and anything bigger than :data:`DEFAULT_MAX_PIXELS` is refused. Whatever its mode
(16-bit, CMYK, palette, alpha), an image leaves here as 8-bit RGB or RGBA.
"""

from __future__ import annotations

import contextlib
import io
import math
import mimetypes
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from ._files import expand_home
from ._models import ImageAsset

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_SIDE",
    "Opened",
    "PreparedImage",
    "load_local_image",
    "normalize_image",
    "open_bounded",
    "prepare_image",
    "sniff_image_type",
    "to_8bit",
    "verify_image",
]

IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"})
"""The file suffixes of the user's own images (in a folder, or named in a Markdown outline)."""
DEFAULT_MAX_PIXELS: Final = 40_000_000
"""Larger images are refused: decoding them would take too much memory."""
MAX_IMAGE_SIDE: Final = 3840
"""A slide image is scaled down to at most this many pixels on its longest side."""
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


def verify_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Refuse ``data`` unless Pillow reads it as an image of at most ``max_pixels`` pixels
    (a quick check: the image is not decoded).

    Raises:
        ValueError: not an image, damaged, or too large; the message says which.
    """
    _verify(data, max_pixels)


def _verify(data: bytes, max_pixels: int) -> None:
    """Refuse ``data`` unless Pillow reads it as an image of at most ``max_pixels`` pixels.

    Raises:
        ValueError: not an image, damaged, or too large.
    """
    if not data:
        raise ValueError("the image is empty (0 bytes)")
    kind = sniff_image_type(data[:16])
    if kind is None:
        raise ValueError(f"not an image ({_describe(data)})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked here
            probe = Image.open(io.BytesIO(data))
        with probe:
            if probe.width * probe.height > max_pixels:
                raise ValueError(_too_large(probe.width * probe.height, max_pixels))
            probe.verify()
    except Image.DecompressionBombError as error:
        raise ValueError(_too_large(_bomb_pixels(error), max_pixels)) from None
    except UnidentifiedImageError:
        raise ValueError(f"a damaged or unsupported {kind} image ({len(data)} bytes)") from None
    except (OSError, SyntaxError, EOFError, IndexError) as error:
        raise ValueError(f"damaged image: {error}") from error


def _bomb_pixels(error: Exception) -> int | None:
    """The pixel count Pillow names in a :class:`DecompressionBombError`, if it does."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    return int(found.group(1)) if found else None


def _too_large(pixels: int | None, max_pixels: int) -> str:
    size = f"{pixels / 1_000_000:g} megapixels" if pixels else "too many pixels"
    return f"too large to decode safely ({size}; the most is {max_pixels / 1_000_000:g} megapixels)"


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


def to_8bit(image: Image.Image, *, keep_alpha: bool = True) -> Image.Image:
    """``image`` as 8-bit RGB or greyscale (``L``), or RGBA when it has transparency and
    ``keep_alpha`` is set.

    16-bit and 32-bit greyscale are scaled to 8 bits (not clipped to white), CMYK and YCbCr
    are converted, a palette with a transparent colour keeps it as alpha.
    """
    if not keep_alpha:
        return _flatten(image)
    if image.mode in ("RGB", "RGBA") or (image.mode == "L" and "transparency" not in image.info):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        scale = 1 / 257 if image.mode != "F" else 255.0
        image = image.convert("I") if image.mode.startswith("I;16") else image
        image = image.point(lambda value: value * scale).convert("L")
    alpha = image.mode in ("LA", "La", "PA", "RGBa") or "transparency" in image.info
    return image.convert("RGBA" if alpha else "RGB")


def _describe(data: bytes, size: int | None = None) -> str:
    return f"{len(data) if size is None else size} bytes starting {data[:8]!r}"


_BYTES_PER_PIXEL: Final = 8
"""The most an uncompressed pixel takes in a file (16-bit RGBA)."""
_FILE_ALLOWANCE: Final = 16_000_000
"""Room in an image file for what is not pixels (metadata, colour profiles, thumbnails)."""


def _read_image_file(file: Path, max_pixels: int) -> bytes:
    """The bytes of ``file``, read whole only once its first bytes say it is an image and its
    size could be one of at most ``max_pixels`` pixels (so a huge file costs no memory).

    Raises:
        OSError: the file cannot be read.
        ValueError: not an image, or too large a file.
    """
    with file.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(16)
        if head and sniff_image_type(head) is None:
            raise ValueError(f"not an image ({_describe(head, size)})")
        most = max_pixels * _BYTES_PER_PIXEL + _FILE_ALLOWANCE
        if size > most:
            raise ValueError(
                f"too large a file ({size // 1_000_000} MB) for an image of at most "
                f"{max_pixels / 1_000_000:g} megapixels"
            )
        return head + handle.read()


@dataclass(frozen=True)
class Opened:
    """A decoded image and the pixel size it has in the file (a JPEG may be decoded smaller)."""

    image: Image.Image
    size: tuple[int, int]

    @property
    def reduced(self) -> bool:
        """True when the image was decoded at a reduced scale."""
        return self.image.size != self.size


def _draft_size(width: int, height: int, max_pixels: int, max_side: int | None) -> float | None:
    """The scale to ask a JPEG decoder for (it gives between that and twice that), or None."""
    longest = max(width, height)
    scale = (max_side or longest) / longest
    if width * height > max_pixels:
        # Half the pixel-limited scale: what the decoder gives is then under the limit.
        return min(scale, math.sqrt(max_pixels / (width * height)) / 2)
    return scale if scale < 1 else None


@contextlib.contextmanager
def open_bounded(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_side: int | None = None
) -> Iterator[Opened]:
    """Decode ``data`` (its first frame), refusing what would take too much memory.

    A JPEG over ``max_pixels`` or ``max_side`` is decoded at a reduced scale where one fits
    (1/2, 1/4, 1/8: cheap, the decoder skips the detail); any other image over
    ``max_pixels`` is refused before it is decoded.

    Raises:
        ValueError: empty, not an image, damaged, or too large; the message says which.
    """
    if not data:
        raise ValueError("the image is empty (0 bytes)")
    if sniff_image_type(data[:16]) is None:
        raise ValueError(f"not an image ({_describe(data)})")
    try:
        with warnings.catch_warnings():
            # Our own limit is checked below, before anything is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise ValueError(_too_large(_bomb_pixels(error), max_pixels)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        kind = sniff_image_type(data[:16])
        raise ValueError(f"a damaged or unsupported {kind} image ({len(data)} bytes)") from None
    with image:
        width, height = image.size
        scale = _draft_size(width, height, max_pixels, max_side)
        if image.format == "JPEG" and scale is not None:
            image.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
        if image.size[0] * image.size[1] > max_pixels:
            raise ValueError(
                f"too large: {width}x{height} pixels (the most is "
                f"{max_pixels / 1_000_000:g} megapixels)"
            )
        try:
            image.seek(0)  # the first frame of an animation
            image.load()
        except Exception as error:  # decoders raise many types on damaged data
            raise ValueError(f"damaged image: {type(error).__name__}: {error}") from None
        yield Opened(image, (width, height))


def normalize_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = MAX_IMAGE_SIDE,
    jpeg_quality: int = 90,
) -> PreparedImage:
    """``data`` checked and made ready for a slide: upright, 8-bit, at most ``max_side``.

    An 8-bit RGB, greyscale or palette JPEG or PNG without transparency that needs no change
    is kept byte for byte (the user's own file stays the file they made); any
    other image is re-encoded: PNG when it has transparency or came as a graphics format,
    JPEG otherwise.

    Raises:
        ValueError: empty, not an image, damaged, or too large; the message says which.
    """
    with open_bounded(data, max_pixels=max_pixels, max_side=max_side) as opened:
        source = opened.image
        source_format = source.format or ""
        rotated = source.getexif().get(0x0112, 1) not in (1, None)
        keep = (
            source_format in ("JPEG", "PNG")
            and (source.mode in _KEEP_MODES or (source.mode == "P" and source_format == "PNG"))
            and "transparency" not in source.info
            and not rotated
            and not opened.reduced
            and max(source.size) <= max_side
        )
        if keep:
            mime = "image/jpeg" if source_format == "JPEG" else "image/png"
            return PreparedImage(data, mime, *source.size)
        image = to_8bit(ImageOps.exif_transpose(source) if rotated else source)
        if max(image.size) > max_side:
            image = image.copy() if image is source else image
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if image.mode == "RGBA" or source_format not in _PHOTO_FORMATS:
            image.save(out, "PNG")
            return PreparedImage(out.getvalue(), "image/png", *image.size)
        image.save(out, "JPEG", quality=jpeg_quality)
        return PreparedImage(out.getvalue(), "image/jpeg", *image.size)


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
    file = expand_home(path)
    data = _read_image_file(file, max_pixels)
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
