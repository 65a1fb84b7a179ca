"""The service's settings: where decks go, who may call it, what a request may choose, limits."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._cache import USER_CACHE_DIR, UserCacheDir
from .._constants import (
    DEFAULT_MAX_CONCURRENT_IMAGES,
    DEFAULT_MAX_CONCURRENT_SCRIPTS,
    DEFAULT_MAX_CONCURRENT_TTS,
)
from .._exceptions import ConfigurationError, InvalidInputError
from .._limits import Limits, ServiceKey
from .._types import ProviderKind

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "FORBIDDEN_PROVIDERS",
    "NO_PROVIDER",
    "ServerConfig",
    "is_loopback",
    "parse_service",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
NO_PROVIDER = "none"
"""The provider name a request gives for "no images" or "no narration"."""

FORBIDDEN_PROVIDERS = frozenset({"local", "markdown"})
"""Providers that read the server's own files (``local`` image folders, ``markdown`` reads the
topic as a path); a request can never choose them, whatever the allow-list says. Uploaded
Markdown outlines are parsed by the service itself, with their image references removed."""


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host.strip().lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Everything ``slidestream serve`` is told; validated when created.

    Attributes:
        output_dir: decks are written to ``output_dir/<project>/`` with their job record.
        token: when set, every path but ``/healthz`` needs ``Authorization: Bearer <token>``.
        script_providers, image_providers, tts_providers: the provider names a request may
            choose, the first being the default (``"none"`` allowed for images and narration).
        provider_options: keyword options per provider name, given when the server creates it.
        max_decks: decks made at once; more wait in the queue.
        max_queue: decks waiting at most; beyond that a request gets ``429``.
        max_concurrent_scripts, max_concurrent_images, max_concurrent_tts: calls in flight per
            script, image and TTS service, for every deck together (unless ``service_limits``
            sets that service's own).
        service_limits: calls in flight by service, for every deck together: a name
            (``"edge-tts"``, every server of that name) or ``name@endpoint``
            (``"openai-tts@http://127.0.0.1:8880/v1"``), as :class:`slidestream.Limits`
            ``services=`` takes them.
        adaptive_limits: online services' limits back off when they throttle (429, 503,
            ``Retry-After``) and grow back on success, never above their cap.
        cpu_budget: local work (Piper, drawn images, frames, encoding) shared by every deck
            (default: the CPUs this process may use).
        cache_dir: the cache every deck reads and writes, so an interrupted deck resumed after
            a restart reuses its finished slides (default: the user cache folder, as the
            command line's; ``None`` turns it off).
        resume: decks a restart interrupted are made again on start (their finished slides
            come from the cache); off, they are marked failed with reason ``interrupted``.
        max_request_bytes: the largest request body (JSON or upload) accepted.
        max_outline_bytes: the largest Markdown outline accepted.
        live_preview: build the narrated HLS preview as slides complete.
        grace_s: on shutdown, how long running decks may take to finish before they are
            cancelled (and marked failed).
        retry_after_s: the ``Retry-After`` a client is given when the queue is full.
        keepalive_s: seconds between keep-alive comments on an event stream.
        cors_origins: origins allowed to call the API from a browser (none by default).
    """

    output_dir: Path = Path("outputs")
    token: str | None = None
    script_providers: tuple[str, ...] = ("openai",)
    image_providers: tuple[str, ...] = ("generated", NO_PROVIDER)
    tts_providers: tuple[str, ...] = ("piper", NO_PROVIDER)
    provider_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    max_decks: int = 2
    max_queue: int = 16
    max_concurrent_scripts: int = DEFAULT_MAX_CONCURRENT_SCRIPTS
    max_concurrent_images: int = DEFAULT_MAX_CONCURRENT_IMAGES
    max_concurrent_tts: int = DEFAULT_MAX_CONCURRENT_TTS
    service_limits: Mapping[str, int] = field(default_factory=dict)
    adaptive_limits: bool = True
    cpu_budget: int | None = None
    cache_dir: str | os.PathLike[str] | UserCacheDir | None = USER_CACHE_DIR
    resume: bool = True
    max_request_bytes: int = 2_000_000
    max_outline_bytes: int = 1_000_000
    live_preview: bool = True
    grace_s: float = 20.0
    retry_after_s: int = 10
    keepalive_s: float = 15.0
    cors_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "output_dir", Path(self.output_dir))
        if self.token is not None and len(self.token) < 8:
            raise ConfigurationError("The token is too short: use at least 8 characters.")
        for kind, names in self.allowed.items():
            if not names:
                raise ConfigurationError(f"Allow at least one {kind} provider (or 'none').")
            bad = FORBIDDEN_PROVIDERS.intersection(names)
            if bad:
                raise ConfigurationError(
                    f"Provider {sorted(bad)[0]!r} reads the server's own files, so requests may "
                    "not choose it; remove it from the allowed providers."
                )
        if NO_PROVIDER in self.script_providers:
            raise ConfigurationError("A deck needs a script provider: 'none' is not one.")
        for name in ("max_decks", "max_concurrent_scripts", "max_concurrent_images"):
            _at_least(name, getattr(self, name), 1)
        _at_least("max_concurrent_tts", self.max_concurrent_tts, 1)
        if self.cpu_budget is not None:
            _at_least("cpu_budget", self.cpu_budget, 1)
        for service, value in self.service_limits.items():
            parse_service(service)
            _at_least(f"service_limits[{service!r}]", value, 1)
        _at_least("max_queue", self.max_queue, 0)
        _at_least("max_request_bytes", self.max_request_bytes, 1024)
        _at_least("max_outline_bytes", self.max_outline_bytes, 16)
        if self.grace_s < 0 or self.keepalive_s <= 0 or self.retry_after_s < 1:
            raise ConfigurationError("grace_s >= 0, keepalive_s > 0 and retry_after_s >= 1.")

    def make_limits(self) -> Limits:
        """The one :class:`slidestream.Limits` every job of the server shares."""
        return Limits(
            scripts=self.max_concurrent_scripts,
            images=self.max_concurrent_images,
            tts=self.max_concurrent_tts,
            services={parse_service(name): value for name, value in self.service_limits.items()},
            cpu=self.cpu_budget,
            adaptive=self.adaptive_limits,
        )

    @property
    def allowed(self) -> dict[ProviderKind, tuple[str, ...]]:
        """The allowed provider names by kind, the default first."""
        return {
            ProviderKind.SCRIPT: self.script_providers,
            ProviderKind.IMAGES: self.image_providers,
            ProviderKind.TTS: self.tts_providers,
        }


def parse_service(text: str) -> ServiceKey:
    """The service named by ``text``: ``name`` or ``name@endpoint`` (a URL).

    Raises:
        ConfigurationError: ``text`` names no service.
    """
    name, at, endpoint = text.strip().partition("@")
    try:
        if at:
            return ServiceKey.from_url(name.strip(), endpoint.strip())
        return ServiceKey(name.strip())
    except InvalidInputError as error:
        raise ConfigurationError(
            f"Service {text!r} is not valid: use a name such as 'edge-tts' or "
            f"name@URL such as 'openai-tts@http://127.0.0.1:8880/v1' ({error})"
        ) from None


def _at_least(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name}={value!r} is invalid: use a whole number >= {minimum}.")
