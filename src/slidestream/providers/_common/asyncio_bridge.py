"""Run asyncio-only library code from any anyio backend.

Some client libraries (``edge-tts`` through aiohttp) work only under asyncio. Under asyncio
they run in the caller's own loop; under trio they run in a private asyncio loop on a worker
thread. Cancelling the caller cancels the asyncio task and waits until it has stopped, so
nothing is left running behind the caller's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["run_on_asyncio"]

T = TypeVar("T")


async def run_on_asyncio(function: Callable[[], Awaitable[T]]) -> T:
    """Await ``function()`` on an asyncio event loop and return its result."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # not under asyncio (trio)
        pass
    else:
        return await function()

    loop = asyncio.new_event_loop()
    outcome: dict[str, T] = {}
    failure: list[BaseException] = []

    async def main() -> None:
        outcome["value"] = await function()

    task = loop.create_task(main())

    def run() -> None:
        try:
            loop.run_until_complete(task)
        except BaseException as error:  # handed to the caller below
            failure.append(error)
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    thread = threading.Thread(target=run, name="slidestream-asyncio", daemon=True)
    thread.start()
    try:
        await anyio.to_thread.run_sync(thread.join, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        with contextlib.suppress(RuntimeError):  # the loop has closed already
            loop.call_soon_threadsafe(task.cancel)
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(thread.join)
        raise
    if failure:
        raise failure[0]
    return outcome["value"]
