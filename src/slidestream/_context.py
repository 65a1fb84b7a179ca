"""Which slide the current provider call is for, readable from inside any provider."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["current_slide_index"]

_slide_index: ContextVar[int | None] = ContextVar("slidestream_slide_index", default=None)


def current_slide_index() -> int | None:
    """The 0-based index of the slide the pipeline is working on in this task, if any.

    The pipeline sets it around every per-slide provider call, so a provider whose protocol
    method has no slide argument (``TTSProvider.synthesize``) can still log or name files by
    slide.
    """
    return _slide_index.get()
