"""Per-stage concurrency caps (``max_concurrent_*``), validated once.

:class:`ConcurrencyLimits` is the value the pipelines' ``max_concurrent_*`` arguments make;
:class:`~slidestream.Limits` turns it into limits private to one pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._constants import (
    DEFAULT_MAX_CONCURRENT_IMAGES,
    DEFAULT_MAX_CONCURRENT_SCRIPTS,
    DEFAULT_MAX_CONCURRENT_TTS,
)
from .._exceptions import InvalidInputError

__all__ = ["ConcurrencyLimits"]


@dataclass(frozen=True, kw_only=True)
class ConcurrencyLimits:
    """How many calls of each kind may be in flight at once, over a whole run."""

    scripts: int = DEFAULT_MAX_CONCURRENT_SCRIPTS
    images: int = DEFAULT_MAX_CONCURRENT_IMAGES
    tts: int = DEFAULT_MAX_CONCURRENT_TTS

    def __post_init__(self) -> None:
        for name in ("scripts", "images", "tts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(
                    f"max_concurrent_{name}={value!r} is invalid: use a whole number >= 1."
                )
