"""Run every deck of a batch in this process, decks concurrent, limits shared."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from .._events import Event
from .._limits import Limits
from ._deck import BatchRuntime, DeckJob, DeckOutcome, make_deck
from ._models import BatchEvent, BatchEventKind

__all__ = ["run_here"]


async def run_here(
    jobs: list[DeckJob],
    *,
    limits: Limits,
    max_decks: int,
    emit: Callable[[BatchEvent], None],
    finish: Callable[[DeckJob, DeckOutcome, int], None],
) -> None:
    """Make every deck of ``jobs``, at most ``max_decks`` at once, all under ``limits``.

    ``emit`` gets each deck's start and pipeline events, ``finish`` each deck's outcome; a
    deck that raises an unexpected error is reported as failed and the batch goes on.
    """
    runtime = BatchRuntime(limits)
    decks = anyio.CapacityLimiter(max_decks)

    async def one(job: DeckJob) -> None:
        async with decks:
            emit(BatchEvent(kind=BatchEventKind.STARTED, item=job.item, project=job.project))

            def progress(event: Event) -> None:
                data = event.to_dict(include_data=False)
                emit(
                    BatchEvent(
                        kind=BatchEventKind.PROGRESS, item=job.item, project=job.project, data=data
                    )
                )

            started = anyio.current_time()
            try:
                outcome = await make_deck(job, runtime, progress, shared=True)
            except Exception as error:
                outcome = DeckOutcome(
                    error=f"{type(error).__name__}: {error}",
                    seconds=anyio.current_time() - started,
                )
            finish(job, outcome, 1)

    try:
        async with anyio.create_task_group() as task_group:
            for job in jobs:
                task_group.start_soon(one, job)
    finally:
        await runtime.aclose()
