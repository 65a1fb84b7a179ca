"""Slides, images and narration for the renderer tests, built directly (no pipeline)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from slidestream._models import DeckRequest, ImageAsset, SlideResult, SlideScript
from slidestream.render import AssemblyContext, RenderOptions
from slidestream.testing import _wav

IMAGE_COLOUR = (230, 80, 40)


def png(width: int = 960, height: int = 540, colour: tuple[int, int, int] = IMAGE_COLOUR) -> bytes:
    """A solid PNG with a white disc, so it is easy to find in a frame."""
    image = Image.new("RGB", (width, height), colour)
    ImageDraw.Draw(image).ellipse((width // 3, height // 3, width // 2, height // 2), fill="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def image_asset(width: int = 960, height: int = 540, **kwargs: object) -> ImageAsset:
    """An image asset with attribution and licence."""
    fields: dict[str, object] = {
        "attribution": f"Photo {width}x{height} by Test Person",
        "license": "CC BY 4.0",
        "source_url": f"https://example.invalid/{width}x{height}.png",
    }
    fields.update(kwargs)
    return ImageAsset(
        data=png(width, height), mime_type="image/png", width=width, height=height, **fields
    )  # type: ignore[arg-type]


def wav_file(folder: Path, index: int, seconds: float) -> Path:
    """A real WAV clip of ``seconds``."""
    path = folder / f"slide-{index}.wav"
    path.write_bytes(_wav(seconds, 16000, 400.0))
    return path


def slide(
    index: int,
    *,
    title: str | None = None,
    bullets: list[str] | None = None,
    images: list[ImageAsset] | None = None,
    audio: Path | None = None,
    duration_s: float = 0.0,
) -> SlideResult:
    """A complete slide."""
    script = SlideScript(
        index=index,
        title=title or f"Slide number {index + 1}",
        bullets=bullets
        if bullets is not None
        else [f"Point {k} of slide {index + 1}" for k in "ABC"],
        narration=f"Narration for slide {index + 1}. It explains the points.",
    )
    return SlideResult(
        index=index,
        script=script,
        images=images or [],
        audio_path=audio,
        duration_s=duration_s,
    )


def context(
    tmp_path: Path, *, slide_count: int = 3, title: str = "Test Deck", **options: object
) -> AssemblyContext:
    """An assembly context writing into ``tmp_path``."""
    return AssemblyContext(
        request=DeckRequest(topic="Testing the renderers", project="test"),
        title=title,
        project_dir=tmp_path,
        options=RenderOptions(**options),  # type: ignore[arg-type]
        slide_count=slide_count,
    )
