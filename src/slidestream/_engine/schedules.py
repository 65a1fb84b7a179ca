"""When the stages run: the streaming schedule and the sequential baseline.

Both are strategies over the same stage functions, so they produce the same slides; only the
order differs. A schedule ends when the deck files are written; the run's bookkeeping
(timings, manifest, :class:`DeckReady`) is done by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import anyio

from .._events import OutlineReady, SlideScripted
from .._models import Outline, SlideResult
from .._types import _StrEnum
from ..providers._protocols import SlideStreamingScriptProvider
from ..render import DeckAssembler, DeckFiles
from ..render._assembler import SupportsPrepareSlide
from . import policy, stages
from .context import RunContext, SlideRecord

__all__ = ["Finished", "RunMode", "Schedule", "SequentialSchedule", "StreamingSchedule"]


class RunMode(_StrEnum):
    """Which schedule made a deck (``DeckResult.mode``)."""

    STREAMING = "streaming"
    SEQUENTIAL = "sequential"


@dataclass(frozen=True)
class Finished:
    """What a schedule leaves for the books: the outline, the slides in order, the files."""

    outline: Outline
    slides: list[SlideResult]
    files: DeckFiles


class Schedule(Protocol):
    """Orders a run's stages; ``mode`` names it in results and reports."""

    @property
    def mode(self) -> RunMode:
        """The name of this schedule."""
        ...

    async def run(self, ctx: RunContext) -> Finished:
        """Run every stage for every slide and write the deck files."""
        ...


def _in_order(ctx: RunContext, count: int) -> list[SlideResult]:
    slides = []
    for index in range(count):
        result = ctx.slides[index].result
        assert result is not None, f"slide {index} never completed"
        slides.append(result)
    return slides


@dataclass(frozen=True)
class StreamingSchedule:
    """Each slide's image and TTS work starts the moment its script exists.

    Args:
        progressive: hand each completed slide to the assembler at once (and let it start
            a slide's visual work as soon as its images exist); ``False`` hands every slide
            over at the end.
    """

    progressive: bool = True

    @property
    def mode(self) -> RunMode:
        """:attr:`RunMode.STREAMING`."""
        return RunMode.STREAMING

    async def run(self, ctx: RunContext) -> Finished:
        """Outline; then every slide on its own as its script arrives; then the joins."""
        outline = await stages.write_outline(ctx)
        await ctx.emit(OutlineReady(outline))
        count = len(outline.items)
        async with stages.open_assembler(ctx, outline) as assembler:
            async with anyio.create_task_group() as task_group:

                def start(record: SlideRecord) -> None:
                    task_group.start_soon(self._slide, ctx, record, assembler)

                missing = list(range(count))
                provider = ctx.providers.script
                if isinstance(provider, SlideStreamingScriptProvider):
                    missing = await stages.stream_scripts(ctx, provider, outline, start)
                for index in missing:
                    task_group.start_soon(self._script_then_slide, ctx, outline, index, assembler)
            slides = _in_order(ctx, count)
            policy.check_slides(slides, ctx.project_dir)
            if not self.progressive:
                for slide in slides:
                    await assembler.add_slide(slide)
            files = await stages.assemble(ctx, assembler, slides)
        return Finished(outline, slides, files)

    async def _script_then_slide(
        self, ctx: RunContext, outline: Outline, index: int, assembler: DeckAssembler
    ) -> None:
        record = await stages.write_script(ctx, outline, index)
        await self._slide(ctx, record, assembler)

    async def _slide(self, ctx: RunContext, record: SlideRecord, assembler: DeckAssembler) -> None:
        await ctx.emit(SlideScripted(record.script))
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(self._images_then_prepare, ctx, record, assembler)
            task_group.start_soon(stages.synthesize, ctx, record)
        result = await stages.complete(ctx, record)
        if self.progressive:
            await assembler.add_slide(result)

    async def _images_then_prepare(
        self, ctx: RunContext, record: SlideRecord, assembler: DeckAssembler
    ) -> None:
        await stages.find_images(ctx, record)
        if self.progressive and isinstance(assembler, SupportsPrepareSlide):
            await assembler.prepare_slide(record.snapshot(ctx.now()))


@dataclass(frozen=True)
class SequentialSchedule:
    """The baseline: each stage for every slide, one call at a time, before the next stage."""

    @property
    def mode(self) -> RunMode:
        """:attr:`RunMode.SEQUENTIAL`."""
        return RunMode.SEQUENTIAL

    async def run(self, ctx: RunContext) -> Finished:
        """Outline, all scripts, all images, all narration, then the deck files."""
        outline = await stages.write_outline(ctx)
        await ctx.emit(OutlineReady(outline))
        count = len(outline.items)
        missing = list(range(count))
        provider = ctx.providers.script
        if isinstance(provider, SlideStreamingScriptProvider):
            missing = await stages.stream_scripts(ctx, provider, outline, lambda record: None)
        for index in missing:
            await stages.write_script(ctx, outline, index)
        records = [ctx.slides[index] for index in range(count)]
        for record in records:
            await ctx.emit(SlideScripted(record.script))
        for record in records:
            await stages.find_images(ctx, record)
        for record in records:
            await stages.synthesize(ctx, record)
        for record in records:
            await stages.complete(ctx, record)
        slides = _in_order(ctx, count)
        policy.check_slides(slides, ctx.project_dir)
        async with stages.open_assembler(ctx, outline) as assembler:
            for slide in slides:
                await assembler.add_slide(slide)
            files = await stages.assemble(ctx, assembler, slides)
        return Finished(outline, slides, files)
