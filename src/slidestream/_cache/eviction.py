"""Keeping the cache folder small: its usage, least-recently-used eviction, clearing.

An entry's size is its JSON plus its blobs; its last use is the JSON's modification time
(:meth:`CacheStore.get` touches it). Eviction removes the least recently used entries until
the folder fits, the JSON first so that readers in other processes see a miss, not a
half-removed entry. Blobs without an entry and temporary files are left alone for
:data:`GRACE_S` (another process may be writing them) and removed after that. Every step
tolerates files that vanish under it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .._files import output_error
from .._types import CacheKind
from .store import STORE_VERSION, CacheStore

__all__ = [
    "CLOCK_SLACK_S",
    "GRACE_S",
    "CacheUsage",
    "KindUsage",
    "Pruned",
    "clear",
    "prune",
    "usage",
]

GRACE_S = 3600.0
"""How old a stray blob or temporary file must be before it is removed."""
CLOCK_SLACK_S = 300.0
"""How far in the future a file's time may be and still be believed (clocks of machines
sharing a folder differ a little). A time further ahead (a clock set back, a cache copied
from a machine whose clock was ahead) says nothing about the file's use: it counts as the
oldest, or an entry would outlive every entry used since."""


@dataclass
class KindUsage:
    """How many entries of one kind there are, and their bytes."""

    entries: int = 0
    bytes: int = 0


@dataclass
class _Item:
    kind: CacheKind
    entry: Path
    last_used: float
    bytes: int
    blobs: list[Path] = field(default_factory=list)


@dataclass
class CacheUsage:
    """What the cache folder holds."""

    root: Path
    kinds: dict[CacheKind, KindUsage]
    stray_bytes: int = 0
    """Blobs without an entry, temporary files, folders of other layouts."""

    @property
    def entries(self) -> int:
        """Entries of every kind."""
        return sum(usage.entries for usage in self.kinds.values())

    @property
    def bytes(self) -> int:
        """Bytes of every file in the cache."""
        return sum(usage.bytes for usage in self.kinds.values()) + self.stray_bytes


@dataclass(frozen=True)
class Pruned:
    """What :func:`prune` removed."""

    entries: int
    bytes: int


def _believed(mtime: float, now: float) -> float:
    """``mtime`` as a time of last use: one too far in the future counts as the oldest."""
    return mtime if mtime <= now + CLOCK_SLACK_S else 0.0


def _size(path: Path) -> tuple[int, float] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime


def _scan(store: CacheStore) -> tuple[list[_Item], list[tuple[Path, int, float]]]:
    """Every entry (with its blobs) and every stray file (path, bytes, mtime)."""
    items: list[_Item] = []
    strays: list[tuple[Path, int, float]] = []
    for kind in CacheKind:
        kind_dir = store.folder / kind.value
        with contextlib.suppress(OSError):
            for shard in sorted(kind_dir.iterdir()):
                if not shard.is_dir():
                    continue
                entries: dict[str, _Item] = {}
                others: list[tuple[str, Path, int, float]] = []
                with contextlib.suppress(OSError):
                    for path in shard.iterdir():
                        found = _size(path)
                        if found is None:
                            continue
                        size, mtime = found
                        if path.name.endswith(".json") and not path.name.startswith("."):
                            key = path.name.removesuffix(".json")
                            entries[key] = _Item(kind, path, mtime, size)
                        else:
                            others.append((path.name.split(".")[0], path, size, mtime))
                for key, path, size, mtime in others:
                    item = entries.get(key) if key else None
                    if item is None:
                        strays.append((path, size, mtime))
                    else:
                        item.bytes += size
                        item.blobs.append(path)
                items.extend(entries.values())
    return items, strays


def _other_layouts(store: CacheStore) -> list[Path]:
    with contextlib.suppress(OSError):
        return [
            path
            for path in store.root.iterdir()
            if path.is_dir() and path.name != STORE_VERSION and path.name[:1] in "v."
        ]
    return []


def _tree_bytes(folder: Path) -> int:
    total = 0
    for base, _dirs, files in os.walk(folder):
        for name in files:
            found = _size(Path(base) / name)
            total += found[0] if found else 0
    return total


def usage(store: CacheStore) -> CacheUsage:
    """Entries and bytes per kind, and the bytes of stray files."""
    items, strays = _scan(store)
    kinds = {kind: KindUsage() for kind in CacheKind}
    for item in items:
        kinds[item.kind].entries += 1
        kinds[item.kind].bytes += item.bytes
    stray = sum(size for _, size, _ in strays)
    stray += sum(_tree_bytes(folder) for folder in _other_layouts(store))
    return CacheUsage(root=store.root, kinds=kinds, stray_bytes=stray)


def _remove(item: _Item) -> bool:
    """Remove one entry unless it was used since the scan; True when it was removed."""
    found = _size(item.entry)
    if found is None or found[1] != item.last_used:
        return False
    with contextlib.suppress(OSError):
        item.entry.unlink()
    for blob in item.blobs:
        with contextlib.suppress(OSError):
            blob.unlink()
    return True


def prune(store: CacheStore, max_bytes: int, *, grace_s: float = GRACE_S) -> Pruned:
    """Remove least-recently-used entries until the cache holds at most ``max_bytes``.

    Stray files older than ``grace_s`` and folders of other layouts go first. A file dated
    more than :data:`CLOCK_SLACK_S` in the future counts as the oldest.
    """
    items, strays = _scan(store)
    now = time.time()
    removed_bytes = 0
    kept_stray = 0
    for path, size, mtime in strays:
        if now - _believed(mtime, now) >= grace_s:
            with contextlib.suppress(OSError):
                path.unlink()
                removed_bytes += size
                continue
        kept_stray += size
    for folder in _other_layouts(store):
        size = _tree_bytes(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed_bytes += size
    total = kept_stray + sum(item.bytes for item in items)
    removed_entries = 0
    for item in sorted(items, key=lambda item: _believed(item.last_used, now)):
        if total <= max_bytes:
            break
        if _remove(item):
            total -= item.bytes
            removed_bytes += item.bytes
            removed_entries += 1
    # Empty shard folders stay (at most 256 a kind): removing them raced writers in other
    # processes, which make a shard's folder just before they write into it.
    return Pruned(entries=removed_entries, bytes=removed_bytes)


def clear(store: CacheStore) -> Pruned:
    """Remove every entry: the folder is renamed away first, so readers see an empty cache.

    Raises:
        slidestream.OutputError: the cache folder cannot be changed (no permission, a symlink loop).
    """
    before = usage(store)
    moved: list[Path] = []
    for folder in [store.folder, *_other_layouts(store)]:
        trash = store.root / f".trash-{uuid.uuid4().hex}"
        try:
            folder.rename(trash)
        except FileNotFoundError:
            continue
        except OSError as error:
            raise output_error(store.root, error, action="clear the cache in") from error
        moved.append(trash)
    for trash in moved:
        shutil.rmtree(trash, ignore_errors=True)
    return Pruned(entries=before.entries, bytes=before.bytes)
