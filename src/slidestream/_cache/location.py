"""Where the cache lives and how big it may grow.

The default folder is ``$SLIDESTREAM_CACHE_DIR`` when set, else the user cache folder that
platformdirs names (``~/.cache/slidestream`` on Linux); ``SLIDESTREAM_NO_CACHE=1`` turns the
default off (for benchmarks and services that must compute everything).
``$SLIDESTREAM_CACHE_MAX_SIZE`` sets the default size cap (``"2G"``, ``"500M"``, or bytes).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

from .._exceptions import InvalidInputError
from .._files import expand_home

__all__ = [
    "CACHE_DIR_ENV",
    "CACHE_MAX_SIZE_ENV",
    "DEFAULT_CACHE_MAX_BYTES",
    "NO_CACHE_ENV",
    "USER_CACHE_DIR",
    "UserCacheDir",
    "default_cache_dir",
    "default_max_bytes",
    "format_size",
    "parse_size",
    "resolve_cache_dir",
]

CACHE_DIR_ENV = "SLIDESTREAM_CACHE_DIR"
CACHE_MAX_SIZE_ENV = "SLIDESTREAM_CACHE_MAX_SIZE"
NO_CACHE_ENV = "SLIDESTREAM_NO_CACHE"
DEFAULT_CACHE_MAX_BYTES = 2 * 1024**3
"""2 GiB: some hundred decks' narration, images and video pieces."""

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class UserCacheDir:
    """The default ``cache_dir``: ``$SLIDESTREAM_CACHE_DIR``, else the user cache folder; no
    cache when ``$SLIDESTREAM_NO_CACHE`` is set (to anything but ``0``)."""

    def __repr__(self) -> str:
        return "USER_CACHE_DIR"


USER_CACHE_DIR = UserCacheDir()


def default_cache_dir() -> Path:
    """``$SLIDESTREAM_CACHE_DIR`` when set, else platformdirs' user cache folder."""
    chosen = os.environ.get(CACHE_DIR_ENV, "").strip()
    if chosen:
        return expand_home(chosen)
    return Path(platformdirs.user_cache_dir("slidestream", appauthor=False))


def resolve_cache_dir(value: str | os.PathLike[str] | UserCacheDir | None) -> Path | None:
    """The cache folder ``value`` names: None turns the cache off.

    Raises:
        InvalidInputError: ``value`` is empty or names a file.
    """
    if value is None:
        return None
    if isinstance(value, UserCacheDir):
        if os.environ.get(NO_CACHE_ENV, "").strip() not in ("", "0"):
            return None
        return default_cache_dir()
    text = os.fspath(value)
    if not str(text).strip():
        raise InvalidInputError("cache_dir is empty: give a folder, or None for no cache.")
    folder = expand_home(text)
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(
            f"The cache folder {folder} is a file: give a folder (--cache-dir DIR), "
            "or turn the cache off (--no-cache)."
        )
    return folder


def parse_size(text: str | int) -> int:
    """Bytes from ``"500M"``, ``"2G"``, ``"1.5GB"``, ``"4096"`` (binary units).

    Raises:
        InvalidInputError: ``text`` is not a size.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text).lower())
        if match is None:
            raise InvalidInputError(
                f"{text!r} is not a size: write bytes or a number with K, M, G or T (e.g. 2G)."
            )
        value = int(float(match.group(1)) * _UNITS[match.group(2)])
    if value < 0:
        raise InvalidInputError(f"{text!r} is negative: a cache size is 0 or more bytes.")
    return value


def default_max_bytes() -> int:
    """``$SLIDESTREAM_CACHE_MAX_SIZE`` when set, else :data:`DEFAULT_CACHE_MAX_BYTES`."""
    chosen = os.environ.get(CACHE_MAX_SIZE_ENV, "").strip()
    return parse_size(chosen) if chosen else DEFAULT_CACHE_MAX_BYTES


def format_size(size: int) -> str:
    """``"1.4 MB"``: bytes for people (binary units)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
