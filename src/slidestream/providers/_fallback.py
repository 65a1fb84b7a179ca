"""Provider chains: try each TTS or image provider in turn until one works.

::

    from slidestream.providers import FallbackTTS, get

    tts = FallbackTTS([get("edge-tts"), get("piper")])   # a voice even when offline

A member that fails with a :class:`ProviderError` or :class:`ConfigurationError` hands the call
to the next one; for TTS, so does a member whose clip is in an unknown format or does not
decode (each clip is checked with :func:`slidestream._media.check_clip`). A member that failed
without the service answering at all (no HTTP status: connection refused, DNS failure,
timeout, dropped stream) or that is misconfigured is skipped for ``cooldown_s`` seconds, so a
deck made offline does not wait for the network on every slide. When every member fails, the
:class:`ProviderError` names each failure.

A chain has no limit of its own: in a pipeline, each call to a member waits under that
member's limit (:func:`slidestream.member_slot`), so Edge TTS calls made through a chain share
the Edge limit with every other run, and Piper in a chain takes its share of the CPU budget.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import anyio

from .._exceptions import ConfigurationError, ProviderError, ProviderResponseError
from .._limits import member_slot
from .._media import check_clip
from .._models import DeckRequest, ImageAsset, SlideScript, SpeechClip
from ._protocols import ImageProvider, Provider, SupportsAclose, TTSProvider, provider_name

__all__ = ["FallbackImages", "FallbackTTS"]

P = TypeVar("P")
R = TypeVar("R")

DEFAULT_COOLDOWN_S = 60.0


def _unreachable(error: Exception) -> bool:
    """True when the service never answered (or the provider cannot work as configured)."""
    if isinstance(error, ConfigurationError):
        return True
    return (
        isinstance(error, ProviderError)
        and not isinstance(error, ProviderResponseError)
        and error.status_code is None
    )


class _Chain(Provider, Generic[P]):
    stage = ""

    def __init__(self, providers: Sequence[P], *, cooldown_s: float = DEFAULT_COOLDOWN_S) -> None:
        if not providers:
            raise ConfigurationError(f"{type(self).__name__} needs at least one provider.")
        self.providers: list[P] = list(providers)
        self.cooldown_s = cooldown_s
        self.name = "fallback(" + ",".join(provider_name(p) for p in self.providers) + ")"
        self._resting_until: dict[int, float] = {}

    @property
    def limit_members(self) -> list[P]:
        """The members, whose own limits their calls are kept under (see the module)."""
        return self.providers

    async def _first_success(
        self, call: Callable[[P], Awaitable[R]], *, enough: Callable[[R], bool] | None = None
    ) -> R:
        """The first result of ``call`` that succeeds (and is ``enough``, when given)."""
        failures: list[str] = []
        last: Exception | None = None
        meagre: list[R] = []
        for position, provider in enumerate(self.providers):
            now = anyio.current_time()
            if self._resting_until.get(position, 0.0) > now:
                failures.append(f"{provider_name(provider)}: skipped, it failed moments ago")
                continue
            try:
                async with member_slot(provider):
                    result = await call(provider)
            except (ProviderError, ConfigurationError) as error:
                failures.append(f"{provider_name(provider)}: {error}")
                last = error
                if _unreachable(error):
                    self._resting_until[position] = now + self.cooldown_s
                continue
            self._resting_until.pop(position, None)
            if enough is None or enough(result):
                return result
            meagre.append(result)
        if meagre:
            return meagre[0]
        status = last.status_code if isinstance(last, ProviderError) else None
        raise ProviderError(
            f"{self.name}: every provider failed. " + " | ".join(failures),
            provider=self.name,
            stage=self.stage,
            status_code=status,
        ) from last

    async def aclose(self) -> None:
        """Close every member that can be closed (the chain owns its members)."""
        for provider in self.providers:
            if isinstance(provider, SupportsAclose):
                await provider.aclose()


class FallbackTTS(_Chain[TTSProvider]):
    """A TTS provider that tries ``providers`` in order until one speaks.

    Each member's clip is checked (a known format that decodes, in a worker thread); a clip
    that fails the check passes the call on like an error. The clip returned carries the
    measured duration and, in :attr:`SpeechClip.provider`, the name of the member that spoke.

    A voice meant for one engine rarely exists in another: when a member other than the
    first refuses the voice with a :class:`ConfigurationError`, it is asked again with its
    own choice of voice for the language.

    Args:
        providers: the members, most preferred first.
        cooldown_s: how long to skip a member whose service could not be reached.
    """

    stage = "tts"

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        """Speak ``text`` with the first member that succeeds."""

        async def call(provider: TTSProvider) -> SpeechClip:
            try:
                clip = await provider.synthesize(text, voice=voice, language=language)
            except ConfigurationError:
                if voice is None or provider is self.providers[0]:
                    raise
                clip = await provider.synthesize(text, voice=None, language=language)
            return await _checked(clip, provider_name(provider))

        return await self._first_success(call)


async def _checked(clip: SpeechClip, name: str) -> SpeechClip:
    """``clip`` once it decodes, with its measured duration and the name of who spoke it.

    Raises:
        ProviderResponseError: its format is unknown, or it does not decode.
    """
    check = functools.partial(check_clip, clip.audio, str(clip.format), provider=name)
    audio_format, duration = await anyio.to_thread.run_sync(check)
    return dataclasses.replace(clip, format=audio_format, duration_s=duration, provider=name)


class FallbackImages(_Chain[ImageProvider]):
    """An image provider that tries ``providers`` in order until one finds images.

    A member that finds no image passes the call on too; when no member finds one and
    at least one answered, the result is empty rather than an error.

    Args:
        providers: the members, most preferred first.
        cooldown_s: how long to skip a member whose service could not be reached.
    """

    stage = "images"

    async def find_images(
        self, request: DeckRequest, slide: SlideScript, *, limit: int
    ) -> list[ImageAsset]:
        """Images from the first member that succeeds."""

        async def call(provider: ImageProvider) -> list[ImageAsset]:
            return await provider.find_images(request, slide, limit=limit)

        return await self._first_success(call, enough=bool)
