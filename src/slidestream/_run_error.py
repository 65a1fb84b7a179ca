"""The error of a run as a whole: :class:`PipelineError`, which carries the slides it finished.

It sits above the data (:mod:`._models`), unlike the rest of the error tree in
:mod:`._exceptions`, which every module below may raise.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._exceptions import SlidestreamError
from ._models import SlideResult

__all__ = ["PipelineError"]


class PipelineError(SlidestreamError):
    """The run as a whole failed.

    Attributes:
        stage: the stage that failed (``"outline"``, ``"script"``, ``"images"``, ``"tts"``);
            None when several errors came from places that name no stage.
        provider: the provider behind that stage, when known.
        slides: every slide finished before the run failed; their files stay on disk.
        errors: when the run failed in several distinct ways at once, every one of those
            errors (the message names each); otherwise empty.
    """

    def __init__(
        self,
        message: str,
        *,
        stage: str | None,
        provider: str | None = None,
        slides: list[SlideResult] | None = None,
        errors: Sequence[BaseException] = (),
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.provider = provider
        self.slides: list[SlideResult] = list(slides or [])
        self.errors: list[BaseException] = list(errors)
