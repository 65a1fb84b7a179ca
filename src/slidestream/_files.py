"""Project folders and atomic file writes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ._constants import MANIFEST_NAME
from ._exceptions import InvalidInputError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_writer",
    "resolve_project_dir",
    "slugify",
    "validate_project_name",
]

_MAX_SLUG = 60


def slugify(text: str) -> str:
    """A filesystem-safe lower-case name: ``"Quantum computing!"`` -> ``"quantum-computing"``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:_MAX_SLUG].rstrip("-") or "deck"


def validate_project_name(name: str) -> str:
    """Return ``name`` if it is a safe single folder name, else raise :class:`InvalidInputError`."""
    problem = None
    if not name or not name.strip():
        problem = "it is empty"
    elif name in (".", ".."):
        problem = "it names the current or parent folder"
    elif "/" in name or "\\" in name or os.sep in name or (os.altsep and os.altsep in name):
        problem = "it contains a path separator"
    elif Path(name).is_absolute() or re.match(r"^[A-Za-z]:", name):
        problem = "it is an absolute path"
    elif "\x00" in name or any(unicodedata.category(ch) == "Cc" for ch in name):
        problem = "it contains control characters"
    elif name != name.strip():
        problem = "it starts or ends with whitespace"
    if problem:
        raise InvalidInputError(
            f"Invalid project name {name!r}: {problem}. Use a plain folder name such as "
            f"{slugify(name) if name.strip(' ./') else 'my-deck'!r}."
        )
    return name


def _manifest_topic(folder: Path) -> str | None:
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    topic = data.get("request", {}).get("topic") if isinstance(data, dict) else None
    return topic if isinstance(topic, str) else None


def resolve_project_dir(output_dir: Path, topic: str, project: str | None) -> Path:
    """The folder a run writes into: ``output_dir/<project>``.

    An explicit ``project`` is validated and used as given. Without one, the name is a slug of
    the topic, with a ``-2``, ``-3``... suffix when that folder already holds a different run.
    Nothing is created here.
    """
    root = output_dir.resolve()
    if project is not None:
        folder = (root / validate_project_name(project)).resolve()
        if folder.parent != root:
            raise InvalidInputError(f"Project {project!r} would be written outside {root}.")
        return folder
    base = slugify(topic)
    candidate, n = base, 1
    while True:
        folder = root / candidate
        if not folder.exists() or not any(folder.iterdir()):
            return folder
        if _manifest_topic(folder) == topic:
            return folder
        n += 1
        candidate = f"{base}-{n}"


def _default_mode() -> int:
    """0o666 minus the process umask: what a plain ``open(path, "w")`` would have given."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary binary file next to ``path``; on success it replaces ``path`` atomically.

    On error the temporary file is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def temporary_sibling(path: Path, suffix: str | None = None) -> Path:
    """A fresh temporary path next to ``path`` (for tools that write files themselves)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{path.stem}.",
        suffix=suffix if suffix is not None else path.suffix,
        dir=path.parent,
    )
    os.close(fd)
    os.chmod(name, _default_mode())
    return Path(name)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return ``path``."""
    with atomic_writer(path) as handle:
        handle.write(data)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"))
