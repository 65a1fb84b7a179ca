"""What a limit protects: a :class:`ServiceKey` names one service, or the local CPU.

A provider declares its service with a ``limit_key`` attribute (a :class:`ServiceKey` or a
plain name); a provider without one is its own service, keyed by its ``name`` (else its class
name). Two providers with the same key share one limit, in every pipeline that shares the
:class:`~slidestream.Limits` object. A provider that only hands each call to one of its
members (a fallback chain, :class:`SupportsMemberLimits`) has no limit of its own: each call
it makes to a member takes that member's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable
from urllib.parse import urlsplit

from .._exceptions import InvalidInputError

__all__ = ["ServiceKey", "SupportsLimitKey", "SupportsMemberLimits", "member_keys"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True, order=True)
class ServiceKey:
    """The name of something a limit protects.

    Attributes:
        name: the service, e.g. ``"edge-tts"`` or ``"openai-tts"``.
        endpoint: which server of that service, e.g. a base URL or a host (``""``: the one
            service wherever it is called from). Two keys are equal when name and endpoint are.
        local: the work runs on this machine (Piper, drawn images): each call also takes a
            share of the CPU budget, and the limit does not adapt to throttling.

    Example::

        ServiceKey("edge-tts")
        ServiceKey.from_url("openai-tts", "http://127.0.0.1:8000/v1/")
        ServiceKey("piper", local=True)
    """

    name: str
    endpoint: str = ""
    local: bool = field(default=False, compare=False)

    CPU: ClassVar[ServiceKey]
    """The local CPU: the budget Piper, drawn images, frames and encoding share."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInputError(
                f"ServiceKey name {self.name!r} is invalid: use a non-empty name such as "
                "'edge-tts'."
            )

    def __str__(self) -> str:
        return f"{self.name}@{self.endpoint}" if self.endpoint else self.name

    @classmethod
    def from_url(cls, name: str, url: str, *, path: bool = True) -> ServiceKey:
        """The key of the server at ``url``: scheme, host and port (and the path unless
        ``path=False``), normalised so that spellings of one server give one key."""
        parts = urlsplit(url.strip())
        if not parts.scheme or not parts.hostname:
            raise InvalidInputError(
                f"{url!r} is not a URL with a scheme and a host (e.g. 'https://api.example.com')."
            )
        scheme = parts.scheme.lower()
        host = parts.hostname.lower()
        if ":" in host:
            host = f"[{host}]"
        port = parts.port
        netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
        tail = parts.path.rstrip("/") if path else ""
        return cls(name, f"{scheme}://{netloc}{tail}")

    @classmethod
    def of(cls, provider: object) -> ServiceKey:
        """The key of the service ``provider`` calls: its ``limit_key``, else its name."""
        if isinstance(provider, SupportsLimitKey):
            declared = provider.limit_key
            if isinstance(declared, ServiceKey):
                return declared
            if isinstance(declared, str):
                return cls(declared)
            raise InvalidInputError(
                f"{type(provider).__name__}.limit_key is {declared!r}: use a ServiceKey or a name."
            )
        name = provider.name if isinstance(provider, _Named) else ""
        return cls(name if isinstance(name, str) and name else type(provider).__name__)

    @classmethod
    def parse(cls, key: ServiceKey | str) -> ServiceKey:
        """``key`` itself, or the key named by a string."""
        return key if isinstance(key, ServiceKey) else cls(key)


ServiceKey.CPU = ServiceKey("cpu", local=True)


@runtime_checkable
class SupportsLimitKey(Protocol):
    """A provider that names the service its calls are limited under."""

    @property
    def limit_key(self) -> ServiceKey | str:
        """The service this provider calls (a :class:`ServiceKey`, or a plain name)."""
        ...


@runtime_checkable
class _Named(Protocol):
    @property
    def name(self) -> str: ...


@runtime_checkable
class SupportsMemberLimits(Protocol):
    """A provider that hands each call to one of its members (a fallback chain).

    It has no limit of its own: the pipeline lets each call it makes to a member take that
    member's limit (see :func:`slidestream.member_slot`), so an Edge TTS call made through
    ``edge-tts,piper`` shares the Edge limit with every other Edge call, and Piper in the
    chain takes its share of the CPU budget.
    """

    @property
    def limit_members(self) -> Sequence[object]:
        """The members, whose own limits their calls are kept under."""
        ...


def member_keys(provider: object) -> tuple[ServiceKey, ...]:
    """The keys of the services ``provider``'s members call (members of member chains too),
    each once; empty for a provider that is not a chain."""
    if not isinstance(provider, SupportsMemberLimits):
        return ()
    keys: dict[ServiceKey, None] = {}
    for member in provider.limit_members:
        found = member_keys(member) or (ServiceKey.of(member),)
        keys.update(dict.fromkeys(found))
    return tuple(keys)
