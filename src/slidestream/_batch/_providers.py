"""The providers of each deck of a batch: made per deck, each call under the batch's limits.

A provider is chosen as a registered name (``"edge-tts"``; ``"edge-tts,piper"`` for a
fallback chain), as a factory (a provider class or a ``functools.partial`` of one) called
once per deck, or as a provider object. Names and factories are what travel well to cluster
workers: each worker makes its own provider there. An object is shared by every deck run in
one process, and copied (pickled) to each deck run on a worker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import anyio

from .. import _registry
from .._exceptions import ConfigurationError
from .._types import ProviderKind
from ..providers._protocols import SupportsAclose, provider_kind, provider_name
from ._limited import limited
from ._slots import ServiceKey, Slots

__all__ = ["DeckProviders", "ProviderChoice", "build_providers", "check_choice"]

ProviderChoice: TypeAlias = "str | Callable[[], object] | object"
"""A registered name (comma-separated for a fallback chain), a factory, or a provider."""


def _names(choice: str) -> list[str]:
    return [name.strip() for name in choice.split(",") if name.strip()]


def _is_factory(choice: object) -> bool:
    return isinstance(choice, type) or (callable(choice) and provider_kind(choice) is None)


def check_choice(choice: object, kind: ProviderKind) -> None:
    """Refuse, before any deck starts, a name nobody registered or an object of another kind.

    Raises:
        ProviderNotFoundError: no provider has that name.
        ConfigurationError: the provider cannot be imported, or is not of ``kind``.
    """
    if choice is None:
        return
    if isinstance(choice, str):
        names = _names(choice)
        if not names:
            raise ConfigurationError(f"No provider named in {choice!r}.")
        if len(names) > 1 and kind is ProviderKind.SCRIPT:
            raise ConfigurationError(
                "Only image and TTS providers can be chained with commas, not script providers."
            )
        for name in names:
            factory = _registry.load(name)
            if provider_kind(factory) not in (kind, None):
                raise ConfigurationError(f"Provider {name!r} is not {kind.label}.")
        return
    if not _is_factory(choice) and provider_kind(choice) is not kind:
        raise ConfigurationError(f"{type(choice).__name__} is not {kind.label}.")


@dataclass
class DeckProviders:
    """One deck's providers, each call under the batch's limits."""

    script: Any = None
    images: Any = None
    tts: Any = None
    owned: list[object] = field(default_factory=list)
    """The providers made for this deck; :meth:`aclose` closes them."""

    async def aclose(self) -> None:
        """Close the providers made for this deck, even when cancelled."""
        with anyio.CancelScope(shield=True):
            for provider in self.owned:
                if isinstance(provider, SupportsAclose):
                    await provider.aclose()


def _made(factory: Callable[[], object], kind: ProviderKind, owned: list[object]) -> object:
    provider = factory()
    owned.append(provider)
    if provider_kind(provider) is not kind:
        raise ConfigurationError(f"{provider_name(provider)} is not {kind.label}.")
    return provider


def _build(choice: object, kind: ProviderKind, slots: Slots, owned: list[object]) -> Any:
    if choice is None:
        return None
    if isinstance(choice, str):
        members = []
        for name in _names(choice):
            provider = _made(functools.partial(_registry.get, name), kind, owned)
            members.append(limited(provider, ServiceKey(kind, name), slots))
        if len(members) == 1:
            return members[0]
        return _registry.fallback_chain(str(kind), members)
    if _is_factory(choice):
        assert callable(choice)
        provider = _made(choice, kind, owned)
    else:
        provider = choice
    return limited(provider, ServiceKey(kind, provider_name(provider)), slots)


async def build_providers(
    *, script: object, images: object, tts: object, slots: Slots
) -> DeckProviders:
    """Make one deck's providers from the batch's choices, wrapped under ``slots``.

    When making one fails, those already made are closed before the error propagates.
    """
    built = DeckProviders()
    try:
        built.script = _build(script, ProviderKind.SCRIPT, slots, built.owned)
        built.images = _build(images, ProviderKind.IMAGES, slots, built.owned)
        built.tts = _build(tts, ProviderKind.TTS, slots, built.owned)
    except BaseException:
        await built.aclose()
        raise
    return built
