"""Which errors stop a run and which only mark a slide: the one place that decides.

- A :class:`ConfigurationError` (a missing key, a voice that does not speak the deck's
  language) is the same for every slide and only the user can fix it: it stops the run.
  So does an :class:`OutputError` (a full disk, a read-only folder): no later slide could
  be saved either.
- Any other error in a slide's stage becomes that slide's :class:`SlideError`; the slide
  still arrives without that stage's output.
- The outline failing, or every slide failing, stops the run with a :class:`PipelineError`.
- A run that failed in several places at once (an exception group) is reported as one clear
  error: the error itself when all are the same, else a :class:`PipelineError` carrying them all.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._exceptions import ConfigurationError, OutputError, SlidestreamError
from .._models import SlideError, SlideResult
from .._run_error import PipelineError
from .._types import Stage
from .context import SlideRecord

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

__all__ = [
    "Outcome",
    "check_slides",
    "contain",
    "error_text",
    "leaves",
    "one_error",
    "outline_error",
    "stops_run",
]


def stops_run(error: BaseException) -> bool:
    """True when ``error`` must end the whole run rather than mark one slide."""
    return isinstance(error, (ConfigurationError, OutputError))


def error_text(error: BaseException) -> str:
    """The message for ``error``; foreign errors are prefixed with their type."""
    text = str(error) or type(error).__name__
    return text if isinstance(error, SlidestreamError) else f"{type(error).__name__}: {text}"


@dataclass
class Outcome:
    """How a contained block ended: ``error`` is the slide error it became, if it failed."""

    error: SlideError | None = None

    @property
    def failed(self) -> bool:
        """True when the block raised an error that became a slide error."""
        return self.error is not None


@contextlib.contextmanager
def contain(
    stage: Stage, provider: str, record: SlideRecord | None = None, *, note: str = ""
) -> Iterator[Outcome]:
    """Run part of a stage: an error becomes a :class:`SlideError` unless it stops the run.

    The slide error is appended to ``record`` (when given) and kept in the outcome; ``note``
    is appended to its message (why an earlier attempt failed, for instance).
    """
    outcome = Outcome()
    try:
        yield outcome
    except Exception as error:
        if stops_run(error):
            raise
        outcome.error = SlideError(stage, error_text(error) + note, provider)
        if record is not None:
            record.errors.append(outcome.error)


def outline_error(error: Exception | None, provider: str) -> PipelineError:
    """The error that ends a run whose outline failed (``error``) or came back empty (None)."""
    if error is None:
        message = f"The outline from {provider} has no slides; try again or give a clearer topic."
    else:
        message = f"Writing the outline failed ({provider}): {error_text(error)}"
    return PipelineError(message, stage=Stage.OUTLINE, provider=provider)


def check_slides(slides: Sequence[SlideResult], project_dir: Path) -> None:
    """Stop the run when every slide failed, naming the stage most of them failed at."""
    if not slides or not all(slide.errors for slide in slides):
        return
    stages = Counter(error.stage for slide in slides for error in slide.errors)
    stage = stages.most_common(1)[0][0]
    first = next(e for slide in slides for e in slide.errors if e.stage == stage)
    raise PipelineError(
        f"Every slide failed; most at the {stage} stage ({first.provider}): {first.message}. "
        f"Files already written are kept in {project_dir}.",
        stage=stage,
        provider=first.provider,
        slides=list(slides),
    )


def leaves(error: BaseException) -> list[BaseException]:
    """The errors inside ``error`` (an exception group, maybe nested); else ``[error]``."""
    if not isinstance(error, BaseExceptionGroup):
        return [error]
    found: list[BaseException] = []
    for inner in error.exceptions:
        found += leaves(inner)
    return found


def one_error(error: BaseException) -> BaseException:
    """The one error to show for ``error``, which may be an exception group.

    Several slides failing the same way at once arrive as a group of copies: the first copy
    is shown, as is the first of several writes that failed for one reason (a full disk).
    Distinct errors become one :class:`PipelineError` whose ``errors`` holds them all and
    whose message names each.
    """
    if not isinstance(error, BaseExceptionGroup):
        return error
    distinct: dict[tuple[type[BaseException], str], BaseException] = {}
    for leaf in leaves(error):
        distinct.setdefault((type(leaf), str(leaf)), leaf)
    errors = list(distinct.values())
    if len(errors) == 1:
        return errors[0]
    codes = {e.errno if isinstance(e, OutputError) else None for e in errors}
    if all(isinstance(e, OutputError) for e in errors) and len(codes) == 1:
        return errors[0]  # one disk failing several writes at once: its first write says it
    stage = next((s for e in errors if isinstance(s := getattr(e, "stage", None), str)), None)
    provider = next((p for e in errors if isinstance(p := getattr(e, "provider", None), str)), None)
    listing = "; ".join(f"({n}) {error_text(e)}" for n, e in enumerate(errors, start=1))
    return PipelineError(
        f"The run failed with {len(errors)} errors: {listing}",
        stage=stage,
        provider=provider,
        errors=errors,
    )
