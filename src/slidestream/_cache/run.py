"""One run's use of the cache: lookups and writes off the event loop, and what was reused.

Every lookup goes through :meth:`RunCache.load`, which verifies the entry, decodes it, and
records the reuse in :attr:`RunCache.reused` (what, for which slide, and how long making it
took the first time). A damaged entry, or one that does not decode, is discarded and the work
is done again; a cache that cannot be written (full disk) never fails the run. Both are kept
in :attr:`RunCache.problems` for the report.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio

from .._types import CacheKind
from .eviction import Pruned, prune
from .store import CacheStore, Entry

__all__ = ["Reuse", "RunCache"]

T = TypeVar("T")


@dataclass(frozen=True)
class Reuse:
    """One piece of work taken from the cache instead of done again."""

    kind: CacheKind
    index: int | None
    """The slide it belongs to; None for the deck (its outline, its narration track)."""
    saved_s: float
    """How long making it took the first time."""


class RunCache:
    """The cache as one run sees it.

    Args:
        store: the cache folder.
        max_bytes: the size the folder is pruned to when the run has written to it.
        fresh: kinds never read in this run (their new results are still written), e.g. the
            outline and scripts when fresh LLM answers are wanted.
    """

    def __init__(
        self, store: CacheStore, *, max_bytes: int, fresh: Iterable[CacheKind] = ()
    ) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.fresh = frozenset(fresh)
        self.reused: list[Reuse] = []
        self.problems: list[str] = []
        self.written = 0
        self.busy_s = 0.0
        """Seconds spent reading, checking and writing the cache (in worker threads)."""
        self._busy_lock = threading.Lock()

    async def load(
        self,
        kind: CacheKind,
        key: str,
        decode: Callable[[Entry], T],
        *,
        index: int | None = None,
    ) -> T | None:
        """The decoded entry of ``key``, or None (missing, damaged, or ``kind`` is fresh).

        ``decode`` runs in a worker thread; a ``ValueError``, ``KeyError`` or ``TypeError``
        from it marks the entry damaged.
        """
        if kind in self.fresh:
            return None

        def lookup() -> tuple[T | None, Entry | None, str | None]:
            found = self.store.get(kind, key)
            if found.entry is None:
                return None, None, found.problem
            try:
                return decode(found.entry), found.entry, None
            except (ValueError, KeyError, TypeError) as error:
                self.store.discard(kind, key)
                return None, None, f"{kind} entry {key[:12]} does not decode ({error})"

        value, entry, problem = await self._timed(lookup)
        if problem is not None:
            self.problems.append(problem)
        if entry is not None:
            self.reused.append(Reuse(kind, index, entry.made_s))
        return value

    async def keep(
        self,
        kind: CacheKind,
        key: str,
        *,
        data: Mapping[str, Any],
        blobs: Mapping[str, bytes] | None = None,
        made_s: float = 0.0,
    ) -> None:
        """Store an entry; a failure is noted in :attr:`problems`, never raised."""
        put = functools.partial(self.store.put, kind, key, data=data, blobs=blobs, made_s=made_s)
        try:
            await self._timed(put)
        except (OSError, TypeError, ValueError) as error:
            self.problems.append(f"could not store a {kind} entry: {error}")
            return
        self.written += 1

    async def _timed(self, work: Callable[[], T]) -> T:
        def timed() -> T:
            started = time.perf_counter()
            try:
                return work()
            finally:
                with self._busy_lock:
                    self.busy_s += time.perf_counter() - started

        return await anyio.to_thread.run_sync(timed)

    def reused_by(self, index: int | None) -> dict[str, float]:
        """What slide ``index`` (None: the deck) took from the cache: ``{"cached_tts": 5.2}``."""
        found: dict[str, float] = {}
        for reuse in self.reused:
            if reuse.index == index:
                key = reuse.kind.timing_key
                found[key] = found.get(key, 0.0) + reuse.saved_s
        return found

    async def prune(self) -> Pruned | None:
        """Bring the folder under ``max_bytes`` when this run wrote to it."""
        if not self.written:
            return None
        try:
            return await self._timed(functools.partial(prune, self.store, self.max_bytes))
        except OSError as error:
            self.problems.append(f"could not prune the cache: {error}")
            return None
