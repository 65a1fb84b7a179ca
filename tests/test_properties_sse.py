"""Property-based tests of the SSE decoder: a streamed chat answer read through httpx as the
``openai`` providers read it, however the server's bytes are split into chunks.

Arbitrary Unicode in the deltas (U+2028 and the other characters ``str.splitlines`` ends lines
at included, as servers that write raw UTF-8 send them), ``\\n``, ``\\r\\n`` or ``\\r`` line ends,
keep-alive comments, chunks that cut a line, a ``\\r\\n`` pair or a UTF-8 character in two:
the text read is the text sent.
Arbitrary bytes: the only error allowed is our typed :class:`ProviderError`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator

import anyio
import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from slidestream import ProviderError
from slidestream.providers._common.openai_client import ChatStream
from slidestream.providers._common.sse import SilenceWatch, StreamTimeouts, read_events
from tests._byte_streams import ChunkedBody

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(body) + 1) for cut in cuts} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(points)]


def _read(chunks: list[bytes]) -> tuple[str, str | None]:
    """The text and finish reason a :class:`ChatStream` reads from these body chunks."""

    async def main() -> tuple[str, str | None]:
        response = httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=ChunkedBody(chunks)
        )
        watch = SilenceWatch(StreamTimeouts(first_token_s=30, silence_s=30))
        async with ChatStream(
            response, provider="openai", call="test", stage="script", watch=watch
        ) as stream:
            text = "".join([delta async for delta in stream])
        return text, stream.finish_reason

    return anyio.run(main)


def _event(delta: str | None, finish: str | None = None) -> str:
    choice: dict[str, object] = {"index": 0, "delta": {} if delta is None else {"content": delta}}
    if finish is not None:
        choice["finish_reason"] = finish
    return json.dumps({"object": "chat.completion.chunk", "choices": [choice]}, ensure_ascii=False)


@SETTINGS
@given(
    st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=12),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
    st.booleans(),
)
@example(["é😀\r\n"], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "\r\n", True, True)
# JSON may carry these unescaped; str.splitlines (and httpx's aiter_lines) end lines there.
@example(["line\u2028separator", "next\x85line", "form\x0cfeed\x1c"], [], "\n", False, True)
def test_a_streamed_answer_reads_the_same_however_its_bytes_are_split(
    deltas: list[str], cuts: list[int], newline: str, comments: bool, done: bool
) -> None:
    lines: list[str] = []
    if comments:
        lines += [": keep-alive", ""]
    for delta in deltas:
        lines += [f"data: {_event(delta)}", ""]
        if comments:
            lines += [": ping", ""]
    lines += [f"data: {_event(None, 'stop')}", ""]
    if done:
        lines += ["data: [DONE]", ""]
    body = newline.join(lines).encode() + newline.encode()
    text, finish = _read(_split(body, cuts))
    assert text == "".join(deltas)
    assert finish == "stop"


@SETTINGS
@given(st.binary(max_size=600), st.lists(st.integers(min_value=0, max_value=700), max_size=12))
@example(b"data: {\n\n", [])
@example(b'error: {"message": "boom"}\n', [3])
@example(b'data: {"choices": [{"delta": {"content": 1}}]}\n\n', [])
@example(b"data: [1, 2]\n\ndata: \xff\xfe\n\n", [])
def test_any_bytes_give_text_or_a_typed_error(body: bytes, cuts: list[int]) -> None:
    try:
        text, _ = _read(_split(body, cuts))
    except ProviderError:
        return
    assert isinstance(text, str)


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "message", "error", "ping"]),
            st.lists(st.text(alphabet=st.characters(exclude_characters="\r\n")), max_size=4),
        ),
        max_size=8,
    )
)
def test_events_come_out_as_they_went_in(events: list[tuple[str, list[str]]]) -> None:
    lines: list[str] = []
    for name, data in events:
        if name:
            lines.append(f"event: {name}")
        lines += [f"data: {part}" for part in data]
        lines.append("")

    async def source() -> AsyncIterator[str]:
        for line in lines:
            yield line

    async def decode() -> list[tuple[str, str]]:
        return [(event.event, event.data) async for event in read_events(source())]

    expected = [(name, "\n".join(data)) for name, data in events if data]
    assert anyio.run(decode) == expected
