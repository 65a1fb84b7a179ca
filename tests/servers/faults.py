"""A fault layer in front of the local protocol servers, for chaos tests.

:func:`fault_middleware` is an aiohttp middleware: for a share of the calls (``FaultPlan.rate``,
drawn from a seeded random generator) it answers in one of the ways real services fail:

- ``RATE_LIMIT``: 429 with ``Retry-After`` (and OpenAI's ``retry-after-ms``);
- ``SERVER_ERROR``: 500 or 503;
- ``RESET``: the TCP connection reset before any answer (``SO_LINGER`` 0, then close);
- ``STALL``: the request is read, then nothing is sent for ``stall_s`` (past the client's limit);
- ``TRUNCATE``: the answer breaks off part-way. For a plain body the layer sends the headers
  (with the full ``Content-Length``) and half the body, then closes the connection; a
  streaming handler finds the fault in ``request["fault"]`` and ends its server-sent-event
  stream early, with neither a ``finish_reason`` nor ``[DONE]``;
- ``WS_CLOSE``: a websocket handler finds it in ``request["fault"]`` and closes the socket
  mid-audio (a close frame, before ``turn.end``).

Each server says which kinds apply to it and how its error bodies look. Every call and every
fault is counted in the plan.
"""

from __future__ import annotations

import asyncio
import enum
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["Fault", "FaultPlan", "fault_middleware", "reset_connection"]


class Fault(enum.Enum):
    """The ways a call can fail."""

    RATE_LIMIT = "429"
    SERVER_ERROR = "5xx"
    RESET = "reset"
    STALL = "stall"
    TRUNCATE = "truncate"
    WS_CLOSE = "ws-close"


ErrorBody = Callable[[int, dict[str, str]], web.Response]


@dataclass
class FaultPlan:
    """Which calls fail, and how; what happened is counted.

    Attributes:
        rate: the share of calls that get a fault.
        seed: the seed of the random draws, so a run can be repeated.
        stall_s: how long a stalled call stays silent.
        retry_after: the ``Retry-After`` of a 429, in whole seconds.
    """

    rate: float = 0.2
    seed: int = 0
    stall_s: float = 2.0
    retry_after: int = 1
    calls: Counter[str] = field(default_factory=Counter)
    """Calls per server."""
    faults: Counter[tuple[str, Fault]] = field(default_factory=Counter)
    """Faults injected per server and kind."""

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self, server: str, kinds: Collection[Fault]) -> Fault | None:
        """Count a call to ``server``; return the fault it gets, if any."""
        with self._lock:
            self.calls[server] += 1
            if not kinds or self._random.random() >= self.rate:
                return None
            fault = self._random.choice(sorted(kinds, key=lambda kind: kind.value))
            self.faults[server, fault] += 1
            return fault

    def status(self) -> int:
        """500 or 503 for a server error."""
        with self._lock:
            return self._random.choice((500, 503))

    @property
    def total_calls(self) -> int:
        """Every call the layer saw."""
        return sum(self.calls.values())

    def by_kind(self) -> dict[str, int]:
        """Faults injected per kind, over every server."""
        counts: Counter[str] = Counter()
        for (_, kind), number in self.faults.items():
            counts[kind.value] += number
        return dict(sorted(counts.items()))


def reset_connection(request: web.BaseRequest) -> None:
    """Close the connection with a TCP reset (the client reads ``ECONNRESET``)."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _truncated(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    if not isinstance(response, web.Response) or response.body is None:
        return response
    body = bytes(response.body)  # type: ignore[arg-type]
    cut = web.StreamResponse(status=response.status, headers=response.headers)
    cut.content_length = len(body)
    await cut.prepare(request)
    await cut.write(body[: len(body) // 2])
    reset_connection(request)
    return cut


def fault_middleware(
    plan: FaultPlan, server: str, kinds: Collection[Fault], error_body: ErrorBody
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware that puts ``plan`` in front of ``server``'s handlers.

    Args:
        plan: the shared plan and counters.
        server: the name calls are counted under.
        kinds: the faults that apply to this server.
        error_body: builds this server's error answer for a status and headers.
    """

    @web.middleware
    async def middleware(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        fault = plan.draw(server, kinds)
        request["fault"] = fault
        if fault is Fault.RATE_LIMIT:
            headers = {
                "Retry-After": str(plan.retry_after),
                "retry-after-ms": str(plan.retry_after * 1000),
            }
            return error_body(429, headers)
        if fault is Fault.SERVER_ERROR:
            return error_body(plan.status(), {})
        if fault is Fault.RESET:
            await request.read()
            reset_connection(request)
            return web.Response(status=499)
        if fault is Fault.STALL:
            await request.read()
            await asyncio.sleep(plan.stall_s)
            reset_connection(request)  # the client has given up by now
            return web.Response(status=499)
        response = await handler(request)
        if fault is Fault.TRUNCATE and not response.prepared:
            return await _truncated(request, response)
        return response

    return middleware
