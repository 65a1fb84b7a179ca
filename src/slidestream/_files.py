"""Project folders and atomic file writes.

Every file of a run is written to a hidden temporary name next to it and renamed into place,
so a file is either whole or absent. Temporary names start with a dot and carry ``.tmp``
(:func:`is_temporary`), so what a killed run left can be recognised and removed. A write that
fails for a reason of the file system (a full disk, a read-only folder, a file where a folder
should be) raises :class:`OutputError` naming the path and the reason.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ._constants import MANIFEST_NAME
from ._exceptions import InvalidInputError, OutputError

__all__ = [
    "LOCK_NAME",
    "MAX_PROJECT_BYTES",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_writer",
    "candidate_folders",
    "expand_home",
    "free_for_topic",
    "is_temporary",
    "make_folder",
    "manifest_topic",
    "output_error",
    "real_path",
    "resolve_project_dir",
    "resolved_folder",
    "slugify",
    "temporary_sibling",
    "validate_project_name",
]

_MAX_SLUG = 60
MAX_PROJECT_BYTES = 200
"""The longest project name, in UTF-8 bytes: file names in it (``.<project>.pptx.XXXXXXXX.tmp``)
must stay under the usual 255-byte limit of file systems."""
LOCK_NAME = ".slidestream.lock"
"""The file in a project folder that a run locks while it owns the folder."""
_TMP_MARK = ".tmp"


def is_temporary(name: str) -> bool:
    """True for the name of a temporary file this module makes (a write not yet finished)."""
    return name.startswith(".") and (name.endswith(_TMP_MARK) or f"{_TMP_MARK}-" in name)


def output_error(path: Path, error: OSError, *, action: str = "write") -> OutputError:
    """``error`` (from writing ``path``) as an :class:`OutputError` that names both."""
    if isinstance(error, OutputError):
        return error
    code = error.errno
    if code in (errno.ENOTDIR, errno.EEXIST) and action == "create the folder":
        reason = "a file is in the way where a folder should be"
    elif code in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full"
    elif code == errno.EROFS:
        reason = "the file system is read-only"
    elif code in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    elif code == errno.EFBIG:
        reason = "the file is larger than this system allows"
    elif code == errno.ENAMETOOLONG:
        reason = "the name is too long for the file system"
    else:
        reason = error.strerror or str(error) or type(error).__name__
    where = error.filename if isinstance(error.filename, str) and code == errno.ENOENT else path
    result = OutputError(f"Cannot {action} {where}: {reason}.")
    result.errno, result.strerror, result.filename = code, reason, str(where)
    return result


def make_folder(path: Path) -> Path:
    """Create ``path`` and its parents (if missing) or raise :class:`OutputError`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise output_error(path, error, action="create the folder") from error
    return path


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
    elif len(name.encode("utf-8", "surrogatepass")) > MAX_PROJECT_BYTES:
        size = len(name.encode("utf-8", "surrogatepass"))
        problem = f"it is {size} bytes long, and file systems allow {MAX_PROJECT_BYTES} here"
    if problem:
        shown = name if len(name) <= 80 else name[:60] + "..."
        raise InvalidInputError(
            f"Invalid project name {shown!r}: {problem}. Use a plain folder name such as "
            f"{slugify(name) if name.strip(' ./') else 'my-deck'!r}."
        )
    return name


def _ours(name: str) -> bool:
    """True for entries that say nothing about which deck a folder holds."""
    return name == LOCK_NAME or is_temporary(name)


def manifest_topic(folder: Path) -> str | None:
    """The topic the manifest in ``folder`` was made for, if it has a readable one."""
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    topic = data.get("request", {}).get("topic") if isinstance(data, dict) else None
    return topic if isinstance(topic, str) else None


def free_for_topic(folder: Path, topic: str) -> bool:
    """True when ``folder`` is missing, empty, or holds a run of the same ``topic``."""
    try:
        if not folder.is_dir():
            return not folder.exists()
        if all(_ours(entry.name) for entry in folder.iterdir()):
            return True
    except OSError:
        return False
    return manifest_topic(folder) == topic


def real_path(path: Path) -> Path:
    """``path`` made absolute, its links followed; a loop of symbolic links is left as
    written (absolute), for the reading or writing that follows to report."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a link loop, before Python 3.13
        return path.absolute()


def resolved_folder(path: Path) -> Path:
    """``path`` made absolute, its links followed.

    Raises:
        OutputError: ``path`` is a loop of symbolic links, or cannot be looked at.
    """
    try:
        return path.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a link loop, before Python 3.13
        if isinstance(error, RuntimeError) or error.errno == errno.ELOOP:
            raise OutputError(
                f"Cannot use the folder {path}: it is a loop of symbolic links; "
                "give another folder."
            ) from None
        raise output_error(path, error, action="use the folder") from error


def candidate_folders(output_dir: Path, topic: str) -> Iterator[Path]:
    """The folders an unnamed run of ``topic`` may use, best first (an endless iterator).

    The slug of the topic, then ``-2``, ``-3``...; a folder that holds a different run is
    skipped. Whether a folder is busy is for the caller to find out (see ``_project``).
    """
    root = resolved_folder(output_dir)
    base = slugify(topic)
    for n in range(1, 1_000_000):
        folder = root / (base if n == 1 else f"{base}-{n}")
        if free_for_topic(folder, topic):
            yield folder
    raise OutputError(f"Every folder name for {topic!r} in {root} is taken.")


def resolve_project_dir(output_dir: Path, topic: str, project: str | None) -> Path:
    """The folder a run writes into: ``output_dir/<project>``.

    An explicit ``project`` is validated and used as given. Without one, the name is a slug of
    the topic, with a ``-2``, ``-3``... suffix when that folder already holds a different run.
    Nothing is created here.
    """
    root = resolved_folder(output_dir)
    if project is not None:
        folder = resolved_folder(root / validate_project_name(project))
        if folder.parent != root:
            raise InvalidInputError(f"Project {project!r} would be written outside {root}.")
        return folder
    return next(candidate_folders(output_dir, topic))


def _default_mode() -> int:
    """0o666 minus the process umask: what a plain ``open(path, "w")`` would have given."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary binary file next to ``path``; on success it replaces ``path`` atomically.

    On error the temporary file is removed and ``path`` is left as it was; an error of the
    file system (full disk, read-only folder...) is raised as :class:`OutputError`.
    """
    make_folder(path.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP_MARK, dir=path.parent)
    except OSError as error:
        raise output_error(path, error) from error
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise output_error(path, error) from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def temporary_sibling(path: Path, suffix: str | None = None) -> Path:
    """A fresh temporary path next to ``path`` (for tools that write files themselves).

    Its name ends in ``path``'s suffix (or ``suffix``), so tools that pick a format from the
    name still do.
    """
    make_folder(path.parent)
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{path.stem}{_TMP_MARK}-",
            suffix=suffix if suffix is not None else path.suffix,
            dir=path.parent,
        )
    except OSError as error:
        raise output_error(path, error) from error
    os.close(fd)
    os.chmod(name, _default_mode())
    return Path(name)


def expand_home(path: str | os.PathLike[str]) -> Path:
    """``path`` with a leading ``~`` or ``~user`` replaced by that home folder.

    A path naming a user who does not exist (``~0``, ``~nobody-here``), or ``~`` where no
    home folder is known, is left as written, so it is reported as not found; pathlib's
    ``expanduser`` would raise ``RuntimeError`` instead.
    """
    return Path(os.path.expanduser(os.fspath(path)))


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return ``path``."""
    with atomic_writer(path) as handle:
        handle.write(data)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"))
