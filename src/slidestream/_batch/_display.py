"""The command line's view of a batch: live progress across decks, then a summary table."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ._models import BatchEvent, BatchEventKind, BatchItemResult

__all__ = ["BatchProgress", "summary_table"]


def _where(worker: str | None) -> str:
    return f" on {worker.split('://')[-1]}" if worker else ""


class BatchProgress:
    """A live display: one bar for the batch, one per deck being made.

    Call it with each :class:`BatchEvent` (it is the ``on_event`` of :func:`batch`); each
    finished or failed deck also prints a line, so a log keeps the story when the output is
    not a terminal.
    """

    def __init__(self, console: Console, total: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.overall = self.progress.add_task("decks", total=total)
        self.rows: dict[int, TaskID] = {}

    def __enter__(self) -> BatchProgress:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def __call__(self, event: BatchEvent) -> None:
        if event.kind is BatchEventKind.STARTED:
            self._started(event)
        elif event.kind is BatchEventKind.PROGRESS:
            self._progress(event)
        else:
            self._done(event)

    def _started(self, event: BatchEvent) -> None:
        label = f"  {event.project}{_where(event.worker)}"
        if event.attempt > 1:
            label += f" (attempt {event.attempt})"
            self.progress.console.print(
                f"[↻ retry] {event.project}: started again{_where(event.worker)}"
            )
        row = self.rows.get(event.item)
        if row is None:
            self.rows[event.item] = self.progress.add_task(label, total=None)
        else:
            self.progress.reset(row, total=None, description=label)

    def _progress(self, event: BatchEvent) -> None:
        row = self.rows.get(event.item)
        if row is None:
            return
        kind = event.data.get("kind")
        if kind == "outline":
            items = event.data.get("outline", {}).get("items", [])
            self.progress.update(row, total=len(items))
        elif kind == "slide":
            self.progress.advance(row)

    def _done(self, event: BatchEvent) -> None:
        row = self.rows.pop(event.item, None)
        if row is not None:
            self.progress.remove_task(row)
        self.progress.advance(self.overall)
        result = event.result
        if result is None:
            return
        if result.ok and result.deck is not None:
            self.progress.console.print(
                f"[✔ deck] {result.project}: {len(result.deck.slides)} slides in "
                f"{result.seconds:.1f} s{_where(result.worker)}"
            )
        else:
            self.progress.console.print(f"[✖ deck] {result.project}: {result.error}")


def summary_table(results: list[BatchItemResult]) -> Table:
    """One row per deck: its folder, slides, errors, time and files."""
    table = Table(title="Batch summary", title_justify="left")
    table.add_column("deck")
    table.add_column("slides", justify="right")
    table.add_column("errors")
    table.add_column("time", justify="right")
    table.add_column("files")
    for result in results:
        deck = result.deck
        if deck is None:
            table.add_row(result.project, "-", f"failed: {result.error}", "-", "-")
            continue
        errors = sum(len(slide.errors) for slide in deck.slides)
        table.add_row(
            result.project,
            str(len(deck.slides)),
            str(errors) if errors else "none",
            f"{result.seconds:.1f} s",
            " ".join(sorted(str(kind) for kind in deck.files)),
        )
    return table
