"""The event stream :meth:`StreamingPipeline.stream` returns.

It is an async context manager and an async iterator. The producer runs in a task group
owned by the stream and entered in ``__aenter__``, never across the ``yield`` of a bare async
generator; events reach the consumer through a memory object stream. Leaving the ``async with``
block cancels the producer and waits for it to stop.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Awaitable, Callable
from types import TracebackType

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._events import DeckReady, Event
from ._exceptions import SlidestreamError
from ._models import DeckResult

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

__all__ = ["DeckEventStream"]

Producer = Callable[[MemoryObjectSendStream[Event]], Awaitable[None]]


def _unwrap(error: BaseException) -> BaseException:
    """The error to show for ``error``: the first slidestream error inside an exception group.

    Several slides failing the same way at once arrive as a group; the user needs one clear
    error, not a tree of copies.
    """
    if isinstance(error, BaseExceptionGroup):
        leaves = _leaves(error)
        ours = [leaf for leaf in leaves if isinstance(leaf, SlidestreamError)]
        if ours:
            return ours[0]
        if len(leaves) == 1:
            return leaves[0]
    return error


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for error in group.exceptions:
        found += _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    return found


class DeckEventStream:
    """Typed events of one run, ending with :class:`DeckReady`.

    Use it as ``async with pipeline.stream(topic) as events: async for event in events``.
    Plain ``async for event in pipeline.stream(topic)`` also works: the run then starts on the
    first iteration and is closed when iteration ends or on ``await events.aclose()``.
    A failed run raises its :class:`SlidestreamError` from the iteration.
    """

    def __init__(self, producer: Producer) -> None:
        self._producer = producer
        self._task_group: TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[Event] | None = None
        self._error: BaseException | None = None
        self._deck: DeckResult | None = None
        self._closed = False

    @property
    def deck(self) -> DeckResult | None:
        """The finished deck, once :class:`DeckReady` has been received."""
        return self._deck

    async def __aenter__(self) -> DeckEventStream:
        if self._task_group is not None or self._closed:
            raise RuntimeError("This event stream was already started; call stream() again.")
        send, self._receive = anyio.create_memory_object_stream[Event](math.inf)
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        task_group.start_soon(self._produce, send)
        return self

    async def _produce(self, send: MemoryObjectSendStream[Event]) -> None:
        async with send:
            try:
                await self._producer(send)
            except Exception as error:  # handed to the consumer, raised from __anext__
                self._error = _unwrap(error)

    def __aiter__(self) -> DeckEventStream:
        return self

    async def __anext__(self) -> Event:
        if self._closed:
            raise StopAsyncIteration
        if self._task_group is None:
            await self.__aenter__()
        assert self._receive is not None
        try:
            event = await self._receive.receive()
        except anyio.EndOfStream:
            await self.aclose()
            error, self._error = self._error, None
            if error is not None:
                raise error from None
            raise StopAsyncIteration from None
        if isinstance(event, DeckReady):
            self._deck = event.deck
        return event

    async def aclose(self) -> None:
        """Cancel whatever is still running and wait for it to stop."""
        await self.__aexit__(None, None, None)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._closed:
            return
        self._closed = True
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return
        task_group.cancel_scope.cancel()
        try:
            # The producer never raises (errors are handed over), so only cancellation comes
            # out of here; the block's own exception, if any, propagates unchanged.
            await task_group.__aexit__(None, None, None)
        finally:
            if self._receive is not None:
                self._receive.close()
