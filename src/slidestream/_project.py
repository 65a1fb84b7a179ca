"""Owning a project folder for one run, and tidying what earlier runs left in it.

A run claims its folder before it writes anything else there: it takes an OS lock on the
folder's ``.slidestream.lock`` (``flock`` on POSIX, ``msvcrt.locking`` on Windows). The OS
drops the lock when the process ends, however it ends, so a killed run never leaves a folder
stuck. While one run holds a folder:

- another run naming the same project gets :class:`ProjectBusyError`;
- a run without a project name takes the next free name (``topic-2``, ``topic-3``...).

Once claimed, what a killed run left (temporary files, the ``build/`` folder) is removed.
When a run completes, the files of an earlier deck that this deck did not make again (its
``slide-09`` clip when the new deck has 8 slides, an MP4 the new run did not make) are
removed, so the folder holds one deck. Everything here is blocking: run it in a thread.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from collections.abc import Collection
from pathlib import Path

from ._constants import AUDIO_DIR, IMAGES_DIR, MANIFEST_NAME
from ._exceptions import ProjectBusyError
from ._files import (
    LOCK_NAME,
    candidate_folders,
    free_for_topic,
    is_temporary,
    make_folder,
    output_error,
    resolve_project_dir,
)
from ._types import DeckFileKind

__all__ = ["BUILD_DIR", "ProjectClaim", "claim_project", "remove_leftovers", "remove_stale"]

BUILD_DIR = "build"
"""The renderer's folder of intermediate files (removed when a run ends)."""
_SLIDE_FILE = re.compile(r"slide-\d+(-\d+)?\.[A-Za-z0-9]+")


class ProjectClaim:
    """One run's hold on its project folder; :meth:`release` it when the run ends."""

    def __init__(self, folder: Path, fd: int) -> None:
        self.folder = folder
        self._fd: int | None = fd

    def release(self) -> None:
        """Drop the lock (idempotent). The lock file stays; it is reused by the next run."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                _unlock(fd)
            os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> bool:
        # flock, not lockf: two opens of the file conflict even inside one process, so two
        # pipelines of one program cannot share a folder either.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(path.read_text(encoding="ascii").strip() or "0")
        if pid:
            return f" (process {pid})"
    return ""


def _try_claim(folder: Path) -> ProjectClaim | None:
    """Lock ``folder`` (created if missing); ``None`` when another run holds it."""
    make_folder(folder)
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise output_error(path, error) from error
    if not _lock(fd):
        os.close(fd)
        return None
    with contextlib.suppress(OSError):  # who holds it, for the busy message; best effort
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return ProjectClaim(folder, fd)


def claim_project(output_dir: Path, topic: str, project: str | None) -> ProjectClaim:
    """Claim the run's folder in ``output_dir`` and remove what a killed run left there.

    Raises:
        InvalidInputError: ``project`` is not a safe folder name.
        ProjectBusyError: another run is making ``project`` now.
        OutputError: the folder cannot be created or written.
    """
    if project is not None:
        folder = resolve_project_dir(output_dir, topic, project)
        claim = _try_claim(folder)
        if claim is None:
            raise ProjectBusyError(
                f"Project {folder.name!r} in {folder.parent} is being made by another "
                f"run{_holder(folder / LOCK_NAME)}; wait for it to finish, or choose another "
                "project name."
            )
    else:
        make_folder(output_dir)
        claim = _claim_free(output_dir, topic)
    try:
        remove_leftovers(claim.folder, claim.folder.name)
    except BaseException:
        claim.release()
        raise
    return claim


def _claim_free(output_dir: Path, topic: str) -> ProjectClaim:
    """The first folder for ``topic`` that no other run holds, claimed."""
    for folder in candidate_folders(output_dir, topic):
        claim = _try_claim(folder)
        if claim is None:
            continue
        # Checked again under the lock: another run may have just finished a different deck
        # there between the look and the lock.
        if free_for_topic(folder, topic):
            return claim
        claim.release()
    raise AssertionError("candidate_folders() never ends")


def remove_leftovers(folder: Path, project: str) -> None:
    """Remove what an unfinished run left in ``folder``: temporary files and ``build/``.

    Only names this package makes are touched: temporary files of the manifest and of the
    deck files in the folder itself, any temporary file in ``audio/`` and ``images/``.
    """
    shutil.rmtree(folder / BUILD_DIR, ignore_errors=True)
    prefixes = (f".{MANIFEST_NAME}.", f".{project}.")
    for entry in _entries(folder):
        if is_temporary(entry.name) and entry.name.startswith(prefixes):
            _remove(entry)
    for sub in (AUDIO_DIR, IMAGES_DIR):
        for entry in _entries(folder / sub):
            if is_temporary(entry.name):
                _remove(entry)


def remove_stale(folder: Path, project: str, keep: Collection[Path]) -> list[Path]:
    """Remove the files of an earlier deck in ``folder`` that are not in ``keep``.

    These are the slides' clips and images (``audio/slide-NN.*``, ``images/slide-NN-K.*``)
    and the deck files (``<project>.pptx``, ``.mp4``...); anything else is left alone.
    Returns what was removed.
    """
    kept = {path.resolve() for path in keep}
    deck_files = {f"{project}.{kind.value}" for kind in DeckFileKind}
    stale = [entry for entry in _entries(folder) if entry.name in deck_files]
    for sub in (AUDIO_DIR, IMAGES_DIR):
        stale += [e for e in _entries(folder / sub) if _SLIDE_FILE.fullmatch(e.name)]
    removed = []
    for entry in stale:
        if entry.resolve() not in kept and entry.is_file():
            _remove(entry)
            removed.append(entry)
    return removed


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise output_error(path, error, action="remove") from error
