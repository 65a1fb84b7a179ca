"""What a batch gives back: one result per input, and the events that report its progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._models import DeckResult
from .._serialize import Serializable as _Serializable
from .._types import _StrEnum

__all__ = ["BatchEvent", "BatchEventKind", "BatchItemResult", "FilesMode"]


class FilesMode(_StrEnum):
    """How a deck made on a cluster worker reaches the output folder.

    ``SHARED``: every worker sees the output folder at the same path (a shared volume) and
    writes the deck there. ``SEND``: the worker makes the deck in a temporary folder of its
    own and sends the files back to the client, which writes them. ``AUTO`` (the default):
    each worker checks whether it sees the folder (a probe file the client writes into it)
    and shares when it does, else sends.
    """

    AUTO = "auto"
    SHARED = "shared"
    SEND = "send"


@dataclass(frozen=True, kw_only=True)
class BatchItemResult(_Serializable):
    """The outcome of one input of a batch: its deck, or why there is none.

    In a batch the deck's images carry their saved ``path`` and no bytes, so results of
    hundreds of decks stay small.
    """

    input: str | Path
    """The input as given: a topic, or the path of a Markdown outline."""
    project: str
    """The deck's folder name inside the output folder."""
    deck: DeckResult | None = None
    error: str | None = None
    """Why the deck failed (``deck`` is then ``None``)."""
    seconds: float = 0.0
    """How long the attempt that produced this result ran."""
    attempts: int = 1
    """How many times the deck was started (more than 1 after a worker was lost)."""
    worker: str | None = None
    """The Dask worker that made the deck (``None`` when made in this process)."""

    @property
    def ok(self) -> bool:
        """True when the deck was made (its slides may still carry errors)."""
        return self.deck is not None and self.error is None


class BatchEventKind(_StrEnum):
    """What a :class:`BatchEvent` reports."""

    STARTED = "started"
    """An attempt at a deck started (again, after a lost worker: ``attempt`` > 1)."""
    PROGRESS = "progress"
    """A pipeline event of the deck; ``data`` is the event's ``to_dict()`` without bytes."""
    FINISHED = "finished"
    """The deck is made and in the output folder; ``result`` is set."""
    FAILED = "failed"
    """The deck failed; ``result`` carries the error, and the batch goes on."""


@dataclass(frozen=True, kw_only=True)
class BatchEvent(_Serializable):
    """Progress of one deck of a batch, wherever it runs.

    Events of a deck made on a cluster worker travel through the scheduler; they report
    progress only (a lost event never changes a result).
    """

    kind: BatchEventKind
    item: int
    """The input's position in the batch."""
    project: str
    attempt: int = 1
    worker: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    result: BatchItemResult | None = None
