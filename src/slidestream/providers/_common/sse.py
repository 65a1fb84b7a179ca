"""Server-sent events as OpenAI-compatible servers send them, read under two time limits.

:func:`split_lines` cuts a streamed body into lines at CR, LF and CRLF only, and
:func:`read_events` turns those lines into :class:`SSEEvent` values the way the
EventSource specification does (``data:`` lines joined, an event dispatched at a blank line,
``:`` comments skipped, an event left unfinished at the end dropped), plus one field the
specification does not have: older llama.cpp servers report a failure mid-stream as an
``error: {...}`` line, which comes out at once as an event named ``"error"``.

:class:`StreamTimeouts` are the two limits of a streamed answer: how long it may take to
begin (``first_token_s``: a model still loading, a long prompt on a CPU) and the longest
silence between chunks once it has begun (``silence_s``). A :class:`SilenceWatch` applies them
to one answer; :func:`timed` reads lines (or bytes) under it and raises :class:`Silent` when a
read waits too long. The limits never bound the whole answer: a slow model that keeps writing is
never cut off.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

import anyio

from ..._constants import DEFAULT_FIRST_TOKEN_TIMEOUT_S, DEFAULT_TIMEOUT_S
from ..._exceptions import InvalidInputError

__all__ = [
    "SSEEvent",
    "SilenceWatch",
    "Silent",
    "StreamTimeouts",
    "read_events",
    "split_lines",
    "timed",
]

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class StreamTimeouts:
    """The time limits of one streamed answer.

    Attributes:
        first_token_s: the longest wait, from sending the request, for the answer to begin
            (the first token of text, of reasoning, or the first audio bytes).
        silence_s: the longest silence between chunks once the answer has begun.
    """

    first_token_s: float = DEFAULT_FIRST_TOKEN_TIMEOUT_S
    silence_s: float = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        for name in ("first_token_s", "silence_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise InvalidInputError(
                    f"{name}={value!r} is invalid: use a number of seconds > 0."
                )


class Silent(Exception):
    """A read waited longer than the watch allows; ``str()`` says which limit and for how long."""

    def __init__(self, detail: str, *, begun: bool) -> None:
        super().__init__(detail)
        self.begun = begun


class SilenceWatch:
    """The time limits of one answer, from the moment its request is sent.

    Until :meth:`begin` the reads share one deadline, ``first_token_s`` after the start
    (keep-alive comments do not extend it); after it, each read may wait ``silence_s``.

    Args:
        timeouts: the limits.
        first_token_hint, silence_hint: how to raise each limit, for the error message.
    """

    def __init__(
        self, timeouts: StreamTimeouts, *, first_token_hint: str = "", silence_hint: str = ""
    ) -> None:
        self.timeouts = timeouts
        self.begun = False
        self._deadline = anyio.current_time() + timeouts.first_token_s
        self._hints = (first_token_hint, silence_hint)

    def begin(self) -> None:
        """The answer has begun: from now on only silence between chunks is limited."""
        self.begun = True

    def wait_s(self) -> float:
        """How long the next read may wait."""
        if self.begun:
            return self.timeouts.silence_s
        return max(0.0, self._deadline - anyio.current_time())

    def silent(self) -> Silent:
        """The error for a read that waited :meth:`wait_s` in vain."""
        first_hint, silence_hint = self._hints
        if self.begun:
            detail = (
                f"the answer stopped mid-stream for more than {self.timeouts.silence_s:g} s"
                + (f" ({silence_hint})" if silence_hint else "")
            )
        else:
            detail = (
                f"no answer within {self.timeouts.first_token_s:g} s of sending the request; "
                "the server may still be loading the model or reading the prompt"
                + (f" ({first_hint})" if first_hint else "")
            )
        return Silent(detail, begun=self.begun)


async def timed(items: AsyncIterator[T], watch: SilenceWatch) -> AsyncGenerator[T, None]:
    """``items`` (lines, byte chunks), each read within ``watch.wait_s()``.

    Raises:
        Silent: a read waited too long.
    """
    while True:
        with anyio.move_on_after(watch.wait_s()) as scope:
            try:
                item = await items.__anext__()
            except StopAsyncIteration:
                return
        if scope.cancelled_caught:
            raise watch.silent()
        yield item


_LINE_END = re.compile(r"\r\n|\r|\n")


async def split_lines(texts: AsyncIterator[str]) -> AsyncGenerator[str, None]:
    """The lines of a streamed body (decoded text chunks), without their line endings.

    Only CR, LF and CRLF end a line, as the SSE specification says. httpx's ``aiter_lines``
    (like ``str.splitlines``) also ends lines at U+2028, U+0085, form feeds and others, which
    JSON carries unescaped inside strings: a model that writes one would cut its chunk in two.
    """
    partial: list[str] = []
    held_cr = False  # a chunk ending in CR may be the first half of a CRLF
    async for chunk in texts:
        text = "\r" + chunk if held_cr else chunk
        held_cr = text.endswith("\r")
        if held_cr:
            text = text[:-1]
        parts = _LINE_END.split(text)
        partial.append(parts[0])
        if len(parts) > 1:
            yield "".join(partial)
            for line in parts[1:-1]:
                yield line
            partial = [parts[-1]]
    if held_cr or "".join(partial):
        yield "".join(partial)


@dataclass(frozen=True)
class SSEEvent:
    """One server-sent event: its name (``""`` when none was given) and its data."""

    event: str
    data: str


async def read_events(lines: AsyncIterator[str]) -> AsyncGenerator[SSEEvent, None]:
    """The events in ``lines`` (a body split into lines, without their line endings)."""
    name = ""
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield SSEEvent(name, "\n".join(data))
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
        elif field == "error":  # llama.cpp's own field: an error, on one line
            yield SSEEvent("error", value)
            name, data = "", []
