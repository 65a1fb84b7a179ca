"""One deck of a batch: its job, how it runs, and what comes back.

A :class:`DeckJob` holds everything a deck needs and nothing tied to a process, so the same
job runs in this process or on a cluster worker. :func:`make_deck` runs the pipeline into a
staging folder under the batch's shared :class:`~slidestream.Limits` (the engine takes every
provider call's slot from them), then either moves the finished deck into the output folder or
packs it for the client.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from .._cache import USER_CACHE_DIR, UserCacheDir
from .._events import DeckReady, Event
from .._exceptions import ConfigurationError, SlidestreamError
from .._limits import Limits
from .._models import DeckResult
from .._pipeline import SequentialPipeline, StreamingPipeline
from ..render import RenderOptions
from ._folders import (
    attempt_dir,
    install,
    pack,
    relocate,
    relocate_manifest,
    staging_root,
    without_image_bytes,
)
from ._providers import SharedProviders, build_providers

__all__ = ["BatchRuntime", "DeckJob", "DeckOutcome", "DeckSettings", "make_deck"]


@dataclass(frozen=True, kw_only=True)
class DeckSettings:
    """What every deck of a batch shares: providers and deck options."""

    images: object
    tts: object
    render_options: RenderOptions = field(default_factory=RenderOptions)
    sequential: bool = False
    slides: int | None = None
    audience: str | None = None
    tone: str | None = None
    cache_dir: str | os.PathLike[str] | UserCacheDir | None = USER_CACHE_DIR
    """The cache every deck uses (the default resolves where the deck is made)."""


@dataclass(frozen=True, kw_only=True)
class DeckJob:
    """One deck to make, self-contained (it may be sent to a cluster worker)."""

    batch_id: str
    item: int
    """The input's position in the batch."""
    project: str
    topic: str
    script: object
    """This deck's script provider choice (an outline's own Markdown provider, for one)."""
    language: str
    voice: str | None
    settings: DeckSettings
    output_dir: Path
    """The output folder, absolute, as the client sees it."""

    @property
    def final_dir(self) -> Path:
        """Where the finished deck goes."""
        return self.output_dir / self.project


@dataclass(frozen=True, kw_only=True)
class DeckOutcome:
    """What an attempt at a deck gives back to the batch."""

    deck: DeckResult | None = None
    error: str | None = None
    fatal: bool = False
    """A configuration error (a provider missing or misconfigured): the batch stops."""
    seconds: float = 0.0
    archive: bytes | None = None
    """The deck folder as a tar archive, when it was made where the client cannot see it."""
    worker: str | None = None
    attempt: str = ""
    semaphores: tuple[str, ...] = ()
    """Cluster-wide semaphores the attempt used (the client closes them at the end)."""


@dataclass
class BatchRuntime:
    """What the decks of one batch share in one process: the limits and named providers."""

    limits: Limits
    providers: SharedProviders = field(default_factory=SharedProviders)

    async def aclose(self) -> None:
        """Close the shared providers (the batch is over here)."""
        await self.providers.aclose()


async def run_deck(
    job: DeckJob, runtime: BatchRuntime, staging: Path, on_event: Callable[[Event], None]
) -> DeckResult:
    """Run ``job``'s pipeline into ``staging/<project>``; ``on_event`` gets its events."""
    settings = job.settings
    providers = await build_providers(
        script=job.script,
        images=settings.images,
        tts=settings.tts,
        shared=runtime.providers,
    )
    try:
        pipeline_class = SequentialPipeline if settings.sequential else StreamingPipeline
        pipeline = pipeline_class(
            script_provider=providers.script,
            image_provider=providers.images,
            tts_provider=providers.tts,
            limits=runtime.limits,
            cache_dir=settings.cache_dir,
            output_dir=staging,
            render_options=settings.render_options,
        )
        async with pipeline.stream(
            job.topic,
            project=job.project,
            language=job.language,
            slides=settings.slides,
            voice=job.voice,
            audience=settings.audience,
            tone=settings.tone,
        ) as events:
            async for event in events:
                if not isinstance(event, DeckReady):
                    on_event(event)
        assert events.deck is not None
        return events.deck
    finally:
        await providers.aclose()


def _temporary_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="slidestream-batch-")).resolve()


def _put_in_place(built: Path, job: DeckJob) -> None:
    relocate_manifest(built, built, job.final_dir)
    install(built, job.final_dir, staging_root(job.output_dir, job.batch_id))


def _packed(built: Path, job: DeckJob) -> bytes:
    relocate_manifest(built, built, job.final_dir)
    return pack(built)


async def make_deck(
    job: DeckJob, runtime: BatchRuntime, on_event: Callable[[Event], None], *, shared: bool
) -> DeckOutcome:
    """Make ``job``'s deck with the batch's shared ``runtime``.

    With ``shared``, the deck is made in the batch's staging area and moved into the output
    folder when complete; otherwise it is made in a temporary folder and returned as an
    archive. A deck that fails for its own reasons (a :class:`SlidestreamError`) comes back
    as an outcome with its error; anything else propagates (a cluster may retry it).
    """
    started = anyio.current_time()
    temporary: Path | None = None
    try:
        if shared:
            staging = attempt_dir(job.output_dir, job.batch_id, job.project)
        else:
            temporary = staging = await anyio.to_thread.run_sync(_temporary_folder)
        deck = await run_deck(job, runtime, staging, on_event)
        built = deck.project_dir or staging / job.project
        archive = None
        if shared:
            await anyio.to_thread.run_sync(_put_in_place, built, job)
        else:
            archive = await anyio.to_thread.run_sync(_packed, built, job)
        deck = without_image_bytes(relocate(deck, built, job.final_dir))
        return DeckOutcome(deck=deck, seconds=anyio.current_time() - started, archive=archive)
    except ConfigurationError as error:
        return DeckOutcome(error=str(error), fatal=True, seconds=anyio.current_time() - started)
    except SlidestreamError as error:
        return DeckOutcome(error=str(error), seconds=anyio.current_time() - started)
    finally:
        if temporary is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(shutil.rmtree, temporary, True)
