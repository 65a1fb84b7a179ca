"""A slide's own files: the images and narration clip saved in the project folder.

Blocking work (reading, verifying and writing files); the stages run it in worker threads.
File names come from the slide index and our own tables, never from provider data. Every
image is decoded under a pixel limit and made 8-bit and no larger than a slide needs
(:func:`check_image`) before it is saved, so the renderer never meets a decompression bomb,
a 16-bit PNG or a CMYK JPEG.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .. import _images
from .._constants import AUDIO_DIR, IMAGES_DIR
from .._exceptions import InvalidInputError, ProviderResponseError
from .._files import atomic_write_bytes
from .._models import ImageAsset
from .._types import AudioFormat

__all__ = ["check_image", "load_local_image", "save_clip", "save_images"]

_IMAGE_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


def _normalized(image: ImageAsset) -> ImageAsset:
    """``image`` with its bytes decoded under the limits and made ready for a slide.

    Raises:
        ValueError: empty, not an image, damaged, or too large.
    """
    ready = _images.normalize_image(image.data)
    if ready.data is image.data:
        return image
    return replace(
        image, data=ready.data, mime_type=ready.mime_type, width=ready.width, height=ready.height
    )


def check_image(image: ImageAsset, *, provider: str, number: int) -> ImageAsset:
    """Image ``number`` (1-based) of a provider's answer, checked and made ready.

    Raises:
        ProviderResponseError: the image is empty, not an image, damaged or too large.
    """
    try:
        return _normalized(image)
    except ValueError as err:
        raise ProviderResponseError(
            f"image {number} from {provider} is not usable: {err}", provider=provider
        ) from None


def load_local_image(path_text: str) -> ImageAsset:
    """The image a script names by path (a Markdown outline's ``![alt](path)``), checked.

    Raises:
        InvalidInputError: the file cannot be read, or is not an image we can use.
    """
    try:
        return _normalized(_images.load_local_image(path_text))
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"cannot use image {path_text}: {err}") from err


def save_images(project_dir: Path, index: int, images: list[ImageAsset]) -> list[ImageAsset]:
    """Write slide ``index``'s images as ``images/slide-NN-K.<ext>``; return them with paths."""
    saved = []
    for number, image in enumerate(images, start=1):
        suffix = _IMAGE_SUFFIXES.get(image.mime_type, ".img")
        path = project_dir / IMAGES_DIR / f"slide-{index + 1:02d}-{number}{suffix}"
        atomic_write_bytes(path, image.data)
        saved.append(replace(image, path=path))
    return saved


def save_clip(project_dir: Path, index: int, audio_format: AudioFormat, audio: bytes) -> Path:
    """Write slide ``index``'s checked narration as ``audio/slide-NN.<suffix>``."""
    path = project_dir / AUDIO_DIR / f"slide-{index + 1:02d}.{audio_format.suffix}"
    return atomic_write_bytes(path, audio)
