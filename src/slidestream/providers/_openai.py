"""The ``openai`` script provider: any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Works with OpenAI, Ollama, vLLM, LM Studio, llama.cpp's server, OpenRouter and the like.
Structured output is asked for first (``response_format`` with a JSON schema); a server that
refuses it gets JSON mode, then plain text from which the JSON is extracted. The mode that
worked is remembered, so later calls go straight to it.

``stream_slides()`` asks for every slide in one server-sent-event stream and yields each slide
the moment its JSON object closes in the streamed text, so the pipeline starts slide 1's
images and narration while the model is still writing slide 2.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from .._constants import DEFAULT_TIMEOUT_S
from .._exceptions import ProviderError, ProviderResponseError
from .._models import DeckRequest, Outline, SlideScript
from . import _prompts
from ._http import RetryPolicy, refused_error, request_with_retries
from ._openai_config import DEFAULT_CHAT_MODEL, EndpointClient, resolve_endpoint
from ._slide_json import (
    MalformedJSONError,
    SlideObjectScanner,
    ThinkFilter,
    extract_json,
    looks_like_slide,
    normalize_slide,
    parse_outline,
    slides_from_document,
)

__all__ = ["OpenAIScriptProvider", "OutputMode"]

_REJECTION_WORDS = ("response_format", "json_schema", "json_object", "structured", "schema")


class OutputMode(enum.Enum):
    """How the provider asks for JSON, from most to least structured."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    TEXT = "text"


_NEXT_MODE = {
    OutputMode.JSON_SCHEMA: OutputMode.JSON_OBJECT,
    OutputMode.JSON_OBJECT: OutputMode.TEXT,
}


@dataclass
class _StreamState:
    finish_reason: str | None = None


def _rejects_response_format(status: int, body: str) -> bool:
    if status == 422:
        return True
    lowered = body.lower()
    return status == 400 and any(word in lowered for word in _REJECTION_WORDS)


def _error_message(data: Any) -> str:
    if isinstance(data, Mapping):
        error = data.get("error", data)
        if isinstance(error, Mapping):
            return str(error.get("message") or error)
        return str(error)
    return str(data)


class OpenAIScriptProvider(EndpointClient):
    """Writes outlines and slides with an OpenAI-compatible chat-completions endpoint.

    Args:
        base_url: the API base, e.g. ``http://localhost:11434/v1`` (default:
            ``OPENAI_BASE_URL``, else OpenAI's).
        api_key: the bearer token (default: ``OPENAI_API_KEY``; local servers need none).
        model: the chat model (default: ``SLIDESTREAM_MODEL``, else ``gpt-4o-mini``).
        temperature: sampling temperature, sent only when given.
        max_tokens: the reply length cap, sent only when given.
        structured_output: start with ``response_format`` JSON schema (the default) or go
            straight to plain text for servers known to lack it.
        timeout_s: the HTTP timeout (for streams: the longest silence between chunks).
        retry_policy: retries on 408/409/429/5xx and connection errors.
        transport: an httpx transport (e.g. ``httpx.MockTransport``) instead of the network.

    Raises:
        ConfigurationError: no endpoint can be resolved (OpenAI's own without an API key).
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        structured_output: bool = True,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = resolve_endpoint(
            base_url=base_url,
            api_key=api_key,
            model=model,
            model_env="SLIDESTREAM_MODEL",
            default_model=DEFAULT_CHAT_MODEL,
            provider=self.name,
        )
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.retry_policy = retry_policy or RetryPolicy()
        self.mode = OutputMode.JSON_SCHEMA if structured_output else OutputMode.TEXT
        """The output mode calls start with; lowered when a server refuses one."""
        self._open_client(timeout_s=timeout_s, transport=transport)

    # -- the protocol -------------------------------------------------------------------

    async def outline(self, request: DeckRequest) -> Outline:
        """Plan the deck: the model's JSON outline, validated (titles default when missing).

        Raises:
            ProviderError: the call failed, or the reply held no usable outline even after
                one repair attempt.
        """
        messages = _prompts.outline_messages(request)
        content, finish = await self._complete(
            messages, "slidestream_outline", _prompts.OUTLINE_SCHEMA, stage="outline"
        )
        try:
            value, _ = extract_json(content)
            outline = parse_outline(value, request)
        except MalformedJSONError as error:
            raise self._unreadable(
                "the outline", content, finish, error, stage="outline"
            ) from error
        if finish == "length" and request.slides and len(outline.items) < request.slides:
            raise ProviderResponseError(
                f"{self.name}: the outline was cut off at the token limit after "
                f"{len(outline.items)} of {request.slides} slides; raise max_tokens.",
                provider=self.name,
                stage="outline",
            )
        return outline

    async def write_slide(self, request: DeckRequest, outline: Outline, index: int) -> SlideScript:
        """Write slide ``index`` alone (the pipeline's per-slide parallel mode).

        Raises:
            ProviderError: the call failed, or the reply held no JSON even after one
                repair attempt.
        """
        messages = _prompts.slide_messages(request, outline, index)
        content, finish = await self._complete(
            messages, "slidestream_slide", _prompts.SLIDE_SCHEMA, stage="script", index=index
        )
        try:
            value, _ = extract_json(content)
        except MalformedJSONError as error:
            raise self._unreadable(
                f"slide {index + 1}", content, finish, error, stage="script", index=index
            ) from error
        if not looks_like_slide(value):
            found = slides_from_document(value)
            value = found[0] if found else value
        return normalize_slide(value, index=index, outline=outline)

    async def stream_slides(
        self, request: DeckRequest, outline: Outline
    ) -> AsyncIterator[SlideScript]:
        """Write every slide in one streamed reply; yield each as soon as its JSON closes.

        Slides the model skipped or garbled are not yielded (the pipeline writes them one
        by one). A reply cut off at the token limit yields the slides completed before the
        cut, then raises.

        Raises:
            ProviderError: the call failed, the stream broke, no slide could be read, or
                the reply was cut off at the token limit.
        """
        wanted = len(outline.items)
        state = _StreamState()
        scanner, thinking = SlideObjectScanner(), ThinkFilter()
        position = 0
        messages = _prompts.slides_messages(request, outline)
        deltas = self._stream_text(
            messages, "slidestream_slides", _prompts.SLIDES_SCHEMA, state, stage="script"
        )
        async with aclosing(deltas):
            async for delta in deltas:
                for raw in scanner.feed(thinking.feed(delta)):
                    slide = self._streamed_slide(raw, position, outline)
                    position += 1
                    if slide is not None and slide.index < wanted:
                        yield slide
        for raw in scanner.feed(thinking.flush()):
            slide = self._streamed_slide(raw, position, outline)
            position += 1
            if slide is not None and slide.index < wanted:
                yield slide
        if position == 0:
            for slide in self._slides_from_whole_reply(scanner.text, state, outline):
                position += 1
                yield slide
        if state.finish_reason == "length" and position < wanted:
            raise ProviderResponseError(
                f"{self.name}: the slides were cut off at the token limit after {position} of "
                f"{wanted} slides (finish_reason 'length'); raise max_tokens, or the remaining "
                "slides are written one by one.",
                provider=self.name,
                stage="script",
            )

    # -- parsing ------------------------------------------------------------------------

    def _streamed_slide(self, raw: str, position: int, outline: Outline) -> SlideScript | None:
        try:
            value, _ = extract_json(raw)
        except MalformedJSONError:
            return None
        if not looks_like_slide(value):
            return None
        return normalize_slide(value, index=position, outline=outline)

    def _slides_from_whole_reply(
        self, text: str, state: _StreamState, outline: Outline
    ) -> list[SlideScript]:
        try:
            value, _ = extract_json(text)
        except MalformedJSONError as error:
            raise self._unreadable(
                "the slides", text, state.finish_reason, error, stage="script"
            ) from error
        found = slides_from_document(value)
        if not found:
            raise ProviderResponseError(
                f'{self.name}: the reply held no slides (expected {{"slides": [...]}}); '
                f"it began: {text[:200]!r}",
                provider=self.name,
                stage="script",
            )
        return [
            normalize_slide(data, index=i, outline=outline)
            for i, data in enumerate(found[: len(outline.items)])
        ]

    def _unreadable(
        self,
        what: str,
        content: str,
        finish: str | None,
        error: Exception,
        *,
        stage: str,
        index: int | None = None,
    ) -> ProviderResponseError:
        cut = " It was cut off at the token limit; raise max_tokens." if finish == "length" else ""
        return ProviderResponseError(
            f"{self.name}: could not read {what} as JSON after one repair attempt ({error})."
            f"{cut} The reply began: {content[:200]!r}",
            provider=self.name,
            stage=stage,
            slide_index=index,
        )

    # -- HTTP ---------------------------------------------------------------------------

    def _body(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        *,
        mode: OutputMode,
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.model, "messages": messages}
        if mode is OutputMode.JSON_SCHEMA:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": True},
            }
        elif mode is OutputMode.JSON_OBJECT:
            body["response_format"] = {"type": "json_object"}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if stream:
            body["stream"] = True
        return body

    async def _send(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        *,
        stream: bool,
        stage: str,
        call: str,
        index: int | None = None,
    ) -> httpx.Response:
        """POST the chat completion, stepping down the output modes the server refuses."""
        while True:
            mode = self.mode
            request = self._client.build_request(
                "POST",
                "chat/completions",
                json=self._body(messages, schema_name, schema, mode=mode, stream=stream),
                headers={"Accept": "text/event-stream"} if stream else None,
            )
            try:
                response = await request_with_retries(
                    functools.partial(self._client.send, request, stream=stream),
                    provider=self.name,
                    call=call,
                    stage=stage,
                    policy=self.retry_policy,
                    pass_statuses=(400, 422),
                )
            except ProviderError as error:
                error.slide_index = index
                raise
            if response.is_success:
                return response
            await response.aread()
            next_mode = _NEXT_MODE.get(mode)
            if next_mode is None or not _rejects_response_format(
                response.status_code, response.text
            ):
                refused = await refused_error(response, provider=self.name, call=call, stage=stage)
                refused.slide_index = index
                raise refused
            await response.aclose()
            if self.mode is mode:
                self.mode = next_mode

    def _parse_completion(
        self, response: httpx.Response, call: str, stage: str
    ) -> tuple[str, str | None]:
        try:
            data = response.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            raise ProviderResponseError(
                f"{self.name}: {call} answered with something that is not a chat completion: "
                f"{response.text[:200]!r}",
                provider=self.name,
                stage=stage,
                status_code=response.status_code,
            ) from error
        content = message.get("content")
        if not content:
            refusal = message.get("refusal")
            reason = f"the model refused: {refusal}" if refusal else "the reply was empty"
            raise ProviderResponseError(
                f"{self.name}: {call} failed: {reason}.", provider=self.name, stage=stage
            )
        return str(content), choice.get("finish_reason")

    async def _complete(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        *,
        stage: str,
        index: int | None = None,
    ) -> tuple[str, str | None]:
        call = f"POST /chat/completions ({stage})"
        response = await self._send(
            messages, schema_name, schema, stream=False, stage=stage, call=call, index=index
        )
        try:
            await response.aread()
        except httpx.HTTPError as error:
            raise ProviderError(
                f"{self.name}: {call} broke while reading the reply: {type(error).__name__}",
                provider=self.name,
                stage=stage,
                slide_index=index,
            ) from error
        finally:
            await response.aclose()
        try:
            return self._parse_completion(response, call, stage)
        except ProviderError as error:
            error.slide_index = index
            raise

    async def _stream_text(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        state: _StreamState,
        *,
        stage: str,
    ) -> AsyncGenerator[str, None]:
        """The content deltas of a streamed chat completion, as they arrive."""
        call = f"POST /chat/completions stream ({stage})"
        response = await self._send(
            messages, schema_name, schema, stream=True, stage=stage, call=call
        )
        try:
            if "text/event-stream" not in response.headers.get("content-type", ""):
                # The server ignored "stream": true and sent the whole completion.
                await response.aread()
                whole, state.finish_reason = self._parse_completion(response, call, stage)
                yield whole
                return
            done = False
            async for event in EventSource(response).aiter_sse():
                # Read on to the end of the body after [DONE] (it ends right away), so every
                # httpx iterator is exhausted rather than left for the garbage collector.
                data = event.data.strip()
                done = done or data == "[DONE]"
                if done or not data:
                    continue
                try:
                    chunk = json.loads(data)
                except json.JSONDecodeError as error:
                    raise ProviderResponseError(
                        f"{self.name}: {call} sent an event that is not JSON: {data[:200]!r}",
                        provider=self.name,
                        stage=stage,
                    ) from error
                if event.event == "error" or (isinstance(chunk, dict) and "error" in chunk):
                    raise ProviderResponseError(
                        f"{self.name}: {call} reported an error mid-stream: "
                        f"{_error_message(chunk)}",
                        provider=self.name,
                        stage=stage,
                    )
                choices = chunk.get("choices") if isinstance(chunk, dict) else None
                for choice in choices or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        yield content
                    if choice.get("finish_reason"):
                        state.finish_reason = choice["finish_reason"]
        except (httpx.HTTPError, SSEError) as error:
            raise ProviderError(
                f"{self.name}: {call} broke mid-stream: {type(error).__name__}: {error}",
                provider=self.name,
                stage=stage,
            ) from error
        finally:
            await response.aclose()
