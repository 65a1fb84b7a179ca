"""One run from start to finish: the context, a schedule, and the books around it."""

from __future__ import annotations

from pathlib import Path

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from .._events import DeckReady, Event
from .._limits import Limits
from .._models import DeckRequest, DeckResult
from ..render import AssemblerFactory, RenderOptions
from . import books, policy
from .context import Providers, RunContext
from .schedules import Schedule

__all__ = ["run_deck"]


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
) -> DeckResult:
    """Run ``schedule`` over a new context, keeping the manifest; ``DeckReady`` comes last.

    A failed run leaves ``"failed"`` and the error in the manifest and raises one clear
    error (see :func:`.policy.one_error`). Changes of the limits this run uses are emitted as
    :class:`LimitChanged` events while it runs.
    """
    await anyio.Path(project_dir).mkdir(parents=True, exist_ok=True)
    ctx = RunContext(
        request=request,
        project_dir=project_dir,
        providers=providers,
        limits=limits,
        options=options,
        assembler_factory=assembler_factory,
        send=send,
    )
    try:
        await books.write_manifest(ctx, "running")
        try:
            finished = await schedule.run(ctx)
        except Exception as error:
            clear = policy.one_error(error)
            with anyio.CancelScope(shield=True):
                await books.write_manifest(ctx, "failed", error=str(clear))
            if clear is error:
                raise
            # A single error keeps its own traceback; several carry the group as their cause.
            raise clear from (None if clear in policy.leaves(error) else error)
    finally:
        ctx.close()
    deck = books.deck_result(ctx, finished, schedule.mode)
    await books.write_manifest(ctx, "complete", deck=deck.to_dict(include_data=False))
    await ctx.emit(DeckReady(deck))
    return deck
