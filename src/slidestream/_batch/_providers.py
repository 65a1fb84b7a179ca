"""The providers of each deck of a batch, made from names, factories or objects.

A provider is chosen as a registered name (``"edge-tts"``; ``"edge-tts,piper"`` for a
fallback chain), as a factory (a provider class or a ``functools.partial`` of one), or as a
provider object. A name's provider is made once per process and shared by the batch's decks
there (Piper loads its voice once); a factory is called once per deck; an object is shared
by every deck in one process, and copied (pickled) into each deck made on a worker. Their
calls are limited by the pipeline, under the batch's shared :class:`~slidestream.Limits`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import anyio

from .. import _registry
from .._exceptions import ConfigurationError
from .._types import ProviderKind
from ..providers._protocols import SupportsAclose, provider_kind, provider_name

__all__ = [
    "DeckProviders",
    "ProviderChoice",
    "SharedProviders",
    "build_providers",
    "check_choice",
]

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


class SharedProviders:
    """Providers made from names, shared by the decks of one batch in one process.

    A provider such as Piper loads its model once per process instead of once per deck.
    :meth:`aclose` closes them when the batch ends there.
    """

    def __init__(self) -> None:
        self._made: dict[tuple[ProviderKind, str], object] = {}

    def get(self, kind: ProviderKind, name: str) -> object:
        """The provider registered as ``name``, made on first use."""
        provider = self._made.get((kind, name))
        if provider is None:
            provider = _registry.get(name)
            if provider_kind(provider) is not kind:
                raise ConfigurationError(f"Provider {name!r} is not {kind.label}.")
            self._made[kind, name] = provider
        return provider

    async def aclose(self) -> None:
        """Close every provider made here, even when cancelled."""
        made = list(self._made.values())
        self._made.clear()
        await _close_all(made)


async def _close_all(providers: list[object]) -> None:
    with anyio.CancelScope(shield=True):
        for provider in providers:
            if isinstance(provider, SupportsAclose):
                await provider.aclose()


@dataclass
class DeckProviders:
    """One deck's providers."""

    script: Any = None
    images: Any = None
    tts: Any = None
    owned: list[object] = field(default_factory=list)
    """The providers made for this deck alone (from factories); :meth:`aclose` closes them."""

    async def aclose(self) -> None:
        """Close the providers made for this deck, even when cancelled."""
        await _close_all(self.owned)


def _build(choice: object, kind: ProviderKind, shared: SharedProviders, owned: list[object]) -> Any:
    if choice is None:
        return None
    if isinstance(choice, str):
        members = [shared.get(kind, name) for name in _names(choice)]
        if len(members) == 1:
            return members[0]
        return _registry.fallback_chain(str(kind), members)
    provider = choice
    if _is_factory(choice):
        assert callable(choice)
        provider = choice()
        owned.append(provider)
        if provider_kind(provider) is not kind:
            raise ConfigurationError(f"{provider_name(provider)} is not {kind.label}.")
    return provider


async def build_providers(
    *, script: object, images: object, tts: object, shared: SharedProviders
) -> DeckProviders:
    """One deck's providers from the batch's choices.

    Names come from ``shared``; factories are called for this deck, and what they made is
    closed before an error propagates.
    """
    built = DeckProviders()
    try:
        built.script = _build(script, ProviderKind.SCRIPT, shared, built.owned)
        built.images = _build(images, ProviderKind.IMAGES, shared, built.owned)
        built.tts = _build(tts, ProviderKind.TTS, shared, built.owned)
    except BaseException:
        await built.aclose()
        raise
    return built
