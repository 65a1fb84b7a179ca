"""The provider registry: names resolved through the ``slidestream.providers`` entry points.

Built-in providers are registered in slidestream's own package metadata exactly as a
third-party plugin registers in its own::

    [project.entry-points."slidestream.providers"]
    my-tts = "my_package.tts:MyTTSProvider"

An entry point names a provider class or any factory callable; ``get(name, **options)``
imports it on first use and calls it with the options. Tests put their own factories behind
the names for a while with :func:`override`.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ._exceptions import ConfigurationError, ProviderNotFoundError
from ._types import ProviderKind

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProviderInfo",
    "fallback_chain",
    "get",
    "list_providers",
    "override",
    "provider_kind",
    "register",
]

ENTRY_POINT_GROUP = "slidestream.providers"

ProviderFactory = Callable[..., object]

_runtime: dict[str, ProviderFactory] = {}


@dataclass(frozen=True)
class ProviderInfo:
    """A registered provider name and where it comes from."""

    name: str
    target: str
    """``module:attribute`` for entry points, or the factory's qualified name."""
    distribution: str | None
    """The installed package that registered it (``None`` for runtime registrations)."""


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point)
    return found


def register(name: str, factory: ProviderFactory) -> None:
    """Register ``factory`` under ``name`` for this process (takes precedence over entry points)."""
    if not name or name != name.strip():
        raise ValueError(f"invalid provider name {name!r}")
    _runtime[name] = factory


@contextlib.contextmanager
def override(factories: Mapping[str, ProviderFactory] | None = None) -> Iterator[None]:
    """Resolve the names in ``factories`` to those factories inside the block.

    On leaving the block the registry is as it was before: the overrides go, and so does
    anything :func:`register` added inside the block. Made for tests::

        with providers.override({"edge-tts": FakeTTSProvider, "openai": FakeScriptProvider}):
            deck = await StreamingPipeline(script_provider="openai", ...).run("Topic")

    Not for concurrent use from several threads: the registry is one per process.
    """
    saved = dict(_runtime)
    try:
        for name, factory in (factories or {}).items():
            register(name, factory)
        yield
    finally:
        _runtime.clear()
        _runtime.update(saved)


def list_providers() -> list[ProviderInfo]:
    """Every registered provider, sorted by name."""
    infos = {
        name: ProviderInfo(name, point.value, point.dist.name if point.dist else None)
        for name, point in _entry_points().items()
    }
    for name, factory in _runtime.items():
        infos[name] = ProviderInfo(name, getattr(factory, "__qualname__", repr(factory)), None)
    return [infos[name] for name in sorted(infos)]


def load(name: str) -> ProviderFactory:
    """Import and return the class or factory registered under ``name``."""
    if name in _runtime:
        return _runtime[name]
    points = _entry_points()
    point = points.get(name)
    if point is None:
        close = difflib.get_close_matches(name, list(points) + list(_runtime), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ProviderNotFoundError(
            f"No provider named {name!r}.{hint} Run `slidestream providers` to list them."
        )
    try:
        factory: ProviderFactory = point.load()
    except ImportError as err:
        raise ConfigurationError(
            f"Provider {name!r} ({point.value}) could not be imported: {err}"
        ) from err
    return factory


def get(name: str, /, **options: Any) -> Any:
    """Create the provider registered under ``name`` with ``options``.

    Raises:
        ProviderNotFoundError: no provider has that name.
        ConfigurationError: the provider's extra is not installed, or its options are wrong.
    """
    factory = load(name)
    try:
        return factory(**options)
    except TypeError as err:
        raise ConfigurationError(f"Provider {name!r} does not accept those options: {err}") from err


def fallback_chain(kind: str, members: list[Any]) -> Any:
    """``FallbackTTS``/``FallbackImages`` over ``members`` (tried in order) for ``kind``."""
    from .providers._fallback import FallbackImages, FallbackTTS

    if kind == "tts":
        return FallbackTTS(members)
    if kind == "images":
        return FallbackImages(members)
    raise ConfigurationError(
        f"Only image and TTS providers can be chained with commas, not {kind} providers."
    )


def provider_kind(provider: object) -> ProviderKind | None:
    """What ``provider`` (a class or an instance) is, by the protocol it implements; or None."""
    # Imported here: ``slidestream.providers`` imports this module while it initialises.
    from .providers._protocols import provider_kind as kind_of

    return kind_of(provider)
