"""Cache keys: a SHA-256 of the canonical JSON of every input that changes an output.

Canonical JSON has sorted keys, no spaces and no NaN, so the same inputs always give the same
key on any machine. Bytes never go into the JSON itself: :func:`plain` replaces them with their
digest. :func:`code_version` digests source files, so an entry made by other code (another
render version, another provider implementation) gets another key and is never reused.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from .._types import CacheKind

__all__ = ["KEY_SCHEMA", "canonical_json", "code_version", "digest", "make_key", "plain"]

KEY_SCHEMA = 1
"""Bumped when the meaning of a key's parts changes, so older entries stop matching."""


def digest(data: bytes) -> str:
    """The SHA-256 of ``data``, as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def plain(value: Any) -> Any:
    """``value`` as plain JSON values: dataclasses and mappings become objects, enums their
    values, paths strings, tuples and sets lists (sets sorted), bytes their digest."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"sha256": digest(bytes(value))}
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(item) for item in value), key=canonical_json)
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"{type(value).__name__} cannot be part of a cache key")


def canonical_json(value: Any) -> bytes:
    """``value`` (made :func:`plain`) as canonical UTF-8 JSON.

    Raises:
        TypeError: a value has no plain JSON form.
        ValueError: a float is NaN or infinite.
    """
    text = json.dumps(
        plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def make_key(kind: CacheKind, parts: Mapping[str, Any]) -> str:
    """The key of a ``kind`` entry made from ``parts`` (every input that changes it)."""
    return digest(canonical_json({"schema": KEY_SCHEMA, "kind": kind, "parts": parts}))


def code_version(paths: Iterable[Path], *, extra: Mapping[str, str] | None = None) -> str:
    """A digest of the source files (or of every file under the folders) in ``paths``.

    ``extra`` adds other versions that change the output (a library's version, say).
    """
    files = tuple(sorted(Path(path) for path in paths))
    return _code_version(files, tuple(sorted((extra or {}).items())))


@functools.lru_cache(maxsize=64)
def _code_version(paths: tuple[Path, ...], extra: tuple[tuple[str, str], ...]) -> str:
    hasher = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(_source_files(root))
        for file in files:
            hasher.update(file.name.encode("utf-8") + b"\0")
            hasher.update(file.read_bytes())
            hasher.update(b"\0")
    for name, version in extra:
        hasher.update(f"{name}={version}\0".encode())
    return hasher.hexdigest()[:16]


def _source_files(folder: Path) -> Iterable[Path]:
    for base, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")) and not name.startswith("."):
                yield Path(base) / name
