"""The ``openai`` script provider against a local server speaking the chat-completions protocol."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from slidestream import DeckRequest
from slidestream._exceptions import (
    ConfigurationError,
    ProviderError,
    ProviderRateLimitError,
    ProviderResponseError,
)
from slidestream._models import Outline, OutlineItem, SlideScript
from slidestream.providers import SlideStream, get
from slidestream.providers.openai import OpenAIScriptProvider, OutputMode, RetryPolicy
from tests._byte_streams import ChunkedBody
from tests.servers.openai_server import Failure, Gate, OpenAIServer, Reply, running_openai_server

DATA = Path(__file__).parent / "data"
FAST = RetryPolicy(max_retries=3, initial_delay_s=0.01, max_delay_s=0.02)
CHAT = "/v1/chat/completions"
REQUEST = DeckRequest(
    topic="Tides",
    project="tides",
    language="de",
    slides=3,
    audience="curious teenagers",
    tone="playful",
    source_text="The Moon's gravity pulls the oceans. SOURCE-MARKER-42.",
)
OUTLINE = Outline(
    title="Tides",
    items=[OutlineItem("Moon", ["gravity"]), OutlineItem("Sun"), OutlineItem("Coasts")],
)


@pytest.fixture(scope="module")
def server_module() -> Iterator[OpenAIServer]:
    with running_openai_server() as server:
        yield server


@pytest.fixture
def server(server_module: OpenAIServer) -> OpenAIServer:
    """The shared server, reset to its defaults for each test."""
    fresh = OpenAIServer()
    fresh.base_url = server_module.base_url
    server_module.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "_lock"})
    return server_module


@pytest.fixture
async def provider(server: OpenAIServer) -> AsyncIterator[OpenAIScriptProvider]:
    async with OpenAIScriptProvider(
        base_url=server.url, api_key="sk-local", model="local-model", retry=FAST
    ) as provider:
        yield provider


def _slide(n: int, **fields: object) -> dict[str, object]:
    base = {"title": f"T{n}", "bullets": [f"b{n}"], "narration": f"N{n}", "image_query": f"q{n}"}
    return {**base, **fields}


async def _all(provider: OpenAIScriptProvider, outline: Outline = OUTLINE) -> list[SlideScript]:
    return [slide async for slide in provider.stream_slides(REQUEST, outline)]


@pytest.mark.anyio
async def test_outline_sends_the_brief_and_validates_the_reply(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.api_key = "sk-local"
    outline = await provider.outline(REQUEST)
    assert outline.title == "Tides"
    assert [item.title for item in outline.items] == [f"Part {n} of Tides" for n in (1, 2, 3)]
    (sent,) = server.of(CHAT)
    assert sent.headers["Authorization"] == "Bearer sk-local"
    assert sent.body["model"] == "local-model"
    assert sent.body["response_format"]["type"] == "json_schema"
    assert sent.body["response_format"]["json_schema"]["strict"] is True
    for needle in ("'de'", "exactly 3 slides", "curious teenagers", "playful", "SOURCE-MARKER-42"):
        assert needle in sent.prompt


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_stream_slides_yields_every_slide_in_order(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    slides = await _all(provider)
    assert [s.title for s in slides] == ["Moon", "Sun", "Coasts"]
    assert [s.index for s in slides] == [0, 1, 2]
    assert slides[0].narration.startswith("Slide 1 explains moon")
    (sent,) = server.of(CHAT)
    assert sent.body["stream"] is True
    assert sent.headers["Accept"] == "text/event-stream"
    assert "Write all 3 slides" in sent.prompt


@pytest.mark.anyio
async def test_slide_one_is_yielded_before_the_server_sends_slide_two(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    gate = Gate()
    first = json.dumps(_slide(1))
    rest = json.dumps(_slide(2)) + "," + json.dumps(_slide(3)) + "]}"
    server.replies.append(Reply(['{"slides": [' + first + ",", gate, rest], chunk_size=5))
    stream = provider.stream_slides(REQUEST, OUTLINE)
    with anyio.fail_after(5):
        slide = await stream.__anext__()
    assert slide.title == "T1"
    assert gate.reached.is_set()
    assert not gate.released.is_set()  # the server is still holding slide 2 back
    gate.release()
    rest_slides = [s async for s in stream]
    assert [s.title for s in rest_slides] == ["T2", "T3"]


@pytest.mark.anyio
async def test_a_recorded_stream_split_at_every_byte_boundary_gives_the_same_slides() -> None:
    recorded = (DATA / "openai_chat_stream.sse").read_bytes()
    expected = json.loads((DATA / "openai_chat_stream.expected.json").read_text("utf-8"))
    splits: list[list[bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream; charset=utf-8"}
        return httpx.Response(200, headers=headers, stream=ChunkedBody(splits.pop()))

    # Every byte boundary at once (one-byte chunks), then two-chunk splits at every boundary
    # inside a multi-byte character or an event separator, and a stride over the rest.
    cuts = {k for k in range(1, len(recorded)) if 0x80 <= recorded[k] <= 0xBF}
    for at in range(len(recorded) - 1):
        if recorded[at : at + 2] == b"\n\n":
            cuts.add(at + 1)
    cuts |= set(range(0, len(recorded) + 1, 401))
    splits = [[recorded[k : k + 1] for k in range(len(recorded))]]
    splits += [[recorded[:cut], recorded[cut:]] for cut in sorted(cuts)]
    outline = Outline(title="t", items=[OutlineItem(s["title"]) for s in expected])
    async with OpenAIScriptProvider(
        base_url="http://recorded.invalid/v1", transport=httpx.MockTransport(handler)
    ) as provider:
        while splits:
            count = len(splits)
            slides = await _all(provider, outline)
            assert [s.to_dict() for s in slides] == [
                {**s, "index": i, "image_path": None} for i, s in enumerate(expected)
            ], f"split {count}"


@pytest.mark.anyio
async def test_rejected_json_schema_falls_back_to_json_mode_and_remembers(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.reject_formats = {"json_schema"}
    await provider.outline(REQUEST)
    assert provider.mode is OutputMode.JSON_OBJECT
    await provider.write_slide(REQUEST, OUTLINE, 1)
    kinds = [r.body.get("response_format", {}).get("type") for r in server.of(CHAT)]
    assert kinds == ["json_schema", "json_object", "json_object"]


@pytest.mark.anyio
async def test_a_server_without_structured_output_gets_plain_text_and_prose_is_stripped(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.reject_formats = {"json_schema", "json_object"}
    document = json.dumps({"slides": [_slide(1), _slide(2), _slide(3)]})
    server.replies.append(
        Reply([f"Sure! Here are the slides you asked for:\n```json\n{document}\n```\nEnjoy!"])
    )
    slides = await _all(provider)
    assert [s.title for s in slides] == ["T1", "T2", "T3"]
    assert provider.mode is OutputMode.TEXT
    assert "response_format" not in server.of(CHAT)[-1].body


@pytest.mark.anyio
async def test_other_bad_requests_are_not_mistaken_for_a_missing_feature(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.failures.append(Failure(400, "The model `nope` does not exist", type="invalid_request"))
    with pytest.raises(ProviderResponseError) as caught:
        await provider.outline(REQUEST)
    assert caught.value.status_code == 400
    assert "does not exist" in str(caught.value)
    assert len(server.of(CHAT)) == 1
    assert provider.mode is OutputMode.JSON_SCHEMA


@pytest.mark.anyio
async def test_a_slide_missing_fields_gets_defaults(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.replies.append(Reply.text('{"bullets": ["only bullets"]}'))
    slide = await provider.write_slide(REQUEST, OUTLINE, 2)
    assert (slide.index, slide.title, slide.bullets) == (2, "Coasts", ["only bullets"])
    assert slide.narration == "Coasts. The key point is this: only bullets."
    assert slide.image_query == "Coasts"
    assert "Write slide 3 of 3" in server.of(CHAT)[-1].prompt


@pytest.mark.anyio
async def test_malformed_json_gets_one_repair_attempt(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.replies.append(
        Reply.text('{"title": "Tides", "slides": [{"title": "A",}, {"title": "B"')
    )
    outline = await provider.outline(DeckRequest(topic="Tides", project="t", slides=2))
    assert [item.title for item in outline.items] == ["A", "B"]


@pytest.mark.anyio
async def test_unreadable_replies_end_in_a_clear_error(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.replies.append(Reply.text("I'm sorry, I can't produce slides about that."))
    with pytest.raises(ProviderResponseError, match="could not read the outline as JSON") as caught:
        await provider.outline(REQUEST)
    assert (caught.value.provider, caught.value.stage) == ("openai", "outline")
    server.replies.append(Reply.text("no json", finish_reason="length"))
    with pytest.raises(ProviderResponseError, match="raise max_tokens"):
        await provider.write_slide(REQUEST, OUTLINE, 0)


@pytest.mark.anyio
async def test_a_truncated_stream_yields_the_finished_slides_then_a_clear_error(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    cut = json.dumps({"slides": [_slide(1), _slide(2)]})[:-40]
    server.replies.append(Reply([cut], finish_reason="length"))
    got: list[str] = []

    async def consume() -> None:
        async for slide in provider.stream_slides(REQUEST, OUTLINE):
            got.append(slide.title)

    with pytest.raises(ProviderResponseError, match=r"cut off at the token limit after 1 of 3"):
        await consume()
    assert got == ["T1"]


@pytest.mark.anyio
async def test_a_server_that_ignores_stream_true_still_works(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.ignore_stream = True
    assert [s.title for s in await _all(provider)] == ["Moon", "Sun", "Coasts"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "answer_type", ["Text/Event-Stream", "application/octet-stream", "text/plain; charset=utf-8"]
)
@pytest.mark.parametrize("ignore_stream", [False, True], ids=["streamed", "whole"])
async def test_an_answer_whose_content_type_does_not_say_what_it_is_is_read_by_its_body(
    server: OpenAIServer, provider: OpenAIScriptProvider, answer_type: str, ignore_stream: bool
) -> None:
    server.answer_type, server.ignore_stream = answer_type, ignore_stream
    assert [s.title for s in await _all(provider)] == ["Moon", "Sun", "Coasts"]


@pytest.mark.anyio
async def test_reasoning_blocks_are_ignored(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    think = '<think>Maybe {slides: [ {"title": "wrong"} ]}...</think>\n'
    server.replies.append(Reply([think + json.dumps({"slides": [_slide(1)]})]))
    assert [s.title for s in await _all(provider)] == ["T1"]


@pytest.mark.anyio
async def test_retries_on_429_honour_retry_after(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.failures.append(Failure(429, "Rate limit reached", {"Retry-After": "1"}, "requests"))
    outline = await provider.outline(REQUEST)
    assert len(outline.items) == 3
    first, second = server.of(CHAT)
    assert second.at - first.at >= 0.95  # the server asked for one second
    assert second.body == first.body


@pytest.mark.anyio
async def test_a_500_storm_ends_in_a_provider_error_naming_the_call(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.always_fail = Failure(500)
    with pytest.raises(ProviderError) as caught:
        await _all(provider)
    error = caught.value
    assert (error.provider, error.stage, error.status_code) == ("openai", "script", 500)
    assert "POST /chat/completions stream" in str(error)
    assert "last status 500" in str(error)
    assert len(server.of(CHAT)) == FAST.max_retries + 1


@pytest.mark.anyio
async def test_a_429_storm_is_a_rate_limit_error(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.always_fail = Failure(429, "Rate limit reached", type="requests")
    with pytest.raises(ProviderRateLimitError, match="last status 429"):
        await provider.write_slide(REQUEST, OUTLINE, 0)


@pytest.mark.anyio
async def test_an_error_event_mid_stream_is_reported(provider: OpenAIScriptProvider) -> None:
    body = (
        'data: {"choices":[{"index":0,"delta":{"content":"{\\"sli"},"finish_reason":null}]}\n\n'
        'data: {"error":{"message":"The model is overloaded","type":"server_error"}}\n\n'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, text=body)

    async with OpenAIScriptProvider(
        base_url="http://mock.invalid/v1", transport=httpx.MockTransport(handler)
    ) as mocked:
        with pytest.raises(ProviderResponseError, match="overloaded"):
            await _all(mocked)


@pytest.mark.anyio
async def test_a_wrong_api_key_says_what_to_check(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.api_key = "sk-other"
    with pytest.raises(ProviderResponseError, match="Check the API key") as caught:
        await provider.outline(REQUEST)
    assert caught.value.status_code == 401


def test_configuration_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("SLIDESTREAM_MODEL", "llama3.1")
    provider = get("openai")
    assert isinstance(provider, OpenAIScriptProvider)
    assert provider.config.base_url == "http://127.0.0.1:9/v1"
    assert (provider.config.api_key, provider.config.model) == ("sk-env", "llama3.1")
    explicit = OpenAIScriptProvider(base_url="http://localhost:1234/v1", api_key="", model="m")
    assert explicit.config.headers == {}


def test_openai_itself_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_BASE_URL=http://localhost:11434/v1"):
        OpenAIScriptProvider()


@pytest.mark.anyio
async def test_an_empty_reply_is_a_clear_error(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.replies.append(Reply.text(""))
    with pytest.raises(ProviderResponseError, match="the reply was empty") as caught:
        await provider.write_slide(REQUEST, OUTLINE, 1)
    assert (caught.value.stage, caught.value.slide_index) == ("script", 1)


class _CountingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, counting the response bodies still open."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.open = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.open += 1
        transport, body = self, response.stream
        assert isinstance(body, httpx.AsyncByteStream)

        class Counted(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                async for chunk in body:
                    yield chunk

            async def aclose(self) -> None:
                transport.open -= 1
                await body.aclose()

        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=Counted(),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


# httpx and httpcore read a response through a chain of async generators that cannot be
# closed from outside; under trio, those of a response closed early are finalised by trio
# (with this warning) instead of at once.
@pytest.mark.filterwarnings(r"ignore:Async generator 'http(x|core)\._:ResourceWarning")
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_closing_the_slide_stream_closes_the_http_response(server: OpenAIServer) -> None:
    gate = Gate()
    first = json.dumps(_slide(1))
    server.replies.append(Reply(['{"slides": [' + first + ",", gate, "]}"], chunk_size=5))
    transport = _CountingTransport()
    async with OpenAIScriptProvider(
        base_url=server.url, api_key="sk-local", retry=FAST, transport=transport
    ) as provider:
        stream = provider.stream_slides(REQUEST, OUTLINE)
        assert isinstance(stream, SlideStream)
        assert transport.open == 0  # nothing is sent before the first iteration
        async with stream:
            with anyio.fail_after(5):
                slide = await stream.__anext__()
            assert slide.title == "T1"
            assert transport.open == 1  # the stream holds the response, mid-reply
        assert transport.open == 0  # leaving the block closed it, slide 2 still unsent
        assert not gate.released.is_set()
        gate.release()
        assert [s async for s in stream] == []  # a closed stream ends at once


@pytest.mark.anyio
@pytest.mark.parametrize("status", [301, 302])
async def test_a_base_url_that_redirects_a_post_names_where_it_moved(
    server: OpenAIServer, status: int
) -> None:
    server.moved_status = status
    async with OpenAIScriptProvider(
        base_url=server.base_url + "/old/v1", api_key="sk-local", model="m", retry=FAST
    ) as moved:
        with pytest.raises(ProviderResponseError) as caught:
            await moved.outline(REQUEST)
    message = str(caught.value)
    assert f"redirected with status {status}" in message
    assert f"set the base URL to {server.url}" in message
    assert server.of(CHAT) == []  # never sent on as a GET, nor retried


@pytest.mark.anyio
@pytest.mark.parametrize("status", [307, 308])
async def test_a_base_url_that_redirects_keeping_the_method_is_followed(
    server: OpenAIServer, status: int
) -> None:
    server.moved_status = status
    async with OpenAIScriptProvider(
        base_url=server.base_url + "/old/v1", api_key="sk-local", model="m", retry=FAST
    ) as moved:
        outline = await moved.outline(REQUEST)
    assert len(outline.items) == 3


@pytest.mark.anyio
async def test_a_redirect_loop_is_a_provider_error(server: OpenAIServer) -> None:
    async with OpenAIScriptProvider(
        base_url=server.base_url + "/loop/v1", api_key="sk-local", model="m", retry=FAST
    ) as looping:
        with pytest.raises(ProviderResponseError, match="redirected more than 20 times"):
            await looping.outline(REQUEST)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("key", "numbers"),
    [("slide_number", [3, 1, 2]), ("number", [3, 1, 2]), ("index", [2, 0, 1])],
)
async def test_slides_the_model_numbers_out_of_order_keep_their_numbers(
    server: OpenAIServer, provider: OpenAIScriptProvider, key: str, numbers: list[int]
) -> None:
    written = [_slide(n, **{key: stated}) for n, stated in zip((3, 1, 2), numbers, strict=True)]
    server.replies.append(Reply.text(json.dumps({"slides": written}), chunk_size=7))
    slides = await _all(provider)
    assert [(s.index, s.title) for s in slides] == [(2, "T3"), (0, "T1"), (1, "T2")]


@pytest.mark.anyio
async def test_slides_nested_under_another_key_are_read_from_the_whole_reply(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    nested = {"presentation": {"slides": [_slide(1), _slide(2), _slide(3)]}}
    server.replies.append(Reply.text(json.dumps(nested), chunk_size=9))
    slides = await _all(provider)
    assert [(s.index, s.title) for s in slides] == [(0, "T1"), (1, "T2"), (2, "T3")]
