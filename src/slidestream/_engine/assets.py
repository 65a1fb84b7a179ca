"""A slide's own files: the images and narration clip saved in the project folder.

Blocking work (reading, verifying and writing files); the stages run it in worker threads.
File names come from the slide index and our own tables, never from provider data.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import replace
from pathlib import Path

from PIL import Image

from .._constants import AUDIO_DIR, IMAGES_DIR
from .._exceptions import InvalidInputError
from .._files import atomic_write_bytes
from .._models import ImageAsset
from .._types import AudioFormat

__all__ = ["load_local_image", "save_clip", "save_images"]

_IMAGE_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


def load_local_image(path_text: str) -> ImageAsset:
    """The image a script names by path (a Markdown outline's ``![alt](path)``), verified.

    Raises:
        InvalidInputError: the file cannot be read, or is not an image Pillow can open.
    """
    path = Path(path_text).expanduser()
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            fmt = (image.format or "").lower()
    except (OSError, ValueError, SyntaxError) as err:  # Pillow reports a broken PNG as SyntaxError
        raise InvalidInputError(f"cannot use image {path_text}: {err}") from err
    mime = Image.MIME.get(fmt.upper()) or mimetypes.guess_type(path.name)[0] or "image/png"
    return ImageAsset(
        data=data, mime_type=mime, width=width, height=height, source_url=path.resolve().as_uri()
    )


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
