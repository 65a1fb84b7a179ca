"""The three provider protocols every script, image and TTS backend implements.

Providers are plain objects with one async method each. They may also offer:

- ``aclose()``: called by the pipeline when it created the provider itself (from a name);
- ``stream_slides(request, outline)`` on a script provider: an async iterator of
  :class:`SlideScript` for backends that write every slide in one streamed response;
- ``name``: a short name used in errors and reports (the registry name for built-ins).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from .._models import DeckRequest, ImageAsset, Outline, SlideScript, SpeechClip

__all__ = [
    "ImageProvider",
    "ScriptProvider",
    "SlideStreamingScriptProvider",
    "TTSProvider",
]


@runtime_checkable
class ScriptProvider(Protocol):
    """Writes the outline and the slide scripts."""

    async def outline(self, request: DeckRequest) -> Outline:
        """Plan the deck: a title and one item per slide."""
        ...

    async def write_slide(self, request: DeckRequest, outline: Outline, index: int) -> SlideScript:
        """Write slide ``index`` (0-based) of ``outline``."""
        ...


@runtime_checkable
class SlideStreamingScriptProvider(ScriptProvider, Protocol):
    """A script provider that writes all slides in one streamed response."""

    def stream_slides(self, request: DeckRequest, outline: Outline) -> AsyncIterator[SlideScript]:
        """Yield each slide's script the moment it is written, in any order."""
        ...


@runtime_checkable
class ImageProvider(Protocol):
    """Finds or makes images for a slide."""

    async def find_images(
        self, request: DeckRequest, slide: SlideScript, *, limit: int
    ) -> list[ImageAsset]:
        """Return up to ``limit`` images for ``slide`` (an empty list when there are none)."""
        ...


@runtime_checkable
class TTSProvider(Protocol):
    """Turns narration text into speech."""

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        """Speak ``text`` with ``voice`` (or the provider's choice for ``language``)."""
        ...
