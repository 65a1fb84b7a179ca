"""The providers jobs use: chosen from the allow-list, created once, limited for all jobs.

Each allowed provider name is created once per server (through
:func:`slidestream.providers.get`, with the operator's options) and shared by every job, so a
connection pool or a loaded voice serves them all. Image and TTS providers are wrapped in a
limiter shared by all jobs: ``max_concurrent_images`` and ``max_concurrent_tts`` hold for the
server as a whole, not per deck.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import anyio

from .. import providers as _providers
from .._models import DeckRequest, ImageAsset, SlideScript, SpeechClip
from .._types import ProviderKind
from ._config import FORBIDDEN_PROVIDERS, NO_PROVIDER, ServerConfig
from ._errors import ProviderNotAllowedError

__all__ = ["ProviderPool"]


@runtime_checkable
class _Closable(Protocol):
    async def aclose(self) -> None: ...


def _name(provider: object) -> str:
    name = getattr(provider, "name", None)
    return name if isinstance(name, str) and name else type(provider).__name__


class LimitedTTS:
    """A TTS provider whose calls take a slot of a limiter shared by every job."""

    def __init__(self, inner: Any, limiter: anyio.CapacityLimiter) -> None:
        self.inner = inner
        self.limiter = limiter
        self.name = _name(inner)

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        """The inner provider's clip, once a shared slot is free."""
        async with self.limiter:
            clip: SpeechClip = await self.inner.synthesize(text, voice=voice, language=language)
            return clip


class LimitedImages:
    """An image provider whose calls take a slot of a limiter shared by every job."""

    def __init__(self, inner: Any, limiter: anyio.CapacityLimiter) -> None:
        self.inner = inner
        self.limiter = limiter
        self.name = _name(inner)

    async def find_images(
        self, request: DeckRequest, slide: SlideScript, *, limit: int
    ) -> list[ImageAsset]:
        """The inner provider's images, once a shared slot is free."""
        async with self.limiter:
            images: list[ImageAsset] = await self.inner.find_images(request, slide, limit=limit)
            return images


class ProviderPool:
    """Allowed providers, created on first use and closed with the pool (``async with``)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._made: dict[tuple[ProviderKind, str], Any] = {}
        self._members: list[Any] = []
        self.tts_limiter = anyio.CapacityLimiter(config.max_concurrent_tts)
        self.image_limiter = anyio.CapacityLimiter(config.max_concurrent_images)

    async def __aenter__(self) -> ProviderPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with anyio.CancelScope(shield=True):
            for member in reversed(self._members):
                if isinstance(member, _Closable):
                    with contextlib.suppress(Exception):
                        await member.aclose()
        self._members.clear()
        self._made.clear()

    def choose(self, kind: ProviderKind, name: str | None) -> str:
        """The name to use for ``kind``: ``name`` if allowed, else the server's default.

        Raises:
            ProviderNotAllowedError: ``name`` (or one member of an ``a,b`` chain) is not in
                the server's allow-list.
        """
        allowed = self.config.allowed[kind]
        if name is None:
            return allowed[0]
        if name in allowed:
            return name
        parts = name.split(",")
        if len(parts) > 1 and all(part in allowed and part != NO_PROVIDER for part in parts):
            return name
        why = " (it reads the server's own files)" if name in FORBIDDEN_PROVIDERS else ""
        raise ProviderNotAllowedError(
            f"This server does not offer the {kind} provider {name!r}{why}; "
            f"choose one of: {', '.join(allowed)}."
        )

    def get(self, kind: ProviderKind, name: str) -> Any:
        """The shared provider object for ``name`` (``None`` for ``"none"``).

        Raises:
            ConfigurationError: the provider cannot be created (missing extra, bad options).
        """
        if name == NO_PROVIDER:
            return None
        key = (kind, name)
        if key not in self._made:
            self._made[key] = self._create(kind, name)
        return self._made[key]

    def _create(self, kind: ProviderKind, name: str) -> Any:
        members = []
        for part in name.split(","):
            options: Mapping[str, Any] = self.config.provider_options.get(part, {})
            member = _providers.get(part, **options)
            self._members.append(member)
            members.append(member)
        if kind is ProviderKind.SCRIPT:
            return members[0]
        if kind is ProviderKind.TTS:
            chain = members[0] if len(members) == 1 else _providers.FallbackTTS(members)
            return LimitedTTS(chain, self.tts_limiter)
        chain = members[0] if len(members) == 1 else _providers.FallbackImages(members)
        return LimitedImages(chain, self.image_limiter)
