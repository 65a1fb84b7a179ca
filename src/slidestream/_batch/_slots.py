"""The limits a batch holds across all its decks, behind one small interface.

A limit belongs to what it protects: each service a batch calls (a TTS provider, an image
API, a language model) gets one limit shared by every deck of the batch, keyed by the
provider kind and name (``"tts:edge-tts"``) and sized by the ``max_concurrent_*`` option of
that kind. Work done on the local CPU (Piper, drawn images, Markdown) is limited per process
instead: on a cluster each machine has its own CPU.

:class:`Slots` is the seam: the providers of every deck take a slot around each call. In one
process, :class:`LocalSlots` holds an :class:`anyio.CapacityLimiter` per key; on a Dask
cluster, ``_dask_slots.DaskSlots`` holds a ``distributed.Semaphore`` per key, so the limit
holds across every worker together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import anyio

from .._exceptions import InvalidInputError
from .._types import ProviderKind

__all__ = ["KindLimits", "LocalSlots", "ServiceKey", "Slots", "local_work"]

LOCAL_PROVIDERS = frozenset({"markdown", "generated", "local", "piper"})
"""Built-in providers whose work is this machine's CPU, not a service."""


@dataclass(frozen=True, kw_only=True)
class KindLimits:
    """How many calls of each provider kind may be in flight across a whole batch."""

    scripts: int
    images: int
    tts: int

    def __post_init__(self) -> None:
        for name in ("scripts", "images", "tts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(
                    f"max_concurrent_{name}={value!r} is invalid: use a whole number >= 1."
                )

    def of(self, kind: ProviderKind) -> int:
        """The limit for ``kind``."""
        return {
            ProviderKind.SCRIPT: self.scripts,
            ProviderKind.IMAGES: self.images,
            ProviderKind.TTS: self.tts,
        }[kind]


@dataclass(frozen=True)
class ServiceKey:
    """What a limit protects: a provider kind and the provider's name."""

    kind: ProviderKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def local_work(key: ServiceKey) -> bool:
    """True when ``key``'s calls use this machine's CPU rather than a service."""
    return key.name in LOCAL_PROVIDERS


class Slots(Protocol):
    """Grants slots under the batch's limits; one instance per process and batch."""

    def slot(self, key: ServiceKey) -> AbstractAsyncContextManager[None]:
        """Hold one of ``key``'s slots for the duration of the block."""
        ...

    def close(self) -> None:
        """Release what the slots hold once the batch is over here (none is in use)."""
        ...


class LocalSlots:
    """Slots for decks that all run in this process: one capacity limiter per key.

    Limiters are created on first use, inside the event loop of the batch.
    """

    def __init__(self, limits: KindLimits) -> None:
        self.limits = limits
        self._limiters: dict[ServiceKey, anyio.CapacityLimiter] = {}

    def limiter(self, key: ServiceKey) -> anyio.CapacityLimiter:
        """The limiter of ``key`` (for statistics)."""
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = anyio.CapacityLimiter(self.limits.of(key.kind))
        return limiter

    @asynccontextmanager
    async def slot(self, key: ServiceKey) -> AsyncIterator[None]:
        """Hold one of ``key``'s slots (any task may leave the block: the slot is its own)."""
        limiter, borrower = self.limiter(key), object()
        await limiter.acquire_on_behalf_of(borrower)
        try:
            yield
        finally:
            limiter.release_on_behalf_of(borrower)

    def close(self) -> None:
        """Nothing to release: the limiters go with the batch."""
