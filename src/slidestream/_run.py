"""One run of a pipeline: the stages for each slide, and the two schedules that order them.

``_Run.streaming()`` starts each slide's image and TTS work the moment its script exists and
hands each completed slide to the deck assembler at once; ``_Run.sequential()`` runs every
stage for all slides before the next stage starts (the baseline the streaming schedule is
measured against). Both use the same stage functions, so they produce the same slides.
"""

from __future__ import annotations

import contextlib
import io
import json
import mimetypes
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream
from PIL import Image

from ._constants import AUDIO_DIR, IMAGES_DIR, MANIFEST_NAME
from ._context import _slide_index
from ._events import AudioReady, DeckReady, Event, ImagesReady, OutlineReady, SlideScripted
from ._exceptions import ConfigurationError, PipelineError, SlidestreamError
from ._files import atomic_write_bytes, atomic_write_text
from ._limits import _Limiters
from ._models import (
    DeckRequest,
    DeckResult,
    ImageAsset,
    Outline,
    SlideError,
    SlideResult,
    SlideScript,
    StageSpan,
    WordTiming,
)
from ._types import Stage
from .providers._protocols import ImageProvider, ScriptProvider, TTSProvider
from .render import AssemblerFactory, AssemblyContext, DeckAssembler, DeckFiles, RenderOptions

__all__ = ["Providers", "_Run"]

_IMAGE_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


def provider_name(provider: object) -> str:
    """The provider's ``name`` attribute, else its class name."""
    name = getattr(provider, "name", None)
    return name if isinstance(name, str) and name else type(provider).__name__


@dataclass
class Providers:
    """The providers of one run; the pipeline created the ``owned`` ones and closes them."""

    script: ScriptProvider
    images: ImageProvider | None
    tts: TTSProvider | None
    owned: list[object] = field(default_factory=list)

    async def aclose(self) -> None:
        for provider in self.owned:
            close = getattr(provider, "aclose", None)
            if callable(close):
                with anyio.CancelScope(shield=True):
                    await close()


@dataclass
class _SlideWork:
    """What one slide's stages produced so far."""

    script: SlideScript
    errors: list[SlideError] = field(default_factory=list)
    images: list[ImageAsset] = field(default_factory=list)
    audio_path: Path | None = None
    duration_s: float = 0.0
    words: list[WordTiming] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _error_text(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text if isinstance(error, SlidestreamError) else f"{type(error).__name__}: {text}"


def fallback_script(outline: Outline, index: int) -> SlideScript:
    """A slide made from its outline item alone, for when writing its script failed."""
    item = outline.items[index]
    points = [p.rstrip(".") for p in item.key_points]
    narration = f"{item.title}." + (" " + ". ".join(points) + "." if points else "")
    return SlideScript(
        index=index, title=item.title, bullets=list(item.key_points), narration=narration
    )


def spoken_text(script: SlideScript) -> str:
    """What the narrator says: the narration, or the title and bullets when it is empty."""
    if script.narration.strip():
        return script.narration.strip()
    parts = [script.title.strip().rstrip(".")] + [b.strip().rstrip(".") for b in script.bullets]
    return ". ".join(p for p in parts if p) + "."


@contextlib.contextmanager
def _for_slide(index: int) -> Any:
    token = _slide_index.set(index)
    try:
        yield
    finally:
        _slide_index.reset(token)


def _load_local_image(path_text: str) -> ImageAsset:
    path = Path(path_text).expanduser()
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        fmt = (image.format or "").lower()
    mime = Image.MIME.get(fmt.upper()) or mimetypes.guess_type(path.name)[0] or "image/png"
    return ImageAsset(
        data=data, mime_type=mime, width=width, height=height, source_url=path.resolve().as_uri()
    )


class _Run:
    """The state of one run; created inside the run's task."""

    def __init__(
        self,
        *,
        request: DeckRequest,
        project_dir: Path,
        providers: Providers,
        limiters: _Limiters,
        options: RenderOptions,
        assembler_factory: AssemblerFactory,
        send: MemoryObjectSendStream[Event],
        mode: str,
        progressive: bool = True,
    ) -> None:
        self.request = request
        self.project_dir = project_dir
        self.providers = providers
        self.limiters = limiters
        self.options = options
        self.assembler_factory = assembler_factory
        self.send = send
        self.mode = mode
        self.progressive = progressive
        self.started = anyio.current_time()
        self.spans: list[StageSpan] = []
        self.results: dict[int, SlideResult] = {}
        self.stream_error: str | None = None
        """Why ``stream_slides()`` stopped early, if it did; named in later script errors."""

    # -- helpers -----------------------------------------------------------------------------

    def now(self) -> float:
        return anyio.current_time() - self.started

    @contextlib.contextmanager
    def _span(self, stage: Stage, index: int | None) -> Any:
        start = self.now()
        try:
            yield
        finally:
            self.spans.append(StageSpan(stage=stage, index=index, start_s=start, end_s=self.now()))

    async def emit(self, event: Event) -> None:
        await self.send.send(event)

    async def write_manifest(self, status: str, **extra: Any) -> None:
        data = {"status": status, "request": self.request.to_dict(), **extra}
        text = json.dumps(data, indent=2, ensure_ascii=False)
        await anyio.to_thread.run_sync(atomic_write_text, self.project_dir / MANIFEST_NAME, text)

    # -- stages ------------------------------------------------------------------------------

    async def write_outline(self) -> Outline:
        name = provider_name(self.providers.script)
        try:
            with self._span(Stage.OUTLINE, None):
                outline = await self.providers.script.outline(self.request)
        except Exception as error:
            raise PipelineError(
                f"Writing the outline failed ({name}): {_error_text(error)}",
                stage="outline",
                provider=name,
            ) from error
        if not outline.items:
            raise PipelineError(
                f"The outline from {name} has no slides; try again or give a clearer topic.",
                stage="outline",
                provider=name,
            )
        if self.request.slides is not None and len(outline.items) > self.request.slides:
            outline = replace(outline, items=outline.items[: self.request.slides])
        return outline

    async def write_script(
        self, outline: Outline, index: int
    ) -> tuple[SlideScript, SlideError | None]:
        provider = self.providers.script
        try:
            async with self.limiters.scripts:
                with self._span(Stage.SCRIPT, index), _for_slide(index):
                    script = await provider.write_slide(self.request, outline, index)
        except ConfigurationError:
            raise  # the same for every slide: the user must fix it, so stop now
        except Exception as error:
            message = _error_text(error)
            if self.stream_error:
                message += f" (after the slide stream broke off: {self.stream_error})"
            fallback = fallback_script(outline, index)
            return fallback, SlideError(Stage.SCRIPT, message, provider_name(provider))
        return (script if script.index == index else replace(script, index=index)), None

    async def stream_scripts(
        self, outline: Outline, on_script: Callable[[SlideScript], None]
    ) -> list[int]:
        """Take slides from ``stream_slides()`` as they arrive; return the indexes it missed."""
        count = len(outline.items)
        seen: set[int] = set()
        stream: AsyncIterator[SlideScript] = self.providers.script.stream_slides(  # type: ignore[attr-defined]
            self.request, outline
        )
        try:
            async with self.limiters.scripts:
                last = self.now()
                async for script in stream:
                    if not 0 <= script.index < count or script.index in seen:
                        continue
                    seen.add(script.index)
                    arrived = self.now()
                    self.spans.append(
                        StageSpan(
                            stage=Stage.SCRIPT, index=script.index, start_s=last, end_s=arrived
                        )
                    )
                    last = arrived
                    on_script(script)
        except ConfigurationError:
            raise  # the same for every slide: the user must fix it, so stop now
        except Exception as error:
            self.stream_error = _error_text(error)
        finally:
            close = getattr(stream, "aclose", None)
            if callable(close):
                with anyio.CancelScope(shield=True):
                    await close()
        return [i for i in range(count) if i not in seen]

    async def find_images(self, work: _SlideWork) -> None:
        script, wanted = work.script, self.request.images_per_slide
        provider = self.providers.images
        start = self.now()
        if script.image_path and wanted:
            try:
                own = await anyio.to_thread.run_sync(_load_local_image, script.image_path)
                work.images.append(own)
            except (OSError, ValueError) as error:
                work.errors.append(
                    SlideError(
                        Stage.IMAGES, f"cannot use image {script.image_path}: {error}", "outline"
                    )
                )
        if provider is not None and len(work.images) < wanted:
            try:
                async with self.limiters.images:
                    with self._span(Stage.IMAGES, script.index), _for_slide(script.index):
                        found = await provider.find_images(
                            self.request, script, limit=wanted - len(work.images)
                        )
                work.images.extend(found[: wanted - len(work.images)])
            except ConfigurationError:
                raise  # the same for every slide: the user must fix it, so stop now
            except Exception as error:
                work.errors.append(
                    SlideError(Stage.IMAGES, _error_text(error), provider_name(provider))
                )
        if work.images:
            work.images = await anyio.to_thread.run_sync(
                self._save_images, script.index, work.images
            )
        work.timings["images"] = self.now() - start
        await self.emit(ImagesReady(script.index, list(work.images)))

    def _save_images(self, index: int, images: list[ImageAsset]) -> list[ImageAsset]:
        saved = []
        for number, image in enumerate(images, start=1):
            suffix = _IMAGE_EXTENSIONS.get(image.mime_type, ".img")
            path = self.project_dir / IMAGES_DIR / f"slide-{index + 1:02d}-{number}{suffix}"
            atomic_write_bytes(path, image.data)
            saved.append(replace(image, path=path))
        return saved

    async def synthesize(self, work: _SlideWork) -> None:
        provider = self.providers.tts
        if provider is None:
            return
        script = work.script
        start = self.now()
        try:
            async with self.limiters.tts:
                with self._span(Stage.TTS, script.index), _for_slide(script.index):
                    clip = await provider.synthesize(
                        spoken_text(script),
                        voice=self.request.voice,
                        language=self.request.language,
                    )
            if not clip.audio:
                raise SlidestreamError("the TTS provider returned no audio")
            fmt = clip.format.lower().lstrip(".") or "mp3"
            path = self.project_dir / AUDIO_DIR / f"slide-{script.index + 1:02d}.{fmt}"
            await anyio.to_thread.run_sync(atomic_write_bytes, path, clip.audio)
        except ConfigurationError:
            raise  # the same for every slide: the user must fix it, so stop now
        except Exception as error:
            work.errors.append(SlideError(Stage.TTS, _error_text(error), provider_name(provider)))
            work.timings["tts"] = self.now() - start
            return
        work.audio_path, work.duration_s, work.words = path, clip.duration_s, list(clip.words)
        work.timings["tts"] = self.now() - start
        await self.emit(AudioReady(script.index, path, clip.duration_s))

    def result(self, work: _SlideWork) -> SlideResult:
        return SlideResult(
            index=work.script.index,
            script=work.script,
            images=work.images,
            audio_path=work.audio_path,
            duration_s=work.duration_s,
            timings=dict(work.timings),
            errors=list(work.errors),
            words=work.words,
            ready_s=self.now(),
        )

    # -- schedules ---------------------------------------------------------------------------

    def _work(self, script: SlideScript, error: SlideError | None) -> _SlideWork:
        work = _SlideWork(script=script, errors=[error] if error else [])
        span = next(
            (s for s in reversed(self.spans) if s.stage == "script" and s.index == script.index),
            None,
        )
        work.timings["script"] = span.duration_s if span else 0.0
        return work

    async def _complete_slide(
        self, script: SlideScript, error: SlideError | None, assembler: DeckAssembler
    ) -> None:
        work = self._work(script, error)
        await self.emit(SlideScripted(script))
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(self._images_then_prepare, work, assembler)
            task_group.start_soon(self.synthesize, work)
        result = self.result(work)
        self.results[result.index] = result
        await self.emit(result)
        if self.progressive:
            await assembler.add_slide(result)

    async def _images_then_prepare(self, work: _SlideWork, assembler: DeckAssembler) -> None:
        await self.find_images(work)
        prepare = getattr(assembler, "prepare_slide", None)
        if self.progressive and callable(prepare):
            await prepare(self.result(work))

    async def _script_then_complete(
        self, outline: Outline, index: int, assembler: DeckAssembler
    ) -> None:
        script, error = await self.write_script(outline, index)
        await self._complete_slide(script, error, assembler)

    def _assembler(self, outline: Outline) -> contextlib.AbstractAsyncContextManager[DeckAssembler]:
        context = AssemblyContext(
            request=self.request,
            title=outline.title,
            project_dir=self.project_dir,
            options=self.options,
            slide_count=len(outline.items),
        )
        return self.assembler_factory(context)

    async def streaming(self) -> DeckResult:
        outline = await self.write_outline()
        await self.emit(OutlineReady(outline))
        async with self._assembler(outline) as assembler:
            async with anyio.create_task_group() as task_group:

                def start(script: SlideScript) -> None:
                    task_group.start_soon(self._complete_slide, script, None, assembler)

                missing: list[int] = list(range(len(outline.items)))
                if callable(getattr(self.providers.script, "stream_slides", None)):
                    missing = await self.stream_scripts(outline, start)
                for index in missing:
                    task_group.start_soon(self._script_then_complete, outline, index, assembler)
            slides = [self.results[i] for i in range(len(outline.items))]
            self._raise_if_every_slide_failed(slides)
            if not self.progressive:
                for slide in slides:
                    await assembler.add_slide(slide)
            files = await self._finish(assembler, slides)
        return await self._deck(outline, slides, files)

    async def sequential(self) -> DeckResult:
        outline = await self.write_outline()
        await self.emit(OutlineReady(outline))
        scripts: dict[int, tuple[SlideScript, SlideError | None]] = {}
        missing: list[int] = list(range(len(outline.items)))
        if callable(getattr(self.providers.script, "stream_slides", None)):
            missing = await self.stream_scripts(
                outline, lambda s: scripts.update({s.index: (s, None)})
            )
        for index in missing:
            scripts[index] = await self.write_script(outline, index)
        works = [self._work(*scripts[i]) for i in range(len(outline.items))]
        for work in works:
            await self.emit(SlideScripted(work.script))
        for work in works:
            await self.find_images(work)
        for work in works:
            await self.synthesize(work)
        slides = [self.result(work) for work in works]
        self.results = {slide.index: slide for slide in slides}
        for slide in slides:
            await self.emit(slide)
        self._raise_if_every_slide_failed(slides)
        async with self._assembler(outline) as assembler:
            for slide in slides:
                await assembler.add_slide(slide)
            files = await self._finish(assembler, slides)
        return await self._deck(outline, slides, files)

    # -- the end of a run --------------------------------------------------------------------

    def _raise_if_every_slide_failed(self, slides: list[SlideResult]) -> None:
        if not slides or not all(slide.errors for slide in slides):
            return
        stages = Counter(error.stage for slide in slides for error in slide.errors)
        stage = stages.most_common(1)[0][0]
        first = next(e for slide in slides for e in slide.errors if e.stage == stage)
        raise PipelineError(
            f"Every slide failed; most at the {stage} stage ({first.provider}): {first.message}. "
            f"Files already written are kept in {self.project_dir}.",
            stage=stage,
            provider=first.provider,
            slides=slides,
        )

    async def _finish(self, assembler: DeckAssembler, slides: list[SlideResult]) -> DeckFiles:
        with self._span(Stage.ASSEMBLE, None):
            return await assembler.finish(slides)

    async def _deck(
        self, outline: Outline, slides: list[SlideResult], files: DeckFiles
    ) -> DeckResult:
        starts: dict[str, float] = {}
        ends: dict[str, float] = {}
        for span in self.spans:
            starts[span.stage] = min(starts.get(span.stage, span.start_s), span.start_s)
            ends[span.stage] = max(ends.get(span.stage, span.end_s), span.end_s)
        timings = {stage: ends[stage] - starts[stage] for stage in starts}
        if slides:
            timings["first_slide"] = min(slide.ready_s for slide in slides)
        timings["total"] = self.now()
        deck = DeckResult(
            request=self.request,
            title=outline.title,
            slides=slides,
            project_dir=self.project_dir,
            pptx_path=files.pptx_path,
            audio_path=files.audio_path,
            video_path=files.video_path,
            subtitles_path=files.subtitles_path,
            files=dict(files.files),
            timings=timings,
            spans=list(self.spans),
            mode=self.mode,
        )
        await self.write_manifest("complete", deck=deck.to_dict(include_data=False))
        await self.emit(DeckReady(deck))
        return deck
