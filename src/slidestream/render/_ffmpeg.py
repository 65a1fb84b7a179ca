"""Running ffmpeg (the binary shipped by imageio-ffmpeg) as a cancellable anyio subprocess.

Nothing is asked of the system: no ffmpeg or ffprobe on ``PATH`` is needed. A process that is
still running when its task is cancelled is killed and waited for, and outputs are written to
temporary files that only replace their targets once ffmpeg has succeeded. Other tools
(LibreOffice) run through the same :func:`run_process`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import anyio
from anyio.abc import Process

from .._exceptions import RenderError
from .._files import temporary_sibling
from .._media import ffmpeg_exe

__all__ = [
    "FfmpegPipe",
    "atomic_output",
    "children_cpu_s",
    "ffmpeg_exe",
    "run_ffmpeg",
    "run_process",
]

_STDERR_LIMIT = 4000


def _command(args: Sequence[str | os.PathLike[str]]) -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *map(str, args)]


async def _stop(process: Process, *, group: bool = False) -> None:
    """Kill ``process`` if it still runs, wait for it and close its pipes (even if cancelled).

    With ``group``, the process leads a process group of its own and the whole group is
    killed: LibreOffice's ``soffice`` starts the real office as a child.
    """
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if group and hasattr(os, "killpg"):
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.kill()
        await process.wait()
        await process.aclose()
        if group and hasattr(os, "killpg"):
            await _group_gone(process.pid)


async def _group_gone(group: int, timeout_s: float = 5.0) -> None:
    """Wait until no live process of ``group`` is left (its members die after their leader)."""
    with anyio.move_on_after(timeout_s):
        while await anyio.to_thread.run_sync(_group_alive, group):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
            await anyio.sleep(0.01)


def _group_alive(group: int) -> bool:
    """True while a process of ``group`` runs (zombies waiting to be reaped do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _parent, pgrp = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if state != "Z" and int(pgrp) == group:
            return True
    return False


def _check(returncode: int | None, stderr: IO[bytes], what: str, tool: str = "ffmpeg") -> None:
    if returncode != 0:
        stderr.seek(0, os.SEEK_END)
        stderr.seek(max(0, stderr.tell() - _STDERR_LIMIT))
        message = stderr.read().decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {returncode}"
        raise RenderError(f"{tool} failed while {what}: {detail}")


async def run_process(
    command: Sequence[str | os.PathLike[str]], *, what: str, tool: str, group: bool = False
) -> None:
    """Run ``command`` and wait for it; raise :class:`RenderError` if it fails.

    ``what`` names the job in error messages ("encoding slide 3"). On cancellation the
    process (with ``group``, its whole process group) is killed and waited for before the
    cancellation propagates.
    """
    with tempfile.TemporaryFile() as stderr:
        process = await anyio.open_process(
            [str(part) for part in command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=group,
        )
        try:
            await process.wait()
        finally:
            await _stop(process, group=group)
        _check(process.returncode, stderr, what, tool)


def children_cpu_s() -> float | None:
    """CPU seconds used so far by this process's finished child processes (and theirs);
    ``None`` where the system keeps no such count (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _found_command(args: Sequence[str | os.PathLike[str]]) -> list[str]:
    """:func:`_command`, looked up in a worker thread: the first lookup runs ffmpeg once."""
    return await anyio.to_thread.run_sync(_command, args)


async def run_ffmpeg(args: Sequence[str | os.PathLike[str]], *, what: str) -> None:
    """Run ffmpeg with ``args`` (see :func:`run_process`)."""
    await run_process(await _found_command(args), what=what, tool="ffmpeg")


class FfmpegPipe:
    """An ffmpeg process fed through its standard input (raw audio or video frames).

    Use as ``async with FfmpegPipe(args, what=...) as pipe: await pipe.send(data)``; leaving
    the block normally closes the input and waits for ffmpeg to finish (raising
    :class:`RenderError` if it failed); leaving it with an error or a cancellation kills it.
    """

    def __init__(self, args: Sequence[str | os.PathLike[str]], *, what: str) -> None:
        self._args = list(args)
        self._what = what
        self._process: Process | None = None
        self._stderr: IO[bytes] | None = None

    async def __aenter__(self) -> FfmpegPipe:
        command = await _found_command(self._args)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __aexit__)
        try:
            self._process = await anyio.open_process(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
            )
        except BaseException:
            self._stderr.close()
            raise
        return self

    async def send(self, data: bytes) -> None:
        """Write ``data`` to ffmpeg's input."""
        assert self._process is not None
        assert self._process.stdin is not None
        assert self._stderr is not None
        try:
            await self._process.stdin.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as error:
            await self._process.wait()
            _check(self._process.returncode or -1, self._stderr, self._what)
            raise RenderError(f"ffmpeg stopped reading while {self._what}") from error

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        process, stderr = self._process, self._stderr
        assert process is not None
        assert stderr is not None
        try:
            try:
                if exc is None:
                    if process.stdin is not None:
                        await process.stdin.aclose()
                    await process.wait()
            finally:
                await _stop(process)
            if exc is None:
                _check(process.returncode, stderr, self._what)
        finally:  # cancelled while ffmpeg finished too: its error log is still closed
            stderr.close()


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path (same suffix) for a tool to write; it replaces ``path`` on success."""
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
