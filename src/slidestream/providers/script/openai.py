"""The ``openai`` script provider: any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Works with OpenAI, Ollama, vLLM, LM Studio, llama.cpp's server, OpenRouter and the like.
Every call is streamed, so a slow model (CPU inference, a model still loading) is limited only
by silence: ``first_token_timeout_s`` for the answer to begin, ``timeout_s`` between chunks.

Structured output is asked for first (``response_format`` with a JSON schema that states the
slide count); a server that refuses it, in whatever words and with whatever status, gets JSON
mode, then plain text from which the JSON is extracted. Reasoning models that refuse
``max_tokens`` get ``max_completion_tokens``, and a refused ``temperature`` is left out. What
the server accepted is remembered, so later calls go straight to it. An outline with fewer
slides than asked for is completed with one more call; if it is still short, a warning says so.

``stream_slides()`` asks for every slide in one server-sent-event stream and yields each slide
the moment its JSON object closes in the streamed text, so the pipeline starts slide 1's
images and narration while the model is still writing slide 2. The :class:`SlideStream` it
returns owns the HTTP response: closing it closes the response.

::

    from slidestream.providers.script.openai import OpenAIScriptProvider

    script = OpenAIScriptProvider(base_url="http://localhost:11434/v1", model="llama3.1")
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, TypeVar

import httpx

from ..._constants import DEFAULT_SLIDE_COUNT
from ..._exceptions import InvalidInputError, ProviderError, ProviderResponseError
from ..._models import DeckRequest, Outline, SlideScript
from .._common import prompts
from .._common.chat_shape import ChatShape, OutputMode
from .._common.openai_client import (
    ChatReply,
    ChatStream,
    OpenAIEndpointProvider,
    ShapeRefused,
    TimeoutHints,
)
from .._common.openai_config import (
    CONFIGURE_BY_ENV,
    DEFAULT_CHAT_MODEL,
    FIRST_TOKEN_TIMEOUT_ENV,
    TIMEOUT_ENV,
    endpoint_configured,
    resolve_endpoint,
    resolve_output_mode,
    resolve_timeouts,
)
from .._common.retry import RetryPolicy, resolve_retry
from .._common.slide_json import (
    MalformedJSONError,
    SlideNumbering,
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

logger = logging.getLogger("slidestream.providers")

_HINTS = TimeoutHints(
    first_token=f"raise first_token_timeout_s, --openai-first-token-timeout or "
    f"{FIRST_TOKEN_TIMEOUT_ENV}",
    silence=f"raise timeout_s, --openai-timeout or {TIMEOUT_ENV}",
)


class OpenAIScriptProvider(OpenAIEndpointProvider):
    """Writes outlines and slides with an OpenAI-compatible chat-completions endpoint.

    Args:
        base_url: the API base, e.g. ``http://localhost:11434/v1`` (default:
            ``OPENAI_BASE_URL``, else OpenAI's).
        api_key: the bearer token (default: ``OPENAI_API_KEY``; local servers need none).
        model: the chat model (default: ``SLIDESTREAM_MODEL``, else ``gpt-4o-mini``).
        temperature: sampling temperature, sent only when given (and left out once a server
            refuses it, as reasoning models do).
        max_tokens: the reply length cap as ``max_tokens``, sent only when given; a server
            that asks for ``max_completion_tokens`` instead gets that.
        max_completion_tokens: the reply length cap as ``max_completion_tokens`` (what
            reasoning models want); a server that refuses it gets ``max_tokens``.
        structured_output: how JSON is asked for first: ``True``/``"json_schema"`` (default:
            ``SLIDESTREAM_STRUCTURED_OUTPUT``, else JSON schema), ``"json_object"``, or
            ``False``/``"text"``/``"off"`` for servers known to lack it.
        timeout_s: the longest silence between chunks once an answer has begun (default:
            ``SLIDESTREAM_OPENAI_TIMEOUT``, else 60 s).
        first_token_timeout_s: the longest wait for an answer to begin, e.g. while a local
            server loads the model (default: ``SLIDESTREAM_OPENAI_FIRST_TOKEN_TIMEOUT``, else
            300 s).
        retry: retries on 408/409/429/5xx and connection errors, and once on a stall (a
            :class:`RetryPolicy`).
        transport: an httpx transport (e.g. ``httpx.MockTransport``) instead of the network.
        retry_policy: the old name of ``retry`` (deprecated).

    Raises:
        ConfigurationError: no endpoint can be resolved (OpenAI's own without an API key), or
            an environment variable is invalid.
        InvalidInputError: an option is invalid.
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
        max_completion_tokens: int | None = None,
        structured_output: bool | str | OutputMode | None = None,
        timeout_s: float | None = None,
        first_token_timeout_s: float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if max_tokens is not None and max_completion_tokens is not None:
            raise InvalidInputError(
                "openai: pass max_tokens or max_completion_tokens, not both (reasoning models "
                "want max_completion_tokens)."
            )
        for option, value in (
            ("max_tokens", max_tokens),
            ("max_completion_tokens", max_completion_tokens),
        ):
            if value is not None and (isinstance(value, bool) or value < 1):
                raise InvalidInputError(
                    f"openai: {option}={value!r} is invalid: use a number >= 1."
                )
        config = resolve_endpoint(
            base_url=base_url,
            api_key=api_key,
            model=model,
            model_env="SLIDESTREAM_MODEL",
            default_model=DEFAULT_CHAT_MODEL,
            provider=self.name,
        )
        self.temperature = temperature
        self.max_tokens = max_tokens if max_tokens is not None else max_completion_tokens
        self.token_param: Literal["max_tokens", "max_completion_tokens"] = (
            "max_completion_tokens" if max_completion_tokens is not None else "max_tokens"
        )
        self.shape = ChatShape(resolve_output_mode(structured_output))
        """What calls send: the output mode and the optional fields the server refused.
        Stepped down when a server refuses a field, and kept for the provider's later calls."""
        self._connect(
            config,
            timeouts=resolve_timeouts(
                timeout_s=timeout_s, first_token_timeout_s=first_token_timeout_s
            ),
            retry=resolve_retry(retry, retry_policy, provider=self.name),
            transport=transport,
            hints=_HINTS,
        )

    @property
    def mode(self) -> OutputMode:
        """The output mode calls start with; lowered when a server refuses one."""
        return self.shape.output

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

        An outline with fewer slides than wanted (``request.slides``, else 8) is completed with
        one more call; if it is still short, a warning on the ``slidestream.providers`` logger
        says so and the deck has fewer slides.

        Raises:
            ProviderError: the call failed, or the reply held no usable outline even after
                one repair attempt.
        """
        wanted = request.slides or DEFAULT_SLIDE_COUNT
        reply = await self._complete(
            prompts.outline_messages(request),
            "slidestream_outline",
            prompts.outline_schema(wanted),
            stage="outline",
        )
        outline = self._read_outline(reply, request, "the outline")
        if len(outline.items) < wanted:
            outline = await self._complete_outline(request, outline, wanted)
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
        by one). A reply cut off at the token limit, or breaking off for any reason (the
        server's error mid-stream, a dropped connection, too long a silence), yields the
        slides completed before the cut, then raises. The request is sent on the first
        iteration; closing the returned stream closes the HTTP response.

        Raises:
            ProviderError: (while iterating) the call failed, the stream broke, the model
                refused, no slide could be read, or the reply was cut off at the token limit.
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
        numbering = SlideNumbering(wanted)
        position = 0
        messages = prompts.slides_messages(request, outline)
        chat = await self._chat_stream(
            messages, "slidestream_slides", prompts.slides_schema(wanted), stage="script"
        )
        opened.append(chat)
        async with chat:
            async for delta in chat:
                for raw in scanner.feed(thinking.feed(delta)):
                    slide = self._streamed_slide(raw, position, outline, numbering)
                    position += 1
                    if slide is not None and slide.index < wanted:
                        yield slide
        for raw in scanner.feed(thinking.flush()):
            slide = self._streamed_slide(raw, position, outline, numbering)
            position += 1
            if slide is not None and slide.index < wanted:
                yield slide
        if position == 0:
            whole = self._slides_from_whole_reply(scanner.text, chat.finish_reason, outline)
            for slide in whole:
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

    # -- the outline --------------------------------------------------------------------

    def _read_outline(self, reply: ChatReply, request: DeckRequest, what: str) -> Outline:
        content, finish = reply
        try:
            value, _ = extract_json(content)
            outline = parse_outline(value, request)
        except MalformedJSONError as error:
            raise self._unreadable(what, content, finish, error, stage="outline") from error
        if finish == "length" and request.slides and len(outline.items) < request.slides:
            raise ProviderResponseError(
                f"{self.name}: {what} was cut off at the token limit after "
                f"{len(outline.items)} of {request.slides} slides; raise max_tokens.",
                provider=self.name,
                stage="outline",
            )
        return outline

    async def _complete_outline(
        self, request: DeckRequest, outline: Outline, wanted: int
    ) -> Outline:
        """Ask once for the slides a short outline lacks; warn when it stays short."""
        have = len(outline.items)
        try:
            reply = await self._complete(
                prompts.more_outline_messages(request, outline, wanted),
                "slidestream_outline",
                prompts.outline_schema(wanted - have),
                stage="outline",
            )
            more = self._read_outline(reply, request, "the rest of the outline").items
        except ProviderError as error:
            more, why = [], f" (asking for the rest failed: {error})"
        else:
            why = ""
        known = {item.title.casefold() for item in outline.items}
        added = [item for item in more if item.title.casefold() not in known][: wanted - have]
        items = [*outline.items, *added]
        if len(items) < wanted:
            logger.warning(
                "%s: asked for %d slides, the model planned %d even when asked for the rest%s; "
                "the deck has %d slides.",
                self.name,
                wanted,
                len(items),
                why,
                len(items),
            )
        return Outline(title=outline.title, items=items)

    # -- parsing ------------------------------------------------------------------------

    def _streamed_slide(
        self, raw: str, position: int, outline: Outline, numbering: SlideNumbering
    ) -> SlideScript | None:
        try:
            value, _ = extract_json(raw)
        except MalformedJSONError:
            return None
        if not looks_like_slide(value):
            return None
        return normalize_slide(value, index=numbering.index(value, position), outline=outline)

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
        numbering = SlideNumbering(len(outline.items))
        return [
            normalize_slide(data, index=numbering.index(data, i), outline=outline)
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
        shape: ChatShape,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.model, "messages": messages}
        if shape.output is OutputMode.JSON_SCHEMA:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": True},
            }
        elif shape.output is OutputMode.JSON_OBJECT:
            body["response_format"] = {"type": "json_object"}
        if self.temperature is not None and shape.sends("temperature"):
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            other = (
                "max_tokens"
                if self.token_param == "max_completion_tokens"
                else ("max_completion_tokens")
            )
            for param in (self.token_param, other):
                if shape.sends(param):
                    body[param] = self.max_tokens
                    break
        return body

    async def _shaped(
        self,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        send: Callable[..., Awaitable[tuple[T, bool]]],
        *,
        index: int | None = None,
    ) -> T:
        """``send`` the chat completion, leaving out what the server refuses.

        A refusal that names what it refuses is remembered at once. A server that keeps
        failing with 500 without saying why is sent a simpler request in the attempts left;
        that shape is remembered only once it has worked.
        """
        start = shape = self.shape
        while True:
            body = self._body(messages, schema_name, schema, shape)
            guess = shape.simpler()
            simpler = self._body(messages, schema_name, schema, guess)
            try:
                result, guessed = await send(body, simpler=simpler if simpler != body else None)
            except ShapeRefused as refused:
                at = guess if refused.body == simpler and simpler != body else shape
                lower = at.without(refused.field)
                if lower is None:
                    refused.slide_index = index
                    raise
                logger.info(
                    "%s: the server refused %s (status %s); asking with %s",
                    self.name,
                    refused.field or "the request's shape",
                    refused.status_code,
                    lower.describe(),
                )
                if at is shape and self.shape == shape:
                    self.shape = lower
                shape = lower
            except ProviderError as error:
                if index is not None:
                    error.slide_index = index
                raise
            else:
                used = guess if guessed else shape
                if used != start and self.shape == start:
                    if guessed:
                        logger.info(
                            "%s: the server kept failing with 500 until asked with %s",
                            self.name,
                            used.describe(),
                        )
                    self.shape = used
                return result

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
        reply: ChatReply = await self._shaped(messages, schema_name, schema, send, index=index)
        return reply

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
        stream: ChatStream = await self._shaped(messages, schema_name, schema, send)
        return stream
