"""The content-addressed store: one JSON entry per key, with its blobs beside it.

Layout under the cache folder (``CACHEDIR.TAG`` marks it for backup tools)::

    v1/<kind>/<k[:2]>/<key>.json                 metadata: what the entry holds, blob checksums
    v1/<kind>/<k[:2]>/<key>.<blob>.<sha[:16]>    each blob, named by the entry and its content

Every file is written to a temporary name and renamed, so a reader sees a whole file or none;
the blobs are written before the entry that names them. Nothing is pickled: metadata is JSON
and blobs are the bytes themselves. A reader checks the entry's own checksum and each blob's
size and SHA-256; an entry that fails (truncated by a power cut, edited, half-evicted by
another process) is discarded and reported as damaged, never used. Two processes may share
the folder: renames are atomic, and every step tolerates files vanishing under it.

Writes skip ``fsync``: losing a cache file in a crash only costs a recomputation, and the
checksums catch a file the crash left half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._types import CacheKind
from .keys import canonical_json, digest

__all__ = ["ENTRY_FORMAT", "STORE_VERSION", "CacheStore", "Entry", "Lookup"]

STORE_VERSION = "v1"
"""The folder of this layout; a new layout gets a new folder."""
ENTRY_FORMAT = 1
_KEY = re.compile(r"^[0-9a-f]{64}$")
_BLOB_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder is a cache made by slidestream; `slidestream cache clear` empties it.\n"
)


@dataclass(frozen=True, kw_only=True)
class Entry:
    """A verified cache entry.

    Attributes:
        key: its key (see :func:`slidestream._cache.keys.make_key`).
        kind: what it holds.
        data: its JSON metadata (what the maker chose to keep).
        blobs: its blobs by name, each checked against its size and SHA-256.
        made_s: how many seconds making it took.
        created: when it was written (Unix time).
    """

    key: str
    kind: CacheKind
    data: dict[str, Any]
    blobs: dict[str, bytes] = field(default_factory=dict)
    made_s: float = 0.0
    created: float = 0.0


@dataclass(frozen=True)
class Lookup:
    """What a lookup found: the entry, or None with why (``problem``: a damaged entry)."""

    entry: Entry | None = None
    problem: str | None = None


class _Damaged(Exception):
    """An entry that must not be used (its message says why)."""


class CacheStore:
    """The cache folder; blocking methods, safe to call from several threads and processes.

    Args:
        root: the cache folder (created on first write).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.folder = self.root / STORE_VERSION

    def __repr__(self) -> str:
        return f"CacheStore({str(self.root)!r})"

    # -- paths -----------------------------------------------------------------------------------

    def entry_path(self, kind: CacheKind, key: str) -> Path:
        """Where the metadata of ``key`` lives."""
        if not _KEY.match(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.folder / kind.value / key[:2] / f"{key}.json"

    def _blob_path(self, entry_path: Path, key: str, name: str, sha256: str) -> Path:
        return entry_path.with_name(f"{key}.{name}.{sha256[:16]}")

    # -- reading ---------------------------------------------------------------------------------

    def get(self, kind: CacheKind, key: str) -> Lookup:
        """The verified entry for ``key``; a damaged one is discarded and reported."""
        path = self.entry_path(kind, key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return Lookup()
        except OSError as error:
            return Lookup(problem=f"cannot read {path.name}: {error}")
        try:
            entry = self._verified(kind, key, path, raw)
        except (KeyError, TypeError, AttributeError, ValueError):
            damage = _Damaged(f"{kind} entry {key[:12]} is malformed")
            self._discard(path, raw)
            return Lookup(problem=str(damage))
        except _Damaged as damage:
            self._discard(path, raw)
            return Lookup(problem=str(damage))
        with contextlib.suppress(OSError):
            os.utime(path)  # the entry's mtime is its last use, for eviction
        return Lookup(entry)

    def _verified(self, kind: CacheKind, key: str, path: Path, raw: bytes) -> Entry:
        try:
            meta = json.loads(raw)
        except ValueError:
            raise _Damaged(f"{kind} entry {key[:12]} is not valid JSON") from None
        if not isinstance(meta, dict) or meta.get("format") != ENTRY_FORMAT:
            raise _Damaged(f"{kind} entry {key[:12]} has an unknown format")
        check = meta.pop("check", None)
        if check != digest(canonical_json(meta)):
            raise _Damaged(f"{kind} entry {key[:12]} fails its checksum")
        if meta.get("key") != key or meta.get("kind") != kind.value:
            raise _Damaged(f"{kind} entry {key[:12]} names another key")
        blobs: dict[str, bytes] = {}
        for name, spec in meta["blobs"].items():
            blob = self._blob_path(path, key, name, spec["sha256"])
            try:
                data = blob.read_bytes()
            except OSError:
                raise _Damaged(f"{kind} entry {key[:12]} lacks its {name} file") from None
            if len(data) != spec["size"] or digest(data) != spec["sha256"]:
                raise _Damaged(f"{kind} entry {key[:12]} has a damaged {name} file")
            blobs[name] = data
        return Entry(
            key=key,
            kind=kind,
            data=meta["data"],
            blobs=blobs,
            made_s=float(meta.get("made_s", 0.0)),
            created=float(meta.get("created", 0.0)),
        )

    def discard(self, kind: CacheKind, key: str) -> None:
        """Remove the entry of ``key`` (one that turned out unusable), if it is there."""
        path = self.entry_path(kind, key)
        try:
            raw = path.read_bytes()
        except OSError:
            return
        self._discard(path, raw)

    def _discard(self, path: Path, raw: bytes) -> None:
        """Remove a damaged entry, unless another process has replaced it meanwhile."""
        try:
            if path.read_bytes() != raw:
                return
            path.unlink()
        except OSError:
            return
        key = path.name.removesuffix(".json")
        for blob in _blobs_of(path.parent, key):
            with contextlib.suppress(OSError):
                blob.unlink()

    # -- writing ---------------------------------------------------------------------------------

    def put(
        self,
        kind: CacheKind,
        key: str,
        *,
        data: Mapping[str, Any],
        blobs: Mapping[str, bytes] | None = None,
        made_s: float = 0.0,
    ) -> Entry:
        """Store an entry (replacing any entry of the same key) and return it.

        Raises:
            OSError: the folder cannot be written (full disk, no permission).
            TypeError, ValueError: ``data`` is not plain JSON.
        """
        path = self.entry_path(kind, key)
        self._tag()
        specs = {}
        for name, content in (blobs or {}).items():
            if not _BLOB_NAME.match(name):
                raise ValueError(f"bad blob name {name!r}")
            sha = digest(content)
            _write_replacing(self._blob_path(path, key, name, sha), content)
            specs[name] = {"size": len(content), "sha256": sha}
        meta: dict[str, Any] = {
            "format": ENTRY_FORMAT,
            "key": key,
            "kind": kind.value,
            "created": time.time(),
            "made_s": round(float(made_s), 6),
            "data": dict(data),
            "blobs": specs,
        }
        meta = json.loads(canonical_json(meta))  # exactly what a reader will check
        meta["check"] = digest(canonical_json(meta))
        _write_replacing(path, json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        return Entry(
            key=key,
            kind=kind,
            data=meta["data"],
            blobs=dict(blobs or {}),
            made_s=meta["made_s"],
            created=meta["created"],
        )

    def _tag(self) -> None:
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            with contextlib.suppress(OSError):
                _write_replacing(tag, _TAG.encode("ascii"))


def _blobs_of(folder: Path, key: str) -> Iterator[Path]:
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            if path.name.startswith(key + ".") and not path.name.endswith(".json"):
                yield path


def _write_replacing(path: Path, data: bytes, *, attempts: int = 20) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it over ``path``.

    Another process may remove the temporary file between the steps (pruning with no grace
    period) or the whole folder (``clear``); the write is then tried again, after a pause that
    grows a little each time.
    """
    for attempt in range(1, attempts + 1):
        name = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(
                prefix=f".{path.name[:24]}.", suffix=".tmp", dir=path.parent
            )
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(name, path)
            return
        except (FileNotFoundError, FileExistsError):
            if attempt == attempts:
                raise
            time.sleep(0.001 * attempt)
        finally:
            if name is not None and os.path.exists(name):
                with contextlib.suppress(OSError):
                    os.unlink(name)
