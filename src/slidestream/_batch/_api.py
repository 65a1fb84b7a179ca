"""``slidestream.batch``: many decks at once, in this process or on a Dask cluster."""

from __future__ import annotations

import math
import os
import sys
import uuid
from collections.abc import Callable, Iterable

import anyio

from .._cache import USER_CACHE_DIR, UserCacheDir
from .._constants import DEFAULT_OUTPUT_DIR
from .._exceptions import ConfigurationError, InvalidInputError, SlidestreamError
from .._files import expand_home, resolved_folder
from .._limits import Limits
from .._pipeline import _limits as shared_limits
from .._types import ProviderKind
from ..render import RenderOptions
from ._dask import ClusterTarget, run_on_cluster
from ._deck import DeckJob, DeckOutcome, DeckSettings
from ._folders import remove_staging
from ._inputs import InputSpec
from ._local import run_here
from ._models import BatchEvent, BatchEventKind, BatchItemResult, FilesMode
from ._plan import plan_batch
from ._providers import ProviderChoice, check_choice

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

__all__ = ["DEFAULT_DECKS_AT_ONCE", "batch"]

DEFAULT_DECKS_AT_ONCE = 4
"""Decks made at once in one process (on a local cluster: per worker)."""


def _positive(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInputError(f"{name}={value!r} is invalid: use a whole number >= {minimum}.")
    return value


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending[:0] = list(error.exceptions)
        else:
            leaves.append(error)
    ours = [leaf for leaf in leaves if isinstance(leaf, SlidestreamError)]
    if ours:
        return ours[0]
    return leaves[0] if len(leaves) == 1 else group


async def batch(
    inputs: InputSpec | Iterable[InputSpec],
    *,
    script_provider: ProviderChoice | None = None,
    image_provider: ProviderChoice | None = None,
    tts_provider: ProviderChoice | None = None,
    output_dir: str | os.PathLike[str] = DEFAULT_OUTPUT_DIR,
    max_concurrent_scripts: int | None = None,
    max_concurrent_images: int | None = None,
    max_concurrent_tts: int | None = None,
    limits: Limits | None = None,
    cache_dir: str | os.PathLike[str] | UserCacheDir | None = USER_CACHE_DIR,
    decks_at_once: int = DEFAULT_DECKS_AT_ONCE,
    language: str | None = None,
    slides: int | None = None,
    voice: str | None = None,
    audience: str | None = None,
    tone: str | None = None,
    video: bool | None = None,
    render_options: RenderOptions | None = None,
    sequential: bool = False,
    workers: int | None = None,
    cluster: str | None = None,
    files: FilesMode | str = FilesMode.AUTO,
    retries: int = 1,
    on_event: Callable[[BatchEvent], object] | None = None,
) -> list[BatchItemResult]:
    """Make a deck for each input; returns one result per input, in input order.

    Inputs are topics, Markdown outlines, text files of topics (one per line) or folders of
    outlines. An outline is read by the ``markdown`` provider (its front matter gives the
    deck's language and voice); ``script_provider`` writes the decks of topics.

    The limits hold across the whole batch: each service gets one limit shared by all decks
    (one :class:`~slidestream.Limits`, the same the pipelines use), in this process or on
    every worker of a cluster together (through Dask semaphores). Work on the local CPU
    (Piper, drawn images) and the CPU budget are limited per process instead.

    Args:
        max_concurrent_scripts: calls in flight per script service, across the batch.
        max_concurrent_images: calls in flight per image service, across the batch.
        max_concurrent_tts: calls in flight per TTS service, across the batch.
        limits: the limits to use instead of ``max_concurrent_*`` (not together with them):
            in this process, shared with any pipeline given the same object; on a cluster,
            their configuration held cluster-wide for this batch.
        cache_dir: the cache the decks use, as for the pipelines (``None``: no cache). By
            default each process uses its own user cache (on a cluster: each worker's); a
            folder given must be reachable at that path wherever decks are made.
        decks_at_once: decks made at once in this process, or per worker of a local cluster
            (on an existing cluster, each worker's thread count decides).
        workers: make the decks on a local Dask cluster of this many worker processes.
        cluster: make the decks on the Dask cluster whose scheduler is at this address.
        files: how decks made on cluster workers reach ``output_dir`` (see
            :class:`FilesMode`); ignored in this process.
        retries: on a cluster, how often a deck that raised an unexpected error is tried
            again (a deck whose worker died is rescheduled by Dask regardless).
        on_event: called with each :class:`BatchEvent` as it arrives, in the batch's loop.

    A deck that fails is reported in its result and the batch goes on; a configuration
    error (a missing extra, an unknown provider) stops the batch with that error.

    Raises:
        InvalidInputError: an input does not exist or an option is out of range.
        ConfigurationError: a provider or the ``dask`` extra is missing or misconfigured.
    """
    if workers is not None and cluster is not None:
        raise InvalidInputError("Give workers (a local cluster) or cluster (an address), not both.")
    decks_at_once = _positive("decks_at_once", decks_at_once)
    retries = _positive("retries", retries, minimum=0)
    if workers is not None:
        workers = _positive("workers", workers)
    try:
        files_mode = FilesMode(files)
    except ValueError:
        raise InvalidInputError(
            f"files={files!r} is unknown: use 'auto', 'shared' or 'send'."
        ) from None
    limits = shared_limits(
        limits, max_concurrent_scripts, max_concurrent_images, max_concurrent_tts
    )
    options = render_options or RenderOptions()
    if video is not None:
        options = RenderOptions(**{**vars(options), "video": video})
    for choice, kind in (
        (script_provider, ProviderKind.SCRIPT),
        (image_provider, ProviderKind.IMAGES),
        (tts_provider, ProviderKind.TTS),
    ):
        check_choice(choice, kind)
    settings = DeckSettings(
        images=image_provider,
        tts=tts_provider,
        render_options=options,
        sequential=sequential,
        slides=slides,
        audience=audience,
        tone=tone,
        cache_dir=cache_dir,
    )
    root = await anyio.to_thread.run_sync(lambda: resolved_folder(expand_home(output_dir)))
    batch_id = uuid.uuid4().hex[:12]
    planned = await anyio.to_thread.run_sync(
        lambda: plan_batch(
            inputs,
            batch_id=batch_id,
            output_dir=root,
            script=script_provider,
            settings=settings,
            language=language,
            voice=voice,
        )
    )
    results: dict[int, BatchItemResult] = {}
    send, receive = anyio.create_memory_object_stream[BatchEvent](math.inf)

    def finish(job: DeckJob, outcome: DeckOutcome, attempts: int) -> None:
        result = BatchItemResult(
            input=planned.inputs[job.item].source,
            project=job.project,
            deck=outcome.deck,
            error=outcome.error,
            seconds=outcome.seconds,
            attempts=attempts,
            worker=outcome.worker,
        )
        kind = BatchEventKind.FINISHED if result.ok else BatchEventKind.FAILED
        send.send_nowait(
            BatchEvent(
                kind=kind,
                item=job.item,
                project=job.project,
                attempt=attempts,
                worker=outcome.worker,
                result=result,
            )
        )
        if outcome.fatal:
            raise ConfigurationError(outcome.error or "A provider is misconfigured.")

    for position, refused in planned.refused.items():
        send.send_nowait(
            BatchEvent(
                kind=BatchEventKind.FAILED, item=position, project=refused.project, result=refused
            )
        )

    async def run() -> None:
        with send:
            if workers is None and cluster is None:
                await run_here(
                    planned.jobs,
                    limits=limits,
                    max_decks=decks_at_once,
                    emit=send.send_nowait,
                    finish=finish,
                )
            else:
                target = ClusterTarget(
                    address=cluster,
                    workers=workers or 1,
                    decks_per_worker=decks_at_once,
                    retries=retries,
                    files=files_mode,
                )
                await run_on_cluster(
                    planned.jobs, target=target, limits=limits, emit=send.send_nowait, finish=finish
                )

    try:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(run)
            async with receive:
                async for event in receive:
                    if event.result is not None:
                        results[event.item] = event.result
                    elif event.item in results:
                        continue  # news from an attempt that ended after its deck was done
                    if on_event is not None:
                        on_event(event)
    except BaseExceptionGroup as group:
        raise _first_error(group) from None
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(remove_staging, root, batch_id)
    return [results[position] for position in range(len(planned.inputs))]
