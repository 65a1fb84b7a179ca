"""The stages of a run, as functions over its :class:`RunContext`.

Each stage does one thing for one slide (or the deck) and records what it produced in the
slide's :class:`SlideRecord`; the schedules decide when each runs. Which failures stop the
run is decided by :mod:`.policy`, and every limited call takes its slot from
:meth:`RunContext.slot`. Every provider call runs under its stage's time limit
(:func:`.deadlines.call_limit`), and what it returns is checked (:mod:`.checks`) before use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

import anyio

from .._cache import CachedClip
from .._events import AudioReady, ImagesReady
from .._media import check_clip
from .._models import ImageAsset, Outline, SlideResult, SlideScript
from .._text import compose_narration
from .._types import Stage
from ..providers._protocols import SlideStream, SlideStreamingScriptProvider, provider_name
from ..render import AssemblyContext, DeckAssembler, DeckFiles
from . import checks, policy
from .assets import check_image, load_local_image, save_clip, save_images
from .context import RunContext, SlideRecord, for_slide
from .deadlines import call_limit

__all__ = [
    "assemble",
    "complete",
    "fallback_script",
    "find_images",
    "open_assembler",
    "open_slide_stream",
    "spoken_text",
    "stream_scripts",
    "synthesize",
    "write_outline",
    "write_script",
]


def fallback_script(outline: Outline, index: int) -> SlideScript:
    """A slide made from its outline item alone, for when writing its script failed."""
    item = outline.items[index]
    return SlideScript(
        index=index,
        title=item.title,
        bullets=list(item.key_points),
        narration=compose_narration(item.title, list(item.key_points)),
    )


def spoken_text(script: SlideScript) -> str:
    """What the narrator says: the narration, or sentences made from the title and bullets."""
    return script.narration.strip() or compose_narration(script.title, script.bullets)


async def write_outline(ctx: RunContext) -> Outline:
    """Plan the deck; a failed or empty outline ends the run."""
    provider = ctx.providers.script
    name = provider_name(provider)
    cached = await ctx.answers.outline() if ctx.answers is not None else None
    if cached is not None:
        outline = cached
    else:
        try:
            async with ctx.slot(Stage.OUTLINE, None):
                limit = call_limit(ctx.timeouts, Stage.OUTLINE, name)
                with ctx.clock.span(Stage.OUTLINE, None) as watch, limit:
                    outline = checks.checked_outline(await provider.outline(ctx.request), name)
        except Exception as error:
            if policy.stops_run(error):
                raise
            raise policy.outline_error(error, name) from error
        if not outline.items:
            raise policy.outline_error(None, name)
        if not outline.title:
            outline = replace(outline, title=ctx.request.topic)
        if ctx.answers is not None:
            await ctx.answers.keep_outline(outline, watch.duration_s)
    wanted = ctx.request.slides
    if wanted is not None and len(outline.items) > wanted:
        outline = replace(outline, items=outline.items[:wanted])
    return outline


async def write_script(ctx: RunContext, outline: Outline, index: int) -> SlideRecord:
    """Write slide ``index`` with ``write_slide()``; on failure the slide uses its outline item.

    A script the provider wrote for this outline before is taken from the cache.
    """
    provider = ctx.providers.script
    name = provider_name(provider)
    start = ctx.now()
    cached = await ctx.answers.script(outline, index) if ctx.answers is not None else None
    if cached is not None:
        record = ctx.record(cached)
        record.timings[Stage.SCRIPT] = ctx.now() - start
        return record
    record = ctx.record(fallback_script(outline, index))
    note = f" (after the slide stream broke off: {ctx.stream_error})" if ctx.stream_error else ""
    with policy.contain(Stage.SCRIPT, name, record, note=note) as outcome, for_slide(index):
        async with ctx.slot(Stage.SCRIPT, index):
            limit = call_limit(ctx.timeouts, Stage.SCRIPT, name, index)
            with ctx.clock.span(Stage.SCRIPT, index) as watch, limit:
                written = await provider.write_slide(ctx.request, outline, index)
        script = checks.checked_script(written, name)
        record.script = script if script.index == index else replace(script, index=index)
    record.timings[Stage.SCRIPT] = watch.duration_s
    if ctx.answers is not None and not outcome.failed:
        await ctx.answers.keep_script(outline, record.script, watch.duration_s)
    return record


def open_slide_stream(
    provider: SlideStreamingScriptProvider, ctx: RunContext, outline: Outline
) -> SlideStream:
    """``provider.stream_slides()`` as a :class:`SlideStream` (plugins may give a bare iterator)."""
    stream = provider.stream_slides(ctx.request, outline)
    return stream if isinstance(stream, SlideStream) else SlideStream(stream)


async def stream_scripts(
    ctx: RunContext,
    provider: SlideStreamingScriptProvider,
    outline: Outline,
    on_slide: Callable[[SlideRecord], None],
) -> list[int]:
    """Take slides from ``stream_slides()`` as they arrive; return the indexes it missed.

    ``on_slide`` is called with each new slide's record at once (it must not block). If the
    stream breaks off, why is kept in ``ctx.stream_error`` and the missing slides are left to
    :func:`write_script`.
    """
    count = len(outline.items)
    name = provider_name(provider)
    seen: set[int] = set()
    if ctx.answers is not None and ctx.answers.scripts_cached:
        # Slides written for this outline before are taken from the cache; when some are,
        # the others are written one by one rather than streaming the whole deck again.
        for index in range(count):
            start = ctx.now()
            cached = await ctx.answers.script(outline, index)
            if cached is not None:
                seen.add(index)
                record = ctx.record(cached)
                record.timings[Stage.SCRIPT] = ctx.now() - start
                on_slide(record)
        if seen:
            return [i for i in range(count) if i not in seen]
    with policy.contain(Stage.SCRIPT, name) as outcome:
        async with ctx.slot(Stage.SCRIPT, None):
            stream = open_slide_stream(provider, ctx, outline)
            try:
                last = ctx.now()
                while True:
                    # The script limit holds for each slide: the wait for the next one.
                    with call_limit(ctx.timeouts, Stage.SCRIPT, name):
                        try:
                            script = checks.checked_script(await stream.__anext__(), name)
                        except StopAsyncIteration:
                            break
                    if not 0 <= script.index < count or script.index in seen:
                        continue
                    seen.add(script.index)
                    arrived = ctx.now()
                    ctx.clock.add(Stage.SCRIPT, script.index, last, arrived)
                    record = ctx.record(script)
                    record.timings[Stage.SCRIPT] = arrived - last
                    made_s, last = arrived - last, arrived
                    on_slide(record)
                    if ctx.answers is not None:
                        await ctx.answers.keep_script(outline, script, made_s)
            finally:
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
    if outcome.error is not None:
        ctx.stream_error = outcome.error.message
    return [i for i in range(count) if i not in seen]


async def find_images(ctx: RunContext, record: SlideRecord) -> None:
    """Find and save the slide's images: its own image first, then the image provider's."""
    script, wanted = record.script, ctx.request.images_per_slide
    provider = ctx.providers.images
    start = ctx.now()
    if script.image_path and wanted:
        with policy.contain(Stage.IMAGES, "outline", record):
            record.images.append(
                await anyio.to_thread.run_sync(load_local_image, script.image_path)
            )
    if provider is not None and len(record.images) < wanted:
        needed = wanted - len(record.images)
        name = provider_name(provider)
        answers = ctx.answers
        found = await answers.images(script, needed) if answers is not None else None
        if found is None:
            offered: list[ImageAsset] = []
            with (
                policy.contain(Stage.IMAGES, name, record) as outcome,
                for_slide(record.index),
            ):
                async with ctx.slot(Stage.IMAGES, record.index):
                    limit = call_limit(ctx.timeouts, Stage.IMAGES, name, record.index)
                    with ctx.clock.span(Stage.IMAGES, record.index) as watch, limit:
                        answer = await provider.find_images(ctx.request, script, limit=needed)
                offered = checks.checked_images(answer, name)[:needed]
            found = []
            for number, image in enumerate(offered, start=1):
                # One bad image is that image's error; the slide keeps the others.
                with policy.contain(Stage.IMAGES, name, record):
                    check = functools.partial(check_image, image, provider=name, number=number)
                    found.append(await anyio.to_thread.run_sync(check))
            if answers is not None and found and len(found) == len(offered) and not outcome.failed:
                await answers.keep_images(script, needed, found, watch.duration_s)
        if found:
            record.images.extend(found)
            record.providers[Stage.IMAGES] = name
    if record.images:
        record.images = await anyio.to_thread.run_sync(
            save_images, ctx.project_dir, record.index, record.images
        )
    record.timings[Stage.IMAGES] = ctx.now() - start
    await ctx.emit(ImagesReady(record.index, list(record.images)))


async def synthesize(ctx: RunContext, record: SlideRecord) -> None:
    """Speak the slide's narration, check the clip decodes, and save it.

    The clip's duration is measured, not taken from the provider; a clip in an unknown
    format or one that does not decode becomes the slide's TTS error.
    """
    provider = ctx.providers.tts
    if provider is None:
        return
    name, index = provider_name(provider), record.index
    start = ctx.now()
    text = spoken_text(record.script)
    with policy.contain(Stage.TTS, name, record):
        made = await ctx.answers.clip(text, index) if ctx.answers is not None else None
        if made is None:
            with for_slide(index):
                async with ctx.slot(Stage.TTS, index):
                    limit = call_limit(ctx.timeouts, Stage.TTS, name, index)
                    with ctx.clock.span(Stage.TTS, index) as watch, limit:
                        answer = await provider.synthesize(
                            text, voice=ctx.request.voice, language=ctx.request.language
                        )
            clip = checks.checked_clip(answer, name)
            audio = bytes(clip.audio)
            check = functools.partial(check_clip, audio, clip.format, provider=name)
            audio_format, duration_s = await anyio.to_thread.run_sync(check)
            made = CachedClip(
                audio=audio,
                format=audio_format,
                duration_s=duration_s,
                words=checks.checked_words(clip.words, duration_s),
                provider=clip.provider or name,
            )
            if ctx.answers is not None:
                await ctx.answers.keep_clip(text, made, ctx.now() - watch.start_s)
        path = await anyio.to_thread.run_sync(
            save_clip, ctx.project_dir, index, made.format, made.audio
        )
        record.audio_path, record.duration_s, record.words = path, made.duration_s, made.words
        record.providers[Stage.TTS] = made.provider or name
    record.timings[Stage.TTS] = ctx.now() - start
    if record.audio_path is not None:
        await ctx.emit(AudioReady(index, record.audio_path, record.duration_s))


async def complete(ctx: RunContext, record: SlideRecord) -> SlideResult:
    """The slide is complete: freeze its result and hand it to the consumer.

    What the slide took from the cache is in its timings (``"cached_tts"``: the seconds
    making the clip took the first time).
    """
    if ctx.cache is not None:
        record.timings.update(ctx.cache.reused_by(record.index))
    record.result = record.snapshot(ctx.now())
    await ctx.emit(record.result)
    return record.result


def open_assembler(ctx: RunContext, outline: Outline) -> AbstractAsyncContextManager[DeckAssembler]:
    """The run's deck assembler (enter it with ``async with``)."""
    context = AssemblyContext(
        request=ctx.request,
        title=outline.title,
        project_dir=ctx.project_dir,
        options=ctx.options,
        slide_count=len(outline.items),
        cache=ctx.cache,
        limits=ctx.limits,
        run=ctx.run_number,
    )
    return ctx.assembler_factory(context)


async def assemble(
    ctx: RunContext, assembler: DeckAssembler, slides: Sequence[SlideResult]
) -> DeckFiles:
    """Every slide is in: let the assembler finish the deck files."""
    with ctx.clock.span(Stage.ASSEMBLE, None):
        return await assembler.finish(slides)
