"""The hook through which deck files are built progressively, as slides complete.

The pipeline opens one assembler per run (an async context manager, so it can own background
workers), hands it each :class:`SlideResult` the moment the slide is complete, and asks it for
the finished files once every slide is in. Leaving the context early cancels its work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .._limits import Limits
from .._models import DeckRequest, SlideResult
from ._options import RenderOptions

if TYPE_CHECKING:
    from .._cache.run import RunCache

__all__ = [
    "AssemblerFactory",
    "AssemblyContext",
    "DeckAssembler",
    "DeckFiles",
    "NullAssembler",
    "SupportsPrepareSlide",
]


@dataclass(frozen=True, kw_only=True)
class AssemblyContext:
    """What an assembler knows about the run it builds files for."""

    request: DeckRequest
    title: str
    project_dir: Path
    options: RenderOptions
    slide_count: int
    cache: RunCache | None = None
    """The run's cache, where an assembler may keep and find the pieces it makes (frames,
    video segments, levelled audio); None when the cache is off. Assemblers that ignore it
    are unaffected."""
    limits: Limits | None = None
    """The run's limits: local work (frames, encoding) takes shares of its CPU budget,
    lower slides first. None: the assembler's work is not counted against a budget."""
    run: int = 0
    """The run's number among the runs sharing ``limits`` (:meth:`Limits.next_run`): its
    CPU shares wait behind those of runs that started earlier, as its other work does."""


@dataclass(frozen=True, kw_only=True)
class DeckFiles:
    """The files an assembler wrote."""

    pptx_path: Path | None = None
    audio_path: Path | None = None
    video_path: Path | None = None
    subtitles_path: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    """Every file written, by kind: a :class:`DeckFileKind` for the built-in files."""


@runtime_checkable
class DeckAssembler(Protocol):
    """Builds deck files from slides as they complete.

    An assembler may also offer ``prepare_slide(slide)``: the pipeline then calls it as soon
    as a slide's script and images exist (its narration may still be on the way), so visual
    work such as drawing the slide's frame can start early.
    """

    async def add_slide(self, slide: SlideResult) -> None:
        """Take a completed slide; start its share of the work without blocking for long."""
        ...

    async def finish(self, slides: Sequence[SlideResult]) -> DeckFiles:
        """Every slide is in (``slides`` in slide order): finish and write the files."""
        ...


@runtime_checkable
class SupportsPrepareSlide(Protocol):
    """An assembler that can start a slide's visual work before its narration is done."""

    async def prepare_slide(self, slide: SlideResult) -> None:
        """Start work on ``slide`` (script and images present, narration maybe not yet)."""
        ...


AssemblerFactory = Callable[[AssemblyContext], AbstractAsyncContextManager[DeckAssembler]]
"""Creates the assembler for one run."""


class NullAssembler(AbstractAsyncContextManager["NullAssembler"]):
    """An assembler that writes nothing (for runs and tests that need no deck files)."""

    def __init__(self, context: AssemblyContext) -> None:
        self.context = context

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def add_slide(self, slide: SlideResult) -> None:
        """Ignore the slide."""

    async def finish(self, slides: Sequence[SlideResult]) -> DeckFiles:
        """Write nothing."""
        return DeckFiles()
