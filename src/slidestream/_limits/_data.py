"""What limits tell the outside: :class:`LimitChanged` events and :class:`LimitStatistics`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._serialize import Serializable as _Serializable
from ._keys import ServiceKey

__all__ = ["LimitChanged", "LimitStatistics"]


@dataclass(frozen=True, kw_only=True)
class LimitChanged(_Serializable):
    """A service's adaptive limit moved: down after throttling, or back up after success.

    Attributes:
        service: the service, as text (``"edge-tts"``, ``"openai-tts@http://host/v1"``).
        limit: calls allowed in flight from now on.
        cap: the user's limit, which ``limit`` never exceeds.
        reason: ``"throttled"`` (the service refused calls) or ``"recovered"``.
        retry_after_s: the wait the service asked for, when the change came from throttling.
    """

    service: str
    limit: int
    cap: int
    reason: Literal["throttled", "recovered"]
    retry_after_s: float | None = None
    kind: Literal["limit"] = field(default="limit", init=False)


@dataclass(frozen=True, kw_only=True)
class LimitStatistics(_Serializable):
    """A snapshot of one limit, like :meth:`anyio.CapacityLimiter.statistics`.

    Attributes:
        service: what the limit protects (:data:`ServiceKey.CPU` for the CPU budget).
        in_flight: calls holding a slot now.
        waiting: calls waiting for a slot.
        limit: calls allowed at once now (below ``cap`` while backing off).
        cap: the configured limit.
        peak_in_flight: the most calls there have been in flight at once.
        calls: slots handed out so far (a retry after :func:`sleep_without_slot` counts again).
        throttled: throttling answers reported.
        lowest_limit: the lowest the limit went.
        adaptive: whether the limit follows throttling.
    """

    service: ServiceKey
    in_flight: int
    waiting: int
    limit: int
    cap: int
    peak_in_flight: int
    calls: int
    throttled: int
    lowest_limit: int
    adaptive: bool
