"""``to_dict()`` for frozen dataclasses: plain JSON-serialisable values.

Paths become strings (or what ``paths`` makes of them), enums their values, bytes base64 (or
are left out when ``include_data=False``).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

__all__ = ["Serializable"]


PathText = Callable[[Path], "str | None"]
"""How a path is written in ``to_dict()``: its text, or ``None`` to leave it out."""


def _jsonable(value: Any, include_data: bool, paths: PathText = str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _jsonable(getattr(value, f.name), include_data, paths)
            for f in dataclasses.fields(value)
            if include_data or not isinstance(getattr(value, f.name), bytes)
        }
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return paths(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, include_data, paths) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, include_data, paths) for v in value]
    return value


class Serializable:
    """Mixin: ``to_dict()`` for a dataclass."""

    def to_dict(self, *, include_data: bool = True, paths: PathText = str) -> dict[str, Any]:
        """Return the value as plain JSON-serialisable data.

        Bytes are base64-encoded, or left out when ``include_data`` is false. Paths are
        written as ``paths`` makes them (their full text by default): a service gives names
        inside a deck's folder, and ``None`` for a path elsewhere on its machine.
        """
        result: dict[str, Any] = _jsonable(self, include_data, paths)
        return result
