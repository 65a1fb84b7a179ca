"""SIGINT and SIGTERM cancel a command's run the way any cancellation does."""

from __future__ import annotations

import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["Stopped", "until_signal"]

_T = TypeVar("_T")


class Stopped(Exception):
    """The run was cancelled by a signal (``signum``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


async def until_signal(body: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``body``; SIGINT or SIGTERM cancels it (it cleans up as on any cancellation) and
    raises :class:`Stopped`. Errors of ``body`` come out as they are, not grouped."""
    if sys.platform == "win32":  # no signal receivers there; Ctrl-C is KeyboardInterrupt
        return await body()
    stopped: list[int] = []
    outcome: list[_T] = []
    failure: list[Exception] = []
    async with anyio.create_task_group() as task_group:

        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    stopped.append(signum)
                    task_group.cancel_scope.cancel()
                    return

        async def run() -> None:
            try:
                outcome.append(await body())
            except Exception as error:
                failure.append(error)
            finally:
                task_group.cancel_scope.cancel()

        task_group.start_soon(watch)
        task_group.start_soon(run)
    if stopped:
        raise Stopped(stopped[0])
    if failure:
        raise failure[0]
    return outcome[0]
