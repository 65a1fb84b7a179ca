"""Time limits: how long one provider call may take, per stage, and the whole run's deadline.

A call that passes its stage's limit becomes that slide's error (the outline's: the run's),
exactly as if the provider had failed, so a provider that never answers cannot hold a run.
Limits are set in the library (``StreamingPipeline(timeouts=...)``), on the command line
(``--timeout``, ``--deadline``) or in the environment (``SLIDESTREAM_TIMEOUT``,
``SLIDESTREAM_DEADLINE``); the text form is the same everywhere: ``"60"`` (every stage),
``"tts=30,script=120"`` (some stages), ``"none"`` (no limit).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from ._constants import (
    DEADLINE_ENV,
    DEFAULT_IMAGES_TIMEOUT_S,
    DEFAULT_OUTLINE_TIMEOUT_S,
    DEFAULT_SCRIPT_TIMEOUT_S,
    DEFAULT_TTS_TIMEOUT_S,
    TIMEOUT_ENV,
)
from ._exceptions import ConfigurationError, InvalidInputError

__all__ = ["STAGE_NAMES", "Timeouts", "parse_seconds"]

STAGE_NAMES = ("outline", "script", "images", "tts")
"""The stages whose provider calls have a time limit."""


def parse_seconds(text: str, *, what: str) -> float | None:
    """``"90"`` -> ``90.0``, ``"none"`` -> ``None`` (no limit); else :class:`InvalidInputError`."""
    cleaned = text.strip().lower()
    if cleaned in ("none", "off", "0"):
        return None
    try:
        seconds = float(cleaned.removesuffix("s"))
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInputError(
            f"{what}: {text!r} is not a time limit; give seconds such as 60, or none."
        )
    return seconds


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """How long each provider call may take (seconds; ``None``: no limit).

    ``outline``: writing the outline. ``script``: writing one slide (when the provider streams
    every slide in one response, the longest wait for the next slide). ``images``: one slide's
    image search and downloads. ``tts``: one slide's narration. ``run``: the whole run, deck
    files included (no deadline by default).

    A limit covers the provider's own retries; time spent waiting for a free concurrency
    slot does not count.
    """

    outline: float | None = DEFAULT_OUTLINE_TIMEOUT_S
    script: float | None = DEFAULT_SCRIPT_TIMEOUT_S
    images: float | None = DEFAULT_IMAGES_TIMEOUT_S
    tts: float | None = DEFAULT_TTS_TIMEOUT_S
    run: float | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInputError(f"Timeouts({field.name}={value!r}): give seconds or None.")
            if not math.isfinite(value) or value <= 0:
                raise InvalidInputError(
                    f"Timeouts({field.name}={value!r}): a time limit must be more than 0 seconds."
                )

    @classmethod
    def every(cls, seconds: float | None) -> Timeouts:
        """The same limit for every stage's calls (no run deadline)."""
        return cls(**dict.fromkeys(STAGE_NAMES, seconds))

    def for_stage(self, stage: str) -> float | None:
        """The limit of one call of ``stage`` (``None`` for stages without one)."""
        return getattr(self, stage, None) if stage in STAGE_NAMES else None

    def with_text(self, text: str, *, what: str = "--timeout") -> Timeouts:
        """These limits changed by ``text``: ``"60"``, ``"tts=30,script=120"`` or ``"none"``."""
        changes: dict[str, float | None] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            stage, sep, value = part.rpartition("=")
            stage = stage.strip().lower()
            if not sep:
                changes.update(dict.fromkeys(STAGE_NAMES, parse_seconds(value, what=what)))
            elif stage in STAGE_NAMES:
                changes[stage] = parse_seconds(value, what=f"{what} {stage}")
            else:
                raise InvalidInputError(
                    f"{what}: {stage!r} is not a stage; use one of {', '.join(STAGE_NAMES)}, "
                    "e.g. tts=30."
                )
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Timeouts:
        """The defaults, changed by ``SLIDESTREAM_TIMEOUT`` and ``SLIDESTREAM_DEADLINE``.

        Raises:
            ConfigurationError: a variable is set to something that is not a time limit.
        """
        env = os.environ if environ is None else environ
        timeouts = cls()
        try:
            if env.get(TIMEOUT_ENV, "").strip():
                timeouts = timeouts.with_text(env[TIMEOUT_ENV], what=TIMEOUT_ENV)
            if env.get(DEADLINE_ENV, "").strip():
                run = parse_seconds(env[DEADLINE_ENV], what=DEADLINE_ENV)
                timeouts = replace(timeouts, run=run)
        except InvalidInputError as error:
            raise ConfigurationError(f"{error} Fix or unset the environment variable.") from None
        return timeouts

    @classmethod
    def coerce(cls, value: Timeouts | float | None) -> Timeouts:
        """``value`` as :class:`Timeouts`: a number is every stage's limit; ``None``: from the
        environment, else the defaults."""
        if value is None:
            return cls.from_env()
        if isinstance(value, Timeouts):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInputError(f"timeouts={value!r}: give Timeouts(...), seconds or None.")
        return cls.every(float(value))
