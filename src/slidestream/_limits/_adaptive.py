"""How an online service's limit follows throttling: down at once, back up with patience.

On a throttling answer (429, 503, ``Retry-After``, Edge's throttling) the limit drops to
``min(limit - 1, in_flight - 1)``: the service refused a call while ``in_flight`` of ours were
running, so it holds fewer than that. Each further refusal lowers it again, so a burst of
refusals walks the limit down to what the service accepted, without the overshoot of halving.
On sustained success, one step up after ``limit`` successful calls that ran while the limit
was binding, so an idle service never climbs for free; the step back to a level that was
refused before waits ``PROBE_PATIENCE`` times longer, so probing costs little. Never above
the cap, never below 1. The policy is plain arithmetic; the gate applies the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PROBE_PATIENCE", "AdaptiveLimit"]

PROBE_PATIENCE = 3
"""How many times longer growth waits before returning to a level that was throttled."""


@dataclass
class AdaptiveLimit:
    """The current limit of one service between 1 and ``cap``.

    Attributes:
        cap: the user's limit; never exceeded.
        adaptive: false keeps the limit at ``cap`` (throttles are still counted).
    """

    cap: int
    adaptive: bool = True
    limit: int = field(init=False)
    lowest: int = field(init=False)
    throttled: int = field(default=0, init=False)
    """How many throttling answers were reported."""
    _successes: int = field(default=0, init=False)
    _refused_at: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.limit = self.cap
        self.lowest = self.cap

    def on_throttled(self, in_flight: int) -> int | None:
        """A call was throttled while ``in_flight`` calls (itself included) ran; the new
        limit, or None when it stays."""
        self.throttled += 1
        if not self.adaptive:
            return None
        self._successes = 0
        self._refused_at = max(1, min(self.limit, in_flight))
        new = max(1, min(self.limit - 1, in_flight - 1))
        return self._set(new)

    def on_success(self, *, saturated: bool) -> int | None:
        """A call succeeded without being throttled; ``saturated``: the limit was binding
        when it started. The new limit, or None when it stays."""
        if not self.adaptive or not saturated or self.limit >= self.cap:
            return None
        self._successes += 1
        probing = self._refused_at is not None and self.limit + 1 >= self._refused_at
        if self._successes < self.limit * (PROBE_PATIENCE if probing else 1):
            return None
        self._successes = 0
        if probing:
            self._refused_at = None
        return self._set(self.limit + 1)

    def _set(self, new: int) -> int | None:
        if new == self.limit:
            return None
        self.limit = new
        self.lowest = min(self.lowest, new)
        return new
