"""The ``openai`` providers against what real OpenAI-compatible servers do.

Each behaviour is reproduced by the local server in that server's own wire format: slow and
stalling servers (Ollama loading a model, CPU inference), errors inside a stream (OpenAI,
vLLM, llama.cpp), OpenAI's streamed refusal, refusals of ``response_format`` in several
wordings and statuses, reasoning models' refusals of ``max_tokens`` and ``temperature``, a
short outline, and a speech server apart from the chat server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from slidestream import DeckRequest
from slidestream._exceptions import (
    ConfigurationError,
    InvalidInputError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from slidestream._models import Outline, OutlineItem
from slidestream.providers.openai import OpenAIScriptProvider, OutputMode, RetryPolicy
from slidestream.providers.tts.openai import OpenAITTSProvider
from tests.servers.openai_server import (
    OpenAIServer,
    Pause,
    Reply,
    deck_model,
    running_openai_server,
)

FAST = RetryPolicy(max_retries=3, initial_delay_s=0.01, max_delay_s=0.02)
CHAT = "/v1/chat/completions"
SPEECH = "/v1/audio/speech"
REQUEST = DeckRequest(topic="Tides", project="tides", slides=3)
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
    async with OpenAIScriptProvider(base_url=server.url, model="local", retry=FAST) as provider:
        yield provider


def _slide(n: int) -> dict[str, object]:
    return {"title": f"T{n}", "bullets": [f"b{n}"], "narration": f"N{n}", "image_query": f"q{n}"}


def _slides_json(*numbers: int) -> str:
    return json.dumps({"slides": [_slide(n) for n in numbers]})


def _outline_json(count: int) -> str:
    items = [{"title": f"P{n}", "key_points": []} for n in range(1, count + 1)]
    return json.dumps({"title": "Tides", "slides": items})


async def _streamed(provider: OpenAIScriptProvider, got: list[str]) -> None:
    async for slide in provider.stream_slides(REQUEST, OUTLINE):
        got.append(slide.title)


# -- slow servers -----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_slow_model_finishes_an_answer_longer_than_either_time_limit(
    server: OpenAIServer,
) -> None:
    # 24 chunks 0.08 s apart: about two seconds, four times the limits, never silent for long.
    server.replies.append(Reply.text(_outline_json(3), chunk_size=4, chunk_delay_s=0.08))
    async with OpenAIScriptProvider(
        base_url=server.url, retry=FAST, timeout_s=0.5, first_token_timeout_s=0.5
    ) as provider:
        outline = await provider.outline(REQUEST)
    assert [item.title for item in outline.items] == ["P1", "P2", "P3"]
    assert len(server.of(CHAT)) == 1
    assert server.of(CHAT)[0].body["stream"] is True


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["before the headers", "before the first token"])
async def test_a_model_still_loading_is_waited_for_up_to_the_first_token_limit(
    server: OpenAIServer, where: str
) -> None:
    if where == "before the headers":
        server.headers_delay_s = 1.0  # Ollama answers nothing while it loads the model
    else:
        server.replies.append(Reply.text(_slides_json(1), first_token_delay_s=1.0))
    async with OpenAIScriptProvider(
        base_url=server.url, retry=FAST, timeout_s=0.2, first_token_timeout_s=10
    ) as provider:
        slide = await provider.write_slide(REQUEST, OUTLINE, 0)
    assert slide.index == 0
    assert len(server.of(CHAT)) == 1  # waited, not asked again


@pytest.mark.anyio
async def test_a_server_silent_past_the_first_token_limit_is_asked_once_more_then_reported(
    server: OpenAIServer,
) -> None:
    server.headers_delay_s = 1.5
    async with OpenAIScriptProvider(
        base_url=server.url, retry=FAST, first_token_timeout_s=0.3
    ) as provider:
        with pytest.raises(ProviderTimeoutError) as caught:
            await provider.outline(REQUEST)
    message = str(caught.value)
    assert "no answer within 0.3 s" in message
    assert "SLIDESTREAM_OPENAI_FIRST_TOKEN_TIMEOUT" in message
    assert "--openai-first-token-timeout" in message
    assert "after 2 attempt(s)" in message
    assert len(server.of(CHAT)) == 2  # not five times: each attempt starts the model over


@pytest.mark.anyio
async def test_a_stall_mid_stream_is_retried_once(server: OpenAIServer) -> None:
    text = _outline_json(3)
    server.replies.append(Reply([text[:20], Pause(1.5), text[20:]]))
    async with OpenAIScriptProvider(base_url=server.url, retry=FAST, timeout_s=0.3) as provider:
        outline = await provider.outline(REQUEST)  # the second attempt gets the whole reply
        assert len(outline.items) == 3
        assert len(server.of(CHAT)) == 2

        server.replies.extend([Reply([text[:20], Pause(1.5), text[20:]]) for _ in range(2)])
        with pytest.raises(ProviderTimeoutError, match=r"stopped mid-stream for more than 0\.3 s"):
            await provider.outline(REQUEST)
    assert len(server.of(CHAT)) == 4


@pytest.mark.anyio
async def test_a_stalled_slide_stream_yields_what_it_has_then_names_the_limit(
    server: OpenAIServer,
) -> None:
    first = '{"slides": [' + json.dumps(_slide(1)) + ","
    server.replies.append(Reply([first, Pause(1.5), json.dumps(_slide(2)) + "]}"]))
    got: list[str] = []
    async with OpenAIScriptProvider(base_url=server.url, retry=FAST, timeout_s=0.3) as provider:
        with pytest.raises(ProviderTimeoutError, match="SLIDESTREAM_OPENAI_TIMEOUT"):
            await _streamed(provider, got)
    assert got == ["T1"]


def test_time_limits_come_from_arguments_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SLIDESTREAM_OPENAI_TIMEOUT", "90")
    monkeypatch.setenv("SLIDESTREAM_OPENAI_FIRST_TOKEN_TIMEOUT", "600")
    provider = OpenAIScriptProvider()
    assert (provider.timeouts.silence_s, provider.timeouts.first_token_s) == (90, 600)
    assert OpenAIScriptProvider(timeout_s=5).timeouts.silence_s == 5
    assert OpenAITTSProvider().timeouts.first_token_s == 600
    with pytest.raises(InvalidInputError, match="first_token_s=0"):
        OpenAIScriptProvider(first_token_timeout_s=0)
    monkeypatch.setenv("SLIDESTREAM_OPENAI_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="SLIDESTREAM_OPENAI_TIMEOUT='soon'"):
        OpenAIScriptProvider()


# -- structured output ------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("refusal", "asked"),
    [
        ("openai", ["json_schema", "json_object"]),  # 400 naming response_format
        ("extra", ["json_schema", "json_object"]),  # 400 "Extra inputs are not permitted"
        ("500", ["json_schema", "json_object"]),  # 500 naming the schema
        ("500-bare", ["json_schema", "json_schema", "json_object"]),  # 500, no word why
    ],
)
async def test_any_refusal_of_structured_output_steps_down_and_is_remembered(
    server: OpenAIServer, provider: OpenAIScriptProvider, refusal: str, asked: list[str]
) -> None:
    server.reject_formats = {"json_schema"}
    server.format_refusal = refusal  # type: ignore[assignment]
    await provider.outline(REQUEST)
    assert provider.mode is OutputMode.JSON_OBJECT
    await provider.write_slide(REQUEST, OUTLINE, 1)
    kinds = [r.body.get("response_format", {}).get("type") for r in server.of(CHAT)]
    assert kinds == [*asked, "json_object"]


@pytest.mark.anyio
async def test_a_server_without_any_structured_output_gets_text(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.reject_formats = {"json_schema", "json_object"}
    server.format_refusal = "extra"
    got: list[str] = []
    await _streamed(provider, got)
    assert got == ["Moon", "Sun", "Coasts"]
    assert provider.mode is OutputMode.TEXT
    assert "response_format" not in server.of(CHAT)[-1].body


@pytest.mark.anyio
async def test_a_500_storm_is_not_taken_for_a_refusal_and_keeps_its_retry_budget(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.reject_formats = {"json_schema", "json_object"}
    server.format_refusal = "500-bare"
    server.replies.append(Reply.text(_outline_json(3)))
    with pytest.raises(ProviderError, match="last status 500"):
        await provider.outline(REQUEST)  # json_object after two 500s, refused again
    assert len(server.of(CHAT)) == FAST.max_retries + 1
    assert provider.mode is OutputMode.JSON_SCHEMA  # a guess that never worked is not kept


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("setting", "expected"),
    [("off", None), ("text", None), ("json_object", "json_object"), ("json_schema", "json_schema")],
)
async def test_structured_output_is_set_from_the_environment(
    server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, setting: str, expected: str | None
) -> None:
    monkeypatch.setenv("SLIDESTREAM_STRUCTURED_OUTPUT", setting)
    async with OpenAIScriptProvider(base_url=server.url, retry=FAST) as provider:
        await provider.outline(REQUEST)
    assert server.of(CHAT)[0].body.get("response_format", {}).get("type") == expected


def test_a_structured_output_setting_that_names_no_mode_says_which_there_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(InvalidInputError, match="json_schema, json_object, text or off"):
        OpenAIScriptProvider(structured_output="yaml")
    monkeypatch.setenv("SLIDESTREAM_STRUCTURED_OUTPUT", "yes please")
    with pytest.raises(ConfigurationError, match="SLIDESTREAM_STRUCTURED_OUTPUT"):
        OpenAIScriptProvider()


# -- reasoning models ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_reasoning_model_gets_max_completion_tokens_and_no_temperature(
    server: OpenAIServer,
) -> None:
    server.reasoning_model = True
    async with OpenAIScriptProvider(
        base_url=server.url, retry=FAST, max_tokens=4000, temperature=0.3
    ) as provider:
        await provider.outline(REQUEST)
        await provider.write_slide(REQUEST, OUTLINE, 0)
    sent = [
        sorted(k for k in ("max_tokens", "max_completion_tokens", "temperature") if k in r.body)
        for r in server.of(CHAT)
    ]
    assert sent == [
        ["max_tokens", "temperature"],  # 400 unsupported_parameter: max_tokens
        ["max_completion_tokens", "temperature"],  # 400 unsupported_value: temperature
        ["max_completion_tokens"],
        ["max_completion_tokens"],  # remembered for the next call
    ]
    assert server.of(CHAT)[-1].body["max_completion_tokens"] == 4000


@pytest.mark.anyio
async def test_max_completion_tokens_falls_back_to_max_tokens_on_a_strict_server(
    server: OpenAIServer,
) -> None:
    server.forbid_fields = {"max_completion_tokens"}  # FastAPI's 422 extra_forbidden
    async with OpenAIScriptProvider(
        base_url=server.url, retry=FAST, max_completion_tokens=900
    ) as provider:
        await provider.write_slide(REQUEST, OUTLINE, 0)
    first, second = server.of(CHAT)
    assert first.body["max_completion_tokens"] == 900
    assert second.body["max_tokens"] == 900
    assert "max_completion_tokens" not in second.body
    assert second.body["response_format"]["type"] == "json_schema"  # nothing else given up


def test_only_one_length_cap_can_be_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(InvalidInputError, match="max_tokens or max_completion_tokens"):
        OpenAIScriptProvider(max_tokens=10, max_completion_tokens=10)


# -- errors inside a stream ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("style", ["openai", "vllm", "llama.cpp", "event"])
async def test_an_error_inside_a_slide_stream_reaches_the_user_with_the_servers_words(
    server: OpenAIServer, provider: OpenAIScriptProvider, style: str
) -> None:
    first = '{"slides": [' + json.dumps(_slide(1)) + ","
    server.replies.append(
        Reply([first], error=style, error_message="KV cache is full", error_code=500)  # type: ignore[arg-type]
    )
    got: list[str] = []
    with pytest.raises(ProviderResponseError, match="KV cache is full") as caught:
        await _streamed(provider, got)
    assert got == ["T1"]
    assert "reported an error mid-stream" in str(caught.value)
    assert "as JSON" not in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize("style", ["vllm", "llama.cpp"])
async def test_a_server_error_mid_answer_is_retried_and_a_request_error_is_not(
    server: OpenAIServer, provider: OpenAIScriptProvider, style: str
) -> None:
    server.replies.append(Reply(['{"ti'], error=style, error_code=500))  # type: ignore[arg-type]
    slide = await provider.write_slide(REQUEST, OUTLINE, 0)  # the second attempt is whole
    assert slide.title == "Moon"
    assert len(server.of(CHAT)) == 2

    message = "This model's maximum context length is 4096 tokens"
    server.replies.append(Reply(['{"ti'], error=style, error_code=400, error_message=message))  # type: ignore[arg-type]
    with pytest.raises(ProviderResponseError, match="maximum context length") as caught:
        await provider.write_slide(REQUEST, OUTLINE, 1)
    assert caught.value.status_code == 400
    assert caught.value.slide_index == 1
    assert len(server.of(CHAT)) == 3


@pytest.mark.anyio
@pytest.mark.parametrize("end", ["cut", "reset"])
async def test_a_stream_that_breaks_off_is_a_truncation(
    server: OpenAIServer, provider: OpenAIScriptProvider, end: str
) -> None:
    first = '{"slides": [' + json.dumps(_slide(1)) + ","
    server.replies.append(Reply([first + '{"title": "T2", "bull'], end=end))  # type: ignore[arg-type]
    got: list[str] = []
    with pytest.raises(ProviderError) as caught:
        await _streamed(provider, got)
    assert got == ["T1"]  # slide 2 was never finished: it is written on its own
    if end == "cut":
        assert "neither a finish_reason nor [DONE]" in str(caught.value)

    server.replies.append(Reply(['{"title": "Mo'], end=end))  # type: ignore[arg-type]
    slide = await provider.write_slide(REQUEST, OUTLINE, 0)  # asked again, whole this time
    assert slide.title == "Moon"


@pytest.mark.anyio
async def test_a_server_that_is_not_running_is_named_not_taken_for_a_broken_stream() -> None:
    import socket

    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    async with OpenAIScriptProvider(base_url=url, model="local", retry=FAST) as provider:
        with pytest.raises(ProviderError) as caught:
            await provider.outline(REQUEST)
    message = str(caught.value)
    assert f"nothing answered at {url}/chat/completions" in message
    assert "is the server running" in message and "mid-stream" not in message


@pytest.mark.anyio
async def test_a_finish_reason_without_done_is_a_whole_answer(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.replies.append(Reply.text(_slides_json(1, 2, 3), end="no-done"))
    got: list[str] = []
    await _streamed(provider, got)
    assert got == ["T1", "T2", "T3"]


@pytest.mark.anyio
async def test_a_streamed_refusal_is_reported_as_a_refusal(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    refusal = "I'm sorry, I can't help with that request."
    server.replies.append(Reply([], refusal=refusal))
    with pytest.raises(ProviderResponseError, match="the model refused: I'm sorry") as caught:
        await provider.outline(REQUEST)
    assert "as JSON" not in str(caught.value)
    assert len(server.of(CHAT)) == 1  # asking again would get the same answer

    server.replies.append(Reply([], refusal=refusal))
    with pytest.raises(ProviderResponseError, match="the model refused"):
        await _streamed(provider, [])


# -- slide count ------------------------------------------------------------------------


def _short_first(body: dict[str, object]) -> str:
    """A model that plans one slide when asked for several, and continues when asked."""
    reply = deck_model(body)  # type: ignore[arg-type]
    value = json.loads(reply)
    if "Plan slides" not in json.dumps(body):
        value["slides"] = value["slides"][:1]
    return json.dumps(value)


@pytest.mark.anyio
async def test_a_short_outline_is_completed(
    server: OpenAIServer, provider: OpenAIScriptProvider
) -> None:
    server.model = _short_first  # type: ignore[assignment]
    outline = await provider.outline(DeckRequest(topic="Tides", project="t", slides=8))
    assert [item.title for item in outline.items] == [f"Part {n} of Tides" for n in range(1, 9)]
    first, second = server.of(CHAT)
    schema = first.body["response_format"]["json_schema"]["schema"]["properties"]["slides"]
    assert (schema["minItems"], schema["maxItems"]) == (8, 8)  # the schema states the count
    assert "Plan slides 2 to 8" in second.prompt
    assert "Part 1 of Tides" in second.prompt  # the plan so far, so it is not repeated
    more = second.body["response_format"]["json_schema"]["schema"]["properties"]["slides"]
    assert more["maxItems"] == 7


@pytest.mark.anyio
async def test_an_outline_that_stays_short_is_reported(
    server: OpenAIServer, provider: OpenAIScriptProvider, caplog: pytest.LogCaptureFixture
) -> None:
    server.model = lambda body: _outline_json(1)
    with caplog.at_level(logging.WARNING, logger="slidestream.providers"):
        outline = await provider.outline(DeckRequest(topic="Tides", project="t", slides=8))
    assert len(outline.items) == 1
    assert "asked for 8 slides, the model planned 1" in caplog.text
    assert "the deck has 1 slides" in caplog.text


# -- a speech server apart from the chat server -------------------------------------------


@pytest.fixture
def speech_server() -> Iterator[OpenAIServer]:
    with running_openai_server() as speech:
        yield speech


@pytest.mark.anyio
async def test_the_speech_server_has_its_own_url_key_model_and_voice(
    server: OpenAIServer, speech_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-chat")
    monkeypatch.setenv("SLIDESTREAM_TTS_BASE_URL", speech_server.url)
    monkeypatch.setenv("SLIDESTREAM_TTS_API_KEY", "sk-speech")
    monkeypatch.setenv("SLIDESTREAM_TTS_MODEL", "kokoro")
    monkeypatch.setenv("SLIDESTREAM_TTS_VOICE", "af_sky")
    async with OpenAITTSProvider(retry=FAST) as tts, OpenAIScriptProvider(retry=FAST) as script:
        clip = await tts.synthesize("Hello.", voice=None, language="en")
        await script.write_slide(REQUEST, OUTLINE, 0)
    assert clip.duration_s > 0
    (spoken,) = speech_server.of(SPEECH)
    assert spoken.headers["Authorization"] == "Bearer sk-speech"
    assert (spoken.body["model"], spoken.body["voice"]) == ("kokoro", "af_sky")
    assert server.of(SPEECH) == []
    assert server.of(CHAT)[0].headers["Authorization"] == "Bearer sk-chat"


@pytest.mark.anyio
async def test_the_chat_key_never_goes_to_a_speech_server_named_apart(
    server: OpenAIServer, speech_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-chat")
    monkeypatch.setenv("SLIDESTREAM_TTS_BASE_URL", speech_server.url)
    async with OpenAITTSProvider(retry=FAST) as tts:
        await tts.synthesize("Hello.", voice=None, language="en")
    (spoken,) = speech_server.of(SPEECH)
    assert "Authorization" not in spoken.headers
    assert spoken.body["voice"] == "alloy"

    monkeypatch.delenv("SLIDESTREAM_TTS_BASE_URL")  # the same server: the same key
    async with OpenAITTSProvider(retry=FAST) as tts:
        await tts.synthesize("Hello.", voice=None, language="en")
    assert server.of(SPEECH)[0].headers["Authorization"] == "Bearer sk-chat"


@pytest.mark.anyio
async def test_a_silent_speech_server_is_asked_once_more_then_reported(
    server: OpenAIServer,
) -> None:
    server.speech_delay_s = 1.5
    async with OpenAITTSProvider(base_url=server.url, retry=FAST, first_token_timeout_s=0.3) as tts:
        with pytest.raises(ProviderTimeoutError, match="SLIDESTREAM_OPENAI_FIRST_TOKEN_TIMEOUT"):
            await tts.synthesize("Hello.", voice=None, language="en")
    assert len(server.of(SPEECH)) == 2
