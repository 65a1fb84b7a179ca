"""A job's event log: every event numbered, kept, and followed by any number of readers.

Besides the pipeline's own events (``outline``, ``script``, ``images``, ``audio``, ``slide``,
``deck``, ``limit``), a job's log carries three of the service's: :class:`PreviewReady` when a
slide's narrated segment joins the live playlist, :class:`JobResumed` when a restart found the
job unfinished and it is made again, and :class:`DeckFailed` when the job ends without a
deck. The log of a job ends with exactly one ``deck`` or ``failed`` event.

The log is also appended to ``events.jsonl`` in the project folder, so a finished job's
events can still be replayed after a restart (a line cut short by a crash is skipped).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio

from .._serialize import Serializable as _Serializable

__all__ = [
    "TERMINAL_KINDS",
    "DeckFailed",
    "EventLog",
    "JobResumed",
    "LoggedEvent",
    "PreviewReady",
]

TERMINAL_KINDS = frozenset({"deck", "failed"})
EVENTS_NAME = "events.jsonl"

FailureReason = Literal["error", "cancelled", "shutdown", "interrupted"]


@dataclass(frozen=True, kw_only=True)
class DeckFailed(_Serializable):
    """The job ended without a deck; always its last event.

    ``reason`` is ``"error"`` (the run failed: ``message`` says why, ``stage`` and ``provider``
    where known), ``"cancelled"`` (``DELETE``), ``"shutdown"`` (the server stopped before the
    deck was done) or ``"interrupted"`` (found unfinished after a restart).
    """

    reason: FailureReason
    message: str
    error_type: str
    stage: str | None = None
    provider: str | None = None
    kind: Literal["failed"] = field(default="failed", init=False)


@dataclass(frozen=True, kw_only=True)
class JobResumed(_Serializable):
    """The server restarted while the job was unfinished, and makes the deck again.

    The events of the new run follow (``outline`` again, then its slides; those finished
    before the restart come from the cache at once).
    """

    message: str
    resumed: int
    """How many times the job has been resumed."""
    kind: Literal["resumed"] = field(default="resumed", init=False)


@dataclass(frozen=True, kw_only=True)
class PreviewReady(_Serializable):
    """Slide ``index``'s narrated segment is in the live playlist; its frame can be shown."""

    index: int
    frame: str
    """The frame's name in the project folder (``live/slide-001.png``)."""
    segment: str
    duration_s: float
    kind: Literal["preview"] = field(default="preview", init=False)


@dataclass(frozen=True)
class LoggedEvent:
    """One event as served: its sequence number (from 1), kind and JSON data."""

    seq: int
    kind: str
    data: dict[str, Any]

    @property
    def terminal(self) -> bool:
        """True for the job's last event."""
        return self.kind in TERMINAL_KINDS


class EventLog:
    """The numbered events of one job; readers wait for new ones with :meth:`follow`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.items: list[LoggedEvent] = []
        self.closed = False
        self._changed = anyio.Event()
        self._lock = anyio.Lock()

    async def append(self, kind: str, data: dict[str, Any]) -> LoggedEvent:
        """Add an event (written to the log file first) and wake the readers."""
        async with self._lock:  # numbers, file lines and readers see one order
            if self.closed:
                raise RuntimeError("this job's event log is closed")
            item = LoggedEvent(len(self.items) + 1, kind, data)
            if self.path is not None:
                line = json.dumps({"seq": item.seq, "kind": kind, "data": data}, ensure_ascii=False)
                await anyio.to_thread.run_sync(_append_line, self.path, line)
            self.items.append(item)
            if item.terminal:
                self.closed = True
            self._wake()
            return item

    def close(self) -> None:
        """No more events will come (readers stop once they have the last one)."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    async def follow(self, after: int = 0) -> AsyncIterator[LoggedEvent]:
        """Every event numbered above ``after``, then each new one as it comes, until the end."""
        position = max(0, after)
        while True:
            while position < len(self.items):
                item = self.items[position]
                position += 1
                yield item
            if self.closed:
                return
            await self._changed.wait()

    @classmethod
    def load(cls, path: Path) -> EventLog:
        """A closed log read back from ``path`` (blocking; call it in a worker thread)."""
        log = cls(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                entry = json.loads(line)
                item = LoggedEvent(int(entry["seq"]), str(entry["kind"]), dict(entry["data"]))
            except (ValueError, KeyError, TypeError):
                break  # the crash cut this line short; nothing after it is trustworthy
            if item.seq != len(log.items) + 1:
                break
            log.items.append(item)
        log.closed = True
        return log


def _append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
