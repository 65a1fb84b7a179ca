"""``slidestream cache info|prune|clear``: what the commands do, apart from the parser."""

from __future__ import annotations

from pathlib import Path

from .._types import CacheKind
from .eviction import clear, prune, usage
from .location import format_size
from .store import CacheStore

__all__ = ["clear_text", "info_text", "prune_text"]


def info_text(root: Path, max_bytes: int) -> str:
    """The cache folder, its size against the cap, and its entries by kind."""
    store = CacheStore(root)
    found = usage(store)
    lines = [
        f"Cache folder: {root}",
        f"Size: {format_size(found.bytes)} of {format_size(max_bytes)} allowed",
        "",
        f"{'what':<24}{'entries':>8}{'size':>12}",
    ]
    for kind in CacheKind:
        kind_usage = found.kinds[kind]
        if kind_usage.entries:
            lines.append(
                f"{kind.label:<24}{kind_usage.entries:>8}{format_size(kind_usage.bytes):>12}"
            )
    lines.append(f"{'total':<24}{found.entries:>8}{format_size(found.bytes):>12}")
    if found.stray_bytes:
        lines.append(f"(of which {format_size(found.stray_bytes)} are leftovers `prune` removes)")
    return "\n".join(lines)


def prune_text(root: Path, max_bytes: int) -> str:
    """Prune to ``max_bytes``, least recently used first; say what went."""
    store = CacheStore(root)
    done = prune(store, max_bytes)
    left = usage(store)
    return (
        f"Removed {done.entries} entries ({format_size(done.bytes)}); the cache in {root} now "
        f"holds {left.entries} entries, {format_size(left.bytes)}."
    )


def clear_text(root: Path) -> str:
    """Empty the cache; say what went."""
    done = clear(CacheStore(root))
    return f"Removed {done.entries} entries ({format_size(done.bytes)}) from {root}."
