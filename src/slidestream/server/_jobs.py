"""Deck jobs: started in the server's task group, followed through their event log, kept on disk.

A job's state lives in its project folder beside the pipeline's manifest: the job record
(``slidestream-job.json``, rewritten atomically at every step that matters), the event log
(``events.jsonl``) and, for an uploaded outline, ``outline.md``. When the server starts again
it reads every record back: finished decks are listed and downloadable as before, and decks
the restart interrupted are made again from their record (the cache gives back the slides
they finished), or marked failed with the reason when that is not possible
(:meth:`JobStore.recover_job`).

At most ``max_decks`` jobs run at once; up to ``max_queue`` more wait; beyond that
:class:`QueueFullError` (``429``). Shutting down stops new jobs at once, lets running ones
finish for ``grace_s`` seconds, then cancels the rest, which are marked failed.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from .._events import AudioReady, DeckReady, Event, ImagesReady, OutlineReady, SlideScripted
from .._exceptions import InvalidInputError, ProviderError, SlidestreamError
from .._files import atomic_write_text, resolve_project_dir, slugify
from .._models import DeckResult, SlideResult
from .._pipeline import SequentialPipeline, StreamingPipeline
from .._run_error import PipelineError
from .._types import ProviderKind
from ..providers.script.markdown import MarkdownScriptProvider
from ..render import RenderOptions
from ._config import ServerConfig
from ._errors import (
    JobConflictError,
    JobNotFoundError,
    PayloadTooLargeError,
    QueueFullError,
    ShuttingDownError,
)
from ._events import EVENTS_NAME, DeckFailed, EventLog, FailureReason, JobResumed, PreviewReady
from ._live import PLAYLIST, Segment, end_playlist, live_assembler, remove_preview
from ._providers import ProviderPool
from ._schemas import VOICE_PATTERN, ErrorView, JobRecord, JobStatus, SlideProgress
from ._security import check_job_id, strip_images

__all__ = ["RECORD_NAME", "DeckSpec", "Job", "JobStore"]

RECORD_NAME = "slidestream-job.json"
OUTLINE_NAME = "outline.md"

logger = logging.getLogger("slidestream.server")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, kw_only=True)
class DeckSpec:
    """What a request asks for, already checked for shape by the request models."""

    topic: str | None = None
    markdown: str | None = None
    project: str | None = None
    language: str | None = None
    slides: int | None = None
    voice: str | None = None
    video: bool = True
    audience: str | None = None
    tone: str | None = None
    mode: str = "streaming"
    script: str | None = None
    images: str | None = None
    tts: str | None = None


@dataclass
class _Plan:
    """The objects a job runs with, made when it is submitted (so errors answer at once)."""

    script: Any
    images: Any
    tts: Any
    topic: str
    language: str
    voice: str | None
    audience: str | None
    tone: str | None


class Job:
    """One deck job: its record, its event log, and the handle to cancel it."""

    def __init__(self, record: JobRecord, folder: Path, log: EventLog) -> None:
        self.record = record
        self.folder = folder
        self.log = log
        self.deck: DeckResult | None = None
        self.error: BaseException | None = None
        """What ended the job, when it failed (the seed endpoints answer with it)."""
        self.done = anyio.Event()
        self.stop_reason: FailureReason | None = None
        self._scope: anyio.CancelScope | None = None
        if record.status.finished:
            self.done.set()

    @property
    def id(self) -> str:
        """The job id (16 hex digits)."""
        return self.record.id

    @property
    def status(self) -> JobStatus:
        """Where the job is."""
        return self.record.status

    def cancel(self, reason: FailureReason = "cancelled") -> None:
        """Stop the job's work (it is marked ``cancelled``, or failed for a shutdown)."""
        if self.status.finished:
            return
        self.stop_reason = self.stop_reason or reason
        if self._scope is not None:
            self._scope.cancel()

    @functools.cached_property
    def _real_folder(self) -> Path:
        return self.folder.resolve()

    def relative(self, path: Path | str | None) -> str | None:
        """``path`` as a name inside the project folder, or None when outside it."""
        if path is None:
            return None
        try:
            return Path(path).resolve().relative_to(self._real_folder).as_posix()
        except ValueError:
            return None


class JobStore:
    """Every job of the server; an async context manager owning the jobs' task group."""

    def __init__(self, config: ServerConfig, pool: ProviderPool) -> None:
        self.config = config
        self.pool = pool
        self.accepting = False
        self._jobs: dict[str, Job] = {}
        self._task_group: TaskGroup | None = None
        self._lock = anyio.Lock()

    # -- life ---------------------------------------------------------------------------------

    async def __aenter__(self) -> JobStore:
        self._slots = anyio.CapacityLimiter(self.config.max_decks)
        await anyio.Path(self.config.output_dir).mkdir(parents=True, exist_ok=True)
        jobs = await anyio.to_thread.run_sync(self._load_all)
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        # Oldest first, so interrupted decks queue again in the order they were asked for.
        for job in sorted(jobs, key=lambda job: job.record.created_at):
            self._jobs[job.id] = job
            if not job.status.finished:
                await self.recover_job(job)
        self.accepting = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.accepting = False
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return
        with anyio.move_on_after(self.config.grace_s):
            for job in self.active():
                await job.done.wait()
        for job in self.active():
            job.cancel("shutdown")
        await task_group.__aexit__(exc_type, exc, tb)

    def _load_all(self) -> list[Job]:
        jobs = []
        for record_path in sorted(self.config.output_dir.glob(f"*/{RECORD_NAME}")):
            try:
                record = JobRecord.model_validate_json(record_path.read_bytes())
                check_job_id(record.id)
            except (OSError, ValueError, SlidestreamError) as error:
                logger.warning("Skipping unreadable job record %s: %s", record_path, error)
                continue
            folder = record_path.parent
            jobs.append(Job(record, folder, EventLog.load(folder / EVENTS_NAME)))
        return jobs

    async def recover_job(self, job: Job) -> None:
        """A job found unfinished at start-up: the restart interrupted it.

        Half-made intermediates are removed (deck files are written atomically, so none is
        half-written). With ``resume`` on, the deck is queued again from its record (and
        ``outline.md``): a :class:`JobResumed` event goes to its log, and the run takes the
        slides it finished from the cache. When it cannot be made again (resume off, a
        provider no longer offered, the outline gone), it is marked failed with reason
        ``interrupted`` and the why.
        """
        await anyio.to_thread.run_sync(_sweep, job.folder)
        job.log.closed = False
        why = "The server stopped before this deck was finished; submit it again."
        if self.config.resume and self._task_group is not None:
            try:
                spec, plan = await self._replan(job)
            except (OSError, UnicodeDecodeError, SlidestreamError) as error:
                why = (
                    "The server stopped before this deck was finished and it cannot be "
                    f"resumed: {error}"
                )
            else:
                await self._requeue(job, plan, spec)
                return
        failure = DeckFailed(reason="interrupted", message=why, error_type="Interrupted")
        await self._finish_failed(job, failure)

    async def _replan(self, job: Job) -> tuple[DeckSpec, _Plan]:
        """The request of an interrupted job, read back from its record, and its plan."""
        record = job.record
        markdown = None
        if record.outline:
            markdown = await anyio.Path(job.folder / OUTLINE_NAME).read_text(encoding="utf-8")
        names = {
            kind: self.pool.choose(kind, record.providers.get(kind.value)) for kind in ProviderKind
        }
        spec = DeckSpec(
            topic=None if markdown is not None else record.topic,
            markdown=markdown,
            project=record.project,
            language=record.language,
            slides=record.slides_wanted,
            voice=record.voice,
            video=record.video,
            audience=record.audience,
            tone=record.tone,
            mode=record.mode,
            script=names[ProviderKind.SCRIPT],
            images=names[ProviderKind.IMAGES],
            tts=names[ProviderKind.TTS],
        )
        return spec, self._plan(spec, names)

    async def _requeue(self, job: Job, plan: _Plan, spec: DeckSpec) -> None:
        assert self._task_group is not None
        record = job.record
        record.status = JobStatus.QUEUED
        record.resumed += 1
        record.error = None
        await self.save(job)
        resumed = JobResumed(
            message="The server restarted before this deck was finished; it is made again, "
            "reusing the slides it had finished.",
            resumed=record.resumed,
        )
        await job.log.append(resumed.kind, resumed.to_dict())
        self._task_group.start_soon(self._run, job, plan, spec)

    # -- queries ------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        """The job with ``job_id``, or :class:`JobNotFoundError`."""
        job = self._jobs.get(check_job_id(job_id))
        if job is None:
            raise JobNotFoundError(f"No deck job {job_id!r}.")
        return job

    def all(self) -> list[Job]:
        """Every job, newest first."""
        return sorted(self._jobs.values(), key=lambda job: job.record.created_at, reverse=True)

    def active(self) -> list[Job]:
        """Jobs queued or running."""
        return [job for job in self._jobs.values() if not job.status.finished]

    def counts(self) -> Mapping[JobStatus, int]:
        """How many jobs are in each state."""
        counts = dict.fromkeys(JobStatus, 0)
        for job in self._jobs.values():
            counts[job.status] += 1
        return counts

    # -- submitting ---------------------------------------------------------------------------

    async def submit(self, spec: DeckSpec) -> Job:
        """Check ``spec``, make its job and start it (it may wait for a free slot).

        Raises:
            ShuttingDownError, QueueFullError: no room now; try again later.
            ProviderNotAllowedError, InvalidInputError, ConfigurationError: fix the request.
            JobConflictError: the project is being made by another job.
        """
        if not self.accepting or self._task_group is None:
            raise ShuttingDownError(
                "The server is shutting down and takes no new decks.",
                retry_after_s=self.config.retry_after_s,
            )
        names = {
            ProviderKind.SCRIPT: self.pool.choose(ProviderKind.SCRIPT, spec.script),
            ProviderKind.IMAGES: self.pool.choose(ProviderKind.IMAGES, spec.images),
            ProviderKind.TTS: self.pool.choose(ProviderKind.TTS, spec.tts),
        }
        plan = self._plan(spec, names)
        async with self._lock:
            active = self.active()
            if len(active) >= self.config.max_decks + self.config.max_queue:
                raise QueueFullError(
                    f"{len(active)} decks are being made or waiting, the most this server "
                    "takes; try again later.",
                    retry_after_s=self.config.retry_after_s,
                )
            job_id = secrets.token_hex(8)
            project = spec.project or f"{slugify(plan.topic)[:40]}-{job_id[:6]}"
            folder = resolve_project_dir(self.config.output_dir, plan.topic, project)
            if any(job.folder == folder for job in active):
                raise JobConflictError(
                    f"Project {project!r} is being made by another job; wait for it, cancel "
                    "it, or choose another project name."
                )
            record = JobRecord(
                id=job_id,
                project=folder.name,
                mode="sequential" if spec.mode == "sequential" else "streaming",
                created_at=_now(),
                topic=plan.topic,
                language=plan.language,
                slides_wanted=spec.slides,
                voice=spec.voice,
                video=spec.video,
                outline=spec.markdown is not None,
                audience=spec.audience,
                tone=spec.tone,
                providers={kind.value: name for kind, name in names.items()},
            )
            for old in [job for job in self._jobs.values() if job.folder == folder]:
                del self._jobs[old.id]  # the same project made again replaces the old deck
            job = Job(record, folder, EventLog(folder / EVENTS_NAME))
            await anyio.to_thread.run_sync(_prepare_folder, folder, spec.markdown)
            await self.save(job)
            self._jobs[job_id] = job
            self._task_group.start_soon(self._run, job, plan, spec)
        return job

    def _plan(self, spec: DeckSpec, names: Mapping[ProviderKind, str]) -> _Plan:
        language, voice = spec.language, spec.voice
        if spec.markdown is not None:
            size = len(spec.markdown.encode("utf-8"))
            if size > self.config.max_outline_bytes:
                raise PayloadTooLargeError(
                    f"The outline is {size} bytes; this server takes outlines up to "
                    f"{self.config.max_outline_bytes} bytes."
                )
            script = MarkdownScriptProvider(text=strip_images(spec.markdown), images=False)
            topic = script.deck.title
            language = language or script.deck.language
            deck_voice = script.deck.voice
            if voice is None and deck_voice is not None and _plain_voice(deck_voice):
                voice = deck_voice
        else:
            if spec.topic is None or not spec.topic.strip():
                raise InvalidInputError("The topic is empty: give a topic or a Markdown outline.")
            topic = spec.topic.strip()
            script = self.pool.get(ProviderKind.SCRIPT, names[ProviderKind.SCRIPT])
        return _Plan(
            script=script,
            images=self.pool.get(ProviderKind.IMAGES, names[ProviderKind.IMAGES]),
            tts=self.pool.get(ProviderKind.TTS, names[ProviderKind.TTS]),
            topic=topic,
            language=language or "en",
            voice=voice,
            audience=spec.audience,
            tone=spec.tone,
        )

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job (finished jobs are left as they are)."""
        job = self.get(job_id)
        job.cancel()
        return job

    # -- running ------------------------------------------------------------------------------

    def _pipeline(self, job: Job, plan: _Plan) -> StreamingPipeline:
        config = self.config
        pipeline_class = (
            SequentialPipeline if job.record.mode == "sequential" else StreamingPipeline
        )

        async def on_segment(segment: Segment) -> None:
            await self._on_segment(job, segment)

        live = config.live_preview and plan.tts is not None
        return pipeline_class(
            script_provider=plan.script,
            image_provider=plan.images,
            tts_provider=plan.tts,
            limits=self.pool.limits,
            output_dir=config.output_dir,
            cache_dir=config.cache_dir,
            render_options=RenderOptions(video=job.record.video),
            assembler=live_assembler(on_segment) if live else None,
        )

    async def _run(self, job: Job, plan: _Plan, spec: DeckSpec) -> None:
        failure: DeckFailed | None = None
        try:
            with anyio.CancelScope() as scope:
                job._scope = scope
                if job.stop_reason is not None:
                    scope.cancel()
                async with self._slots:
                    job.record.status = JobStatus.RUNNING
                    job.record.started_at = _now()
                    await self.save(job)
                    pipeline = self._pipeline(job, plan)
                    async with pipeline.stream(
                        plan.topic,
                        project=job.record.project,
                        language=plan.language,
                        slides=spec.slides,
                        voice=plan.voice,
                        audience=plan.audience,
                        tone=plan.tone,
                    ) as events:
                        async for event in events:
                            await self._on_event(job, event)
            if job.stop_reason is not None and not job.status.finished:
                failure = _stopped(job.stop_reason)
        except SlidestreamError as error:
            job.error = error
            failure = DeckFailed(
                reason="error",
                message=str(error),
                error_type=type(error).__name__,
                stage=_stage(error),
                provider=getattr(error, "provider", None),
            )
        except Exception as error:
            logger.exception("Deck job %s failed unexpectedly", job.id)
            job.error = error
            failure = DeckFailed(
                reason="error",
                message=f"Internal error: {type(error).__name__}: {error}",
                error_type=type(error).__name__,
            )
        finally:
            with anyio.CancelScope(shield=True):
                if failure is None and not job.status.finished:
                    failure = _stopped(job.stop_reason or "cancelled")
                if failure is not None:
                    await self._finish_failed(job, failure)
                job.done.set()

    async def _finish_failed(self, job: Job, failure: DeckFailed) -> None:
        record = job.record
        record.status = JobStatus.CANCELLED if failure.reason == "cancelled" else JobStatus.FAILED
        record.finished_at = _now()
        record.error = ErrorView(
            reason=failure.reason,
            type=failure.error_type,
            message=failure.message,
            stage=failure.stage,
            provider=failure.provider,
        )
        await anyio.to_thread.run_sync(end_playlist, job.folder)
        if (job.folder / PLAYLIST).is_file():
            record.live = PLAYLIST
        await self.save(job)
        if not job.log.closed:
            await job.log.append(failure.kind, failure.to_dict())
        job.done.set()

    async def _on_event(self, job: Job, event: Event) -> None:
        record = job.record
        save = False
        if isinstance(event, OutlineReady):
            record.title = event.outline.title
            record.slides = [
                SlideProgress(index=i, title=item.title)
                for i, item in enumerate(event.outline.items)
            ]
            save = True
        elif isinstance(event, SlideScripted):
            slide = _slide(record, event.script.index)
            slide.title, slide.status = event.script.title, "scripted"
        elif isinstance(event, ImagesReady):
            _slide(record, event.index).images = bool(event.images)
        elif isinstance(event, AudioReady):
            slide = _slide(record, event.index)
            slide.audio, slide.duration_s = True, event.duration_s
            slide.audio_file = job.relative(event.clip_path)
        elif isinstance(event, SlideResult):
            slide = _slide(record, event.index)
            slide.status = "complete"
            slide.errors = [error.to_dict() for error in event.errors]
            slide.audio_file = job.relative(event.audio_path)
            slide.audio = slide.audio_file is not None
            save = True
        elif isinstance(event, DeckReady):
            deck = job.deck = event.deck
            record.status = JobStatus.COMPLETE
            record.finished_at = _now()
            record.title = deck.title
            record.files = {
                str(kind): name
                for kind, path in deck.files.items()
                if (name := job.relative(path)) is not None
            }
            record.timings = dict(deck.timings)
            record.report = deck.report()
            if (job.folder / PLAYLIST).is_file():
                record.live = PLAYLIST
            save = True
        if save:
            await self.save(job)
        # Clients see names inside the deck's folder, never where the server keeps files.
        await job.log.append(event.kind, event.to_dict(include_data=False, paths=job.relative))

    async def _on_segment(self, job: Job, segment: Segment) -> None:
        slide = _slide(job.record, segment.index)
        slide.frame_file = segment.frame
        job.record.live = PLAYLIST
        preview = PreviewReady(
            index=segment.index,
            frame=segment.frame,
            segment=segment.segment,
            duration_s=segment.duration_s,
        )
        await job.log.append(preview.kind, preview.to_dict())

    async def save(self, job: Job) -> None:
        """Write the job record atomically."""
        text = job.record.model_dump_json(indent=2)
        await anyio.to_thread.run_sync(atomic_write_text, job.folder / RECORD_NAME, text)


def _slide(record: JobRecord, index: int) -> SlideProgress:
    while len(record.slides) <= index:
        record.slides.append(SlideProgress(index=len(record.slides)))
    return record.slides[index]


def _stage(error: BaseException) -> str | None:
    if isinstance(error, (PipelineError, ProviderError)) and error.stage is not None:
        return str(error.stage)
    return None


def _stopped(reason: FailureReason) -> DeckFailed:
    if reason == "shutdown":
        return DeckFailed(
            reason="shutdown",
            message="The server shut down before this deck was finished; submit it again.",
            error_type="Shutdown",
        )
    return DeckFailed(reason=reason, message="The deck was cancelled.", error_type="Cancelled")


def _plain_voice(voice: str) -> bool:
    return re.fullmatch(VOICE_PATTERN, voice) is not None


def _prepare_folder(folder: Path, markdown: str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / EVENTS_NAME).unlink(missing_ok=True)
    (folder / RECORD_NAME).unlink(missing_ok=True)
    remove_preview(folder)  # the deck made there before is not this one's preview
    if markdown is not None:
        atomic_write_text(folder / OUTLINE_NAME, markdown)


def _sweep(folder: Path) -> None:
    """Remove what an interrupted run leaves: temporary files and the build folder."""
    shutil.rmtree(folder / "build", ignore_errors=True)
    for path in folder.rglob(".*"):
        if path.is_file():
            path.unlink(missing_ok=True)
