"""The providers jobs use: chosen from the allow-list, created once, limited for all jobs.

Each allowed provider name is created once per server (through
:func:`slidestream.providers.get`, with the operator's options) and shared by every job, so a
connection pool or a loaded voice serves them all. Every job's pipeline takes its slots from
the pool's one :class:`slidestream.Limits`, so each service's limit (Edge TTS, one
OpenAI-compatible server, the CPU...) holds for the server as a whole, not per deck, and backs
off for every deck when the service throttles.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import anyio

from .. import providers as _providers
from .._types import ProviderKind
from ._config import FORBIDDEN_PROVIDERS, NO_PROVIDER, ServerConfig
from ._errors import ProviderNotAllowedError

__all__ = ["ProviderPool"]


@runtime_checkable
class _Closable(Protocol):
    async def aclose(self) -> None: ...


class ProviderPool:
    """Allowed providers, created on first use and closed with the pool (``async with``)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._made: dict[tuple[ProviderKind, str], Any] = {}
        self._members: list[Any] = []
        self.limits = config.make_limits()
        """The limits every job shares, by service."""

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
        if len(members) == 1 or kind is ProviderKind.SCRIPT:
            return members[0]
        if kind is ProviderKind.TTS:
            return _providers.FallbackTTS(members)
        return _providers.FallbackImages(members)
