"""One run from start to finish: the context, a schedule, and the books around it."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from .._cache import RunCache
from .._events import DeckReady, Event
from .._exceptions import OutputError
from .._files import make_folder
from .._limits import Limits
from .._models import DeckRequest, DeckResult
from .._project import remove_stale
from .._timeouts import Timeouts
from ..render import AssemblerFactory, RenderOptions
from . import books, policy
from .context import Providers, RunContext
from .deadlines import run_deadline
from .schedules import Schedule

__all__ = ["run_deck"]


async def _record_end(ctx: RunContext, status: str, **extra: Any) -> None:
    """Write how the run ended, even while it is being cancelled; a write that fails
    (the disk that failed the run, say) must not hide why the run ended."""
    with anyio.CancelScope(shield=True), contextlib.suppress(OutputError):
        await books.write_manifest(ctx, status, **extra)


async def run_deck(
    *,
    request: DeckRequest,
    project_dir: Path,
    providers: Providers,
    limits: Limits,
    options: RenderOptions,
    assembler_factory: AssemblerFactory,
    schedule: Schedule,
    send: MemoryObjectSendStream[Event],
    timeouts: Timeouts | None = None,
    cache: RunCache | None = None,
) -> DeckResult:
    """Run ``schedule`` over a new context, keeping the manifest; ``DeckReady`` comes last.

    The caller owns ``project_dir`` (see :func:`slidestream._project.claim_project`). A failed
    run leaves ``"failed"`` and the error in the manifest and raises one clear error (see
    :func:`.policy.one_error`); a cancelled one leaves ``"cancelled"``. Only a complete run
    replaces the earlier deck in the folder, removing its files this deck did not remake.
    Changes of the limits this run uses are emitted as :class:`LimitChanged` events while it
    runs. With a ``cache``, what was made is kept as it is made (a run stopped half-way leaves
    its finished slides for the next one) and the cache is pruned to its size at the end.
    """
    ctx = RunContext(
        request=request,
        project_dir=project_dir,
        providers=providers,
        limits=limits,
        options=options,
        assembler_factory=assembler_factory,
        send=send,
        timeouts=timeouts,
        cache=cache,
    )
    try:
        await anyio.to_thread.run_sync(make_folder, project_dir)
        previous = await anyio.to_thread.run_sync(books.previous_deck, project_dir)
        kept = {"previous": previous} if previous is not None else {}
        await books.write_manifest(ctx, "running", **kept)
        try:
            with run_deadline(ctx.timeouts, project_dir):
                finished = await schedule.run(ctx)
        except Exception as error:
            clear = policy.one_error(error)
            await _record_end(ctx, "failed", error=str(clear), **kept)
            if clear is error:
                raise
            # A single error keeps its own traceback; several carry the group as their cause.
            raise clear from (None if clear in policy.leaves(error) else error)
        except BaseException:  # cancelled: the consumer left, Ctrl-C, SIGTERM
            await _record_end(ctx, "cancelled", **kept)
            raise
    finally:
        ctx.close()
    if cache is not None:
        await cache.prune()
    deck = books.deck_result(ctx, finished, schedule.mode)
    await books.write_manifest(ctx, "complete", deck=deck.to_dict(include_data=False))
    stale = functools.partial(remove_stale, project_dir, request.project, books.deck_files(deck))
    with contextlib.suppress(OutputError):  # a stale file left behind does not undo the deck
        await anyio.to_thread.run_sync(stale)
    await ctx.emit(DeckReady(deck))
    return deck
