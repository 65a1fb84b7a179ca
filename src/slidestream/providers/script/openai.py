"""The ``openai`` script provider: any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Works with OpenAI, Ollama, vLLM, LM Studio, llama.cpp's server, OpenRouter and the like.
Structured output is asked for first (``response_format`` with a JSON schema); a server that
refuses it gets JSON mode, then plain text from which the JSON is extracted. The mode that
worked is remembered, so later calls go straight to it.

``stream_slides()`` asks for every slide in one server-sent-event stream and yields each slide
the moment its JSON object closes in the streamed text, so the pipeline starts slide 1's
images and narration while the model is still writing slide 2. The :class:`SlideStream` it
returns owns the HTTP response: closing it closes the response.

::

    from slidestream.providers.script.openai import OpenAIScriptProvider

    script = OpenAIScriptProvider(base_url="http://localhost:11434/v1", model="llama3.1")
"""

from __future__ import annotations

import enum
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx

from ..._constants import DEFAULT_TIMEOUT_S
from ..._exceptions import ProviderError, ProviderResponseError
from ..._models import DeckRequest, Outline, SlideScript
from .._common import prompts
from .._common.openai_client import (
    ChatReply,
    ChatStream,
    OpenAIEndpointProvider,
    ResponseFormatRefused,
)
from .._common.openai_config import (
    CONFIGURE_BY_ENV,
    DEFAULT_CHAT_MODEL,
    endpoint_configured,
    resolve_endpoint,
)
from .._common.retry import RetryPolicy, resolve_retry
from .._common.slide_json import (
    MalformedJSONError,
    SlideObjectScanner,
    ThinkFilter,
    extract_json,
    looks_like_slide,
    normalize_slide,
    parse_outline,
    slides_from_document,
)
from .._protocols import SlideStream

__all__ = [
    "CONFIGURE_BY_ENV",
    "OpenAIScriptProvider",
    "OutputMode",
    "RetryPolicy",
    "endpoint_configured",
]


T = TypeVar("T")


class OutputMode(enum.Enum):
    """How the provider asks for JSON, from most to least structured."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    TEXT = "text"


_NEXT_MODE = {
    OutputMode.JSON_SCHEMA: OutputMode.JSON_OBJECT,
    OutputMode.JSON_OBJECT: OutputMode.TEXT,
}


class OpenAIScriptProvider(OpenAIEndpointProvider):
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
        retry: retries on 408/409/429/5xx and connection errors (a :class:`RetryPolicy`).
        transport: an httpx transport (e.g. ``httpx.MockTransport``) instead of the network.
        retry_policy: the old name of ``retry`` (deprecated).

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
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        config = resolve_endpoint(
            base_url=base_url,
            api_key=api_key,
            model=model,
            model_env="SLIDESTREAM_MODEL",
            default_model=DEFAULT_CHAT_MODEL,
            provider=self.name,
        )
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.mode = OutputMode.JSON_SCHEMA if structured_output else OutputMode.TEXT
        """The output mode calls start with; lowered when a server refuses one."""
        self._connect(
            config,
            timeout_s=timeout_s,
            retry=resolve_retry(retry, retry_policy, provider=self.name),
            transport=transport,
        )

    def cache_identity(self) -> dict[str, Any]:
        """What changes the answers: endpoint, model, temperature and token limit."""
        config = self.config
        return {
            "base_url": config.base_url,
            "model": config.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    # -- the protocol -------------------------------------------------------------------

    async def outline(self, request: DeckRequest) -> Outline:
        """Plan the deck: the model's JSON outline, validated (titles default when missing).

        Raises:
            ProviderError: the call failed, or the reply held no usable outline even after
                one repair attempt.
        """
        messages = prompts.outline_messages(request)
        content, finish = await self._complete(
            messages, "slidestream_outline", prompts.OUTLINE_SCHEMA, stage="outline"
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
        messages = prompts.slide_messages(request, outline, index)
        content, finish = await self._complete(
            messages, "slidestream_slide", prompts.SLIDE_SCHEMA, stage="script", index=index
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

    def stream_slides(self, request: DeckRequest, outline: Outline) -> SlideStream:
        """Write every slide in one streamed reply; yield each as soon as its JSON closes.

        Slides the model skipped or garbled are not yielded (the pipeline writes them one
        by one). A reply cut off at the token limit yields the slides completed before the
        cut, then raises. The request is sent on the first iteration; closing the returned
        stream closes the HTTP response.

        Raises:
            ProviderError: (while iterating) the call failed, the stream broke, no slide
                could be read, or the reply was cut off at the token limit.
        """
        opened: list[ChatStream] = []

        async def close_response() -> None:
            for chat in opened:
                await chat.aclose()

        return SlideStream(self._slides(request, outline, opened), on_close=close_response)

    async def _slides(
        self, request: DeckRequest, outline: Outline, opened: list[ChatStream]
    ) -> AsyncIterator[SlideScript]:
        wanted = len(outline.items)
        scanner, thinking = SlideObjectScanner(), ThinkFilter()
        position = 0
        messages = prompts.slides_messages(request, outline)
        chat = await self._chat_stream(
            messages, "slidestream_slides", prompts.SLIDES_SCHEMA, stage="script"
        )
        opened.append(chat)
        async with chat:
            async for delta in chat:
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
            for slide in self._slides_from_whole_reply(scanner.text, chat.finish_reason, outline):
                position += 1
                yield slide
        if chat.finish_reason == "length" and position < wanted:
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
        self, text: str, finish: str | None, outline: Outline
    ) -> list[SlideScript]:
        try:
            value, _ = extract_json(text)
        except MalformedJSONError as error:
            raise self._unreadable("the slides", text, finish, error, stage="script") from error
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

    # -- requests -----------------------------------------------------------------------

    def _body(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        *,
        mode: OutputMode,
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
        return body

    async def _with_modes(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        send: Callable[[dict[str, Any]], Awaitable[T]],
        *,
        index: int | None = None,
    ) -> T:
        """``send`` the chat completion, stepping down the output modes the server refuses."""
        while True:
            mode = self.mode
            try:
                return await send(self._body(messages, schema_name, schema, mode=mode))
            except ResponseFormatRefused:
                if self.mode is mode:
                    self.mode = _NEXT_MODE[mode]
            except ProviderError as error:
                if index is not None:
                    error.slide_index = index
                raise

    async def _complete(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        *,
        stage: str,
        index: int | None = None,
    ) -> ChatReply:
        send = functools.partial(
            self.client.chat, call=f"POST /chat/completions ({stage})", stage=stage
        )
        return await self._with_modes(messages, schema_name, schema, send, index=index)

    async def _chat_stream(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        *,
        stage: str,
    ) -> ChatStream:
        send = functools.partial(
            self.client.chat_stream, call=f"POST /chat/completions stream ({stage})", stage=stage
        )
        return await self._with_modes(messages, schema_name, schema, send)
