"""The provider protocols, the optional abilities a provider may declare, and a base class.

Every script, image and TTS backend implements one small protocol (:class:`ScriptProvider`,
:class:`ImageProvider`, :class:`TTSProvider`). Optional abilities are protocols too, checked
with ``isinstance`` rather than probed with ``getattr``:

- :class:`SupportsAclose`: ``aclose()``, called by the pipeline when it created the provider
  itself (from a name);
- :class:`SlideStreamingScriptProvider`: ``stream_slides(request, outline)`` returns a
  :class:`SlideStream`, for backends that write every slide in one streamed response.

:class:`Provider` is a small base class (as httpx's ``AsyncBaseTransport``) with a ``name``,
a no-op ``aclose()`` and ``async with`` support; built-ins use it and plugins may.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

from .._models import DeckRequest, ImageAsset, Outline, SlideScript, SpeechClip
from .._types import ProviderKind

__all__ = [
    "ImageProvider",
    "Provider",
    "ScriptProvider",
    "SlideStream",
    "SlideStreamingScriptProvider",
    "SupportsAclose",
    "TTSProvider",
    "provider_kind",
    "provider_name",
]

_Self = TypeVar("_Self", bound="Provider")


@runtime_checkable
class ScriptProvider(Protocol):
    """Writes the outline and the slide scripts."""

    async def outline(self, request: DeckRequest) -> Outline:
        """Plan the deck: a title and one item per slide."""
        ...

    async def write_slide(self, request: DeckRequest, outline: Outline, index: int) -> SlideScript:
        """Write slide ``index`` (0-based) of ``outline``."""
        ...


class SlideStream:
    """A closable, typed stream of slide scripts, as ``stream_slides()`` returns.

    It owns what produces the slides (an HTTP response, a generator) the way openai-python's
    ``AsyncStream`` owns its response: iterate it, and close it with ``aclose()`` or by
    leaving ``async with``. Closing is idempotent.

    ``SlideStream(iterator)`` wraps any async iterator (an async generator's ``aclose`` is
    used when it has one); ``on_close`` runs once after it.
    """

    def __init__(
        self,
        iterator: AsyncIterator[SlideScript],
        *,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._iterator = iterator
        self._on_close = on_close
        self._closed = False

    def __aiter__(self) -> SlideStream:
        return self

    async def __anext__(self) -> SlideScript:
        if self._closed:
            raise StopAsyncIteration
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        """Stop the stream and release what it holds."""
        if self._closed:
            return
        self._closed = True
        try:
            if isinstance(self._iterator, SupportsAclose):
                await self._iterator.aclose()
        finally:
            if self._on_close is not None:
                await self._on_close()

    async def __aenter__(self) -> SlideStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@runtime_checkable
class SlideStreamingScriptProvider(ScriptProvider, Protocol):
    """A script provider that writes all slides in one streamed response."""

    def stream_slides(self, request: DeckRequest, outline: Outline) -> SlideStream:
        """Stream each slide's script the moment it is written, in any order."""
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


@runtime_checkable
class SupportsAclose(Protocol):
    """Something that holds resources (connections, a model, a thread) until ``aclose()``."""

    async def aclose(self) -> None:
        """Release what the object holds."""
        ...


class Provider:
    """A base class for providers: a ``name``, a no-op ``aclose()`` and ``async with``.

    Subclass it together with the protocol's method::

        class MyTTS(Provider):
            name = "my-tts"

            async def synthesize(self, text, *, voice, language) -> SpeechClip: ...
    """

    name: str = ""
    """A short name used in errors and reports (the registry name for built-ins); a class
    attribute usually, an instance attribute where it depends on the options."""

    async def aclose(self) -> None:
        """Release what the provider holds; the default holds nothing."""

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def provider_name(provider: object) -> str:
    """The provider's ``name``, else its class name."""
    name = getattr(provider, "name", None)
    return name if isinstance(name, str) and name else type(provider).__name__


_KIND_PROTOCOLS: tuple[tuple[ProviderKind, type], ...] = (
    (ProviderKind.SCRIPT, ScriptProvider),
    (ProviderKind.IMAGES, ImageProvider),
    (ProviderKind.TTS, TTSProvider),
)


def provider_kind(provider: object) -> ProviderKind | None:
    """What ``provider`` (an instance or a class) is, by the protocol it implements; or None."""
    for kind, protocol in _KIND_PROTOCOLS:
        if isinstance(provider, type):
            methods = [m for m in vars(protocol) if not m.startswith("_") and m != "name"]
            if all(callable(getattr(provider, method, None)) for method in methods):
                return kind
        elif isinstance(provider, protocol):
            return kind
    return None
