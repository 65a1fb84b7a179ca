"""The event stream :meth:`StreamingPipeline.stream` returns.

It is an async context manager and an async iterator. The producer runs in a task group
owned by the stream and entered in ``__aenter__``, never across the ``yield`` of a bare async
generator; events reach the consumer through a small bounded memory object stream, so a
slow consumer slows the run instead of filling memory. Leaving the ``async with`` block
cancels the producer and waits for it to stop.

Iterating without ``async with`` is refused before any work starts: a run started from
``__anext__`` would outlive a ``break`` that is not followed by ``aclose()``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import ClassVar

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._engine.policy import one_error
from ._events import DeckReady, Event
from ._models import DeckResult

__all__ = ["EVENT_BUFFER", "DeckEventStream"]

EVENT_BUFFER = 16
"""Events a run may get ahead of its consumer before it waits for the consumer."""

_USE_ASYNC_WITH = (
    "Enter the event stream with `async with` before iterating it:\n\n"
    "    async with pipeline.stream(...) as events:\n"
    "        async for event in events:\n"
    "            ...\n\n"
    "so the run's work stops when the block is left (or use `await pipeline.run(...)`)."
)

Producer = Callable[[MemoryObjectSendStream[Event]], Awaitable[None]]


class DeckEventStream:
    """Typed events of one run, ending with :class:`DeckReady`.

    Use it as ``async with pipeline.stream(topic) as events: async for event in events``;
    iterating it without ``async with`` raises :class:`RuntimeError` and starts nothing. A
    failed run raises its :class:`SlidestreamError` from the iteration.
    """

    buffer_size: ClassVar[int] = EVENT_BUFFER
    """How many events the run may get ahead of the consumer before it waits."""

    def __init__(self, producer: Producer) -> None:
        self._producer = producer
        self._task_group: TaskGroup | None = None
        self._producer_scope: anyio.CancelScope | None = None
        self._producer_stopped: anyio.Event | None = None
        self._receive: MemoryObjectReceiveStream[Event] | None = None
        self._send: MemoryObjectSendStream[Event] | None = None
        self._error: BaseException | None = None
        self._deck: DeckResult | None = None
        self._started = False
        self._finished = False

    @property
    def deck(self) -> DeckResult | None:
        """The finished deck, once :class:`DeckReady` has been received."""
        return self._deck

    async def __aenter__(self) -> DeckEventStream:
        if self._started:
            raise RuntimeError(
                "This event stream was already started or closed; call stream() again."
            )
        self._started = True
        send, self._receive = anyio.create_memory_object_stream[Event](self.buffer_size)
        self._send = send  # closed on leaving too: a producer cancelled unstarted never ran
        self._producer_scope = scope = anyio.CancelScope()
        self._producer_stopped = stopped = anyio.Event()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        task_group.start_soon(self._produce, send, scope, stopped)
        return self

    async def _produce(
        self, send: MemoryObjectSendStream[Event], scope: anyio.CancelScope, stopped: anyio.Event
    ) -> None:
        try:
            with scope:
                async with send:
                    try:
                        await self._producer(send)
                    except Exception as error:  # handed to the consumer, raised from __anext__
                        self._error = one_error(error)
        finally:
            stopped.set()

    def __aiter__(self) -> DeckEventStream:
        return self

    async def __anext__(self) -> Event:
        if self._finished:
            raise StopAsyncIteration
        if self._receive is None:
            raise RuntimeError(_USE_ASYNC_WITH)
        try:
            event = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            await self._stop_producer()
            error, self._error = self._error, None
            if error is not None:
                raise error from None
            raise StopAsyncIteration from None
        if isinstance(event, DeckReady):
            self._deck = event.deck
        return event

    async def _stop_producer(self) -> None:
        """End the iteration: cancel the run if it is still going and wait until it stopped.

        The task group itself stays open until the ``async with`` block is left, so this is
        safe from inside the user's own cancel scopes and from any task.
        """
        self._finished = True
        if self._producer_scope is not None:
            self._producer_scope.cancel()
        if self._producer_stopped is not None:
            await self._producer_stopped.wait()

    async def aclose(self) -> None:
        """Cancel whatever is still running and wait for it to stop; iteration then ends.

        It may be called from inside the ``async with`` block (in any task): the run stops
        before it returns, and leaving the block does the rest.
        """
        if self._task_group is None:  # never entered, or already left: nothing runs
            self._started = self._finished = True
            return
        await self._stop_producer()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finished = True
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return
        task_group.cancel_scope.cancel()
        try:
            # The producer never raises (errors are handed over), so only cancellation comes
            # out of here; the block's own exception, if any, propagates unchanged.
            await task_group.__aexit__(None, None, None)
        finally:
            for end in (self._send, self._receive):
                if end is not None:
                    end.close()
