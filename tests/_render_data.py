"""Slides, images and narration for the renderer tests, built directly (no pipeline)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from slidestream._models import DeckRequest, ImageAsset, SlideResult, SlideScript
from slidestream.render import AssemblyContext, RenderOptions
from slidestream.render._layout import line_pitch, wrap
from slidestream.render._typeface import Typeface
from slidestream.testing import _wav

IMAGE_COLOUR = (230, 80, 40)
EMU_PER_PT = 12700


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


def text_height(shape: Any, face: Typeface) -> tuple[float, float]:
    """How tall ``shape``'s text is when a viewer wraps it with ``face``, and its room (pt).

    The viewer wraps at the text frame's width (the box less its insets, less each
    paragraph's left margin), with the exact line pitch and paragraph gaps written.
    """
    frame = shape.text_frame
    inner_w = (shape.width - frame.margin_left - frame.margin_right) / EMU_PER_PT
    inner_h = (shape.height - frame.margin_top - frame.margin_bottom) / EMU_PER_PT
    total = 0.0
    for number, paragraph in enumerate(frame.paragraphs):
        runs = paragraph.runs
        if not runs:
            continue
        size = runs[0].font.size.pt
        bold = bool(runs[0].font.bold)
        p_pr = paragraph._p.pPr
        margin = int(p_pr.get("marL", "0")) / EMU_PER_PT if p_pr is not None else 0.0
        # wrap() fills face.safety of the width it is given: give it the viewer's whole width.
        lines = wrap(paragraph.text, size, (inner_w - margin) / face.safety, bold=bold, face=face)
        total += len(lines) * line_pitch(size)
        if number and paragraph.space_before is not None:
            total += paragraph.space_before.pt
    return total, inner_h


def assert_text_fits(shape: Any, face: Typeface) -> None:
    """``shape``'s text stays inside its box, measured as a viewer with ``face`` lays it out."""
    used, room = text_height(shape, face)
    assert used <= room + 0.5, f"{shape.name}: {used:.1f} pt of text in {room:.1f} pt"
