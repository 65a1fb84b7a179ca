"""Time limits inside a run: one provider call, and the run as a whole.

:func:`call_limit` wraps one provider call; when the stage's limit passes, the call is
cancelled and :class:`ProviderTimeoutError` is raised in its place, which the policy treats
like any provider failure (the slide's error; for the outline, the run's). :func:`run_deadline`
wraps the whole run and ends it with a :class:`PipelineError` when its deadline passes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import anyio

from .._exceptions import ProviderTimeoutError
from .._run_error import PipelineError
from .._timeouts import Timeouts
from .._types import Stage

__all__ = ["call_limit", "run_deadline"]


@contextlib.contextmanager
def call_limit(
    timeouts: Timeouts, stage: Stage, provider: str, slide_index: int | None = None
) -> Iterator[None]:
    """Cancel the block when ``stage``'s limit passes and raise :class:`ProviderTimeoutError`."""
    seconds = timeouts.for_stage(stage)
    if seconds is None:
        yield
        return
    with anyio.move_on_after(seconds) as scope:
        yield
    if scope.cancelled_caught:
        what = f"slide {slide_index + 1}" if slide_index is not None else f"the {stage}"
        raise ProviderTimeoutError(
            f"{provider} gave no answer for {what} within {seconds:g} s, the {stage} time "
            f"limit (raise it with --timeout {stage}=SECONDS or Timeouts({stage}=...))",
            provider=provider,
            stage=stage,
            slide_index=slide_index,
        )


@contextlib.contextmanager
def run_deadline(timeouts: Timeouts, project_dir: object) -> Iterator[None]:
    """Cancel the block when the run's deadline passes and raise :class:`PipelineError`."""
    seconds = timeouts.run
    if seconds is None:
        yield
        return
    with anyio.move_on_after(seconds) as scope:
        yield
    if scope.cancelled_caught:
        raise PipelineError(
            f"The run did not finish within its deadline of {seconds:g} s (raise it with "
            f"--deadline or Timeouts(run=...)); files already finished are kept in "
            f"{project_dir}.",
            stage=None,
        )
