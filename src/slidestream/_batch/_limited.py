"""Providers that take a batch-wide slot around each call to the provider they wrap.

The pipeline of each deck keeps its own per-run limits; these wrappers add the batch's
limit on top, so every deck of a batch (in one process or on every worker of a cluster)
shares one limit per service. A wrapper has its provider's ``name`` and abilities: a
script provider that streams slides still streams them, holding one slot for the stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio

from .._models import DeckRequest, ImageAsset, Outline, SlideScript, SpeechClip
from ..providers._protocols import (
    ImageProvider,
    ScriptProvider,
    SlideStream,
    SlideStreamingScriptProvider,
    SupportsAclose,
    TTSProvider,
    provider_name,
)
from ._slots import ServiceKey, Slots

__all__ = ["limited"]


class _Limited:
    def __init__(self, inner: Any, key: ServiceKey, slots: Slots) -> None:
        self.inner = inner
        self.key = key
        self.slots = slots
        self.name = provider_name(inner)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} under {self.key}>"

    async def aclose(self) -> None:
        """Close the wrapped provider."""
        if isinstance(self.inner, SupportsAclose):
            await self.inner.aclose()


class LimitedTTS(_Limited):
    """A TTS provider under a batch-wide limit."""

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        """The wrapped provider's ``synthesize``, inside a slot."""
        async with self.slots.slot(self.key):
            clip: SpeechClip = await self.inner.synthesize(text, voice=voice, language=language)
            return clip


class LimitedImages(_Limited):
    """An image provider under a batch-wide limit."""

    async def find_images(
        self, request: DeckRequest, slide: SlideScript, *, limit: int
    ) -> list[ImageAsset]:
        """The wrapped provider's ``find_images``, inside a slot."""
        async with self.slots.slot(self.key):
            images: list[ImageAsset] = await self.inner.find_images(request, slide, limit=limit)
            return images


class LimitedScript(_Limited):
    """A script provider under a batch-wide limit."""

    async def outline(self, request: DeckRequest) -> Outline:
        """The wrapped provider's ``outline``, inside a slot."""
        async with self.slots.slot(self.key):
            outline: Outline = await self.inner.outline(request)
            return outline

    async def write_slide(self, request: DeckRequest, outline: Outline, index: int) -> SlideScript:
        """The wrapped provider's ``write_slide``, inside a slot."""
        async with self.slots.slot(self.key):
            script: SlideScript = await self.inner.write_slide(request, outline, index)
            return script


class _SlotHeldSlides:
    """Slides from a stream opened on first use inside a slot held until the stream closes."""

    def __init__(
        self,
        open_stream: Callable[[], AsyncIterator[SlideScript]],
        slot: AbstractAsyncContextManager[None],
    ) -> None:
        self._open = open_stream
        self._slot = slot
        self._stream: AsyncIterator[SlideScript] | None = None
        self._held = False

    def __aiter__(self) -> _SlotHeldSlides:
        return self

    async def __anext__(self) -> SlideScript:
        if self._stream is None:
            await self._slot.__aenter__()
            self._held = True
            self._stream = self._open()
        try:
            return await self._stream.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        stream: object = self._stream
        self._stream = None
        try:
            if isinstance(stream, SupportsAclose):
                await stream.aclose()
        finally:
            if self._held:
                self._held = False
                with anyio.CancelScope(shield=True):
                    await self._slot.__aexit__(None, None, None)


class LimitedStreamingScript(LimitedScript):
    """A script provider that streams all slides in one response, under a batch-wide limit."""

    def stream_slides(self, request: DeckRequest, outline: Outline) -> SlideStream:
        """The wrapped provider's stream, holding one slot from its first slide to its end."""
        return SlideStream(
            _SlotHeldSlides(
                lambda: self.inner.stream_slides(request, outline), self.slots.slot(self.key)
            )
        )


def limited(provider: object, key: ServiceKey, slots: Slots) -> Any:
    """``provider`` wrapped so each of its calls takes one of ``key``'s slots."""
    if isinstance(provider, TTSProvider):
        return LimitedTTS(provider, key, slots)
    if isinstance(provider, ImageProvider):
        return LimitedImages(provider, key, slots)
    if isinstance(provider, ScriptProvider):
        if isinstance(provider, SlideStreamingScriptProvider):
            return LimitedStreamingScript(provider, key, slots)
        return LimitedScript(provider, key, slots)
    raise TypeError(f"{provider_name(provider)} is not a provider")
