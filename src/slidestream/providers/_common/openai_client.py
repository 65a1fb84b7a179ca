"""The HTTP client of an OpenAI-compatible endpoint, shared by the ``openai`` providers.

One :class:`OpenAIClient` holds what reaching an endpoint takes: its base URL, key and headers,
one connection pool, the timeout and the retry policy. It speaks the two calls slidestream
uses:

- ``POST /chat/completions``: :meth:`OpenAIClient.chat` returns the whole reply;
  :meth:`OpenAIClient.chat_stream` returns a :class:`ChatStream` of the text deltas of a
  server-sent-event stream, which owns the HTTP response until it is closed (as
  openai-python's ``AsyncStream`` does);
- ``POST /audio/speech``: :meth:`OpenAIClient.speech` returns the audio bytes.

A server that refuses the ``response_format`` asked for (400 or 422 naming it) raises
:class:`ResponseFormatRefused`, so a caller can ask again with a simpler one.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncGenerator, Collection, Mapping
from types import TracebackType
from typing import Any, NamedTuple

import httpx
from httpx_sse import EventSource, SSEError

from ..._exceptions import ProviderError, ProviderResponseError
from .._protocols import Provider
from .http import create_client, refused_error, request_with_retries
from .openai_config import EndpointConfig
from .retry import RetryPolicy

__all__ = [
    "ChatReply",
    "ChatStream",
    "OpenAIClient",
    "OpenAIEndpointProvider",
    "ResponseFormatRefused",
]

_REJECTION_WORDS = ("response_format", "json_schema", "json_object", "structured", "schema")


class ResponseFormatRefused(ProviderResponseError):
    """The server does not support the ``response_format`` that was asked for."""


class ChatReply(NamedTuple):
    """A whole chat completion: the text and why the model stopped (``"length"``: cut off)."""

    content: str
    finish_reason: str | None


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


class ChatStream:
    """The text deltas of one streamed chat completion, as they arrive.

    It owns the HTTP response: iterate it, then close it with :meth:`aclose` (or leave
    ``async with``). :attr:`finish_reason` is set once the model says why it stopped.
    """

    def __init__(
        self, response: httpx.Response, *, provider: str, call: str, stage: str | None
    ) -> None:
        self.response = response
        self.finish_reason: str | None = None
        self._provider, self._call, self._stage = provider, call, stage
        self._deltas: AsyncGenerator[str, None] = self._read()

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> str:
        return await self._deltas.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the HTTP response (idempotent)."""
        try:
            await self._deltas.aclose()
        finally:
            await self.response.aclose()

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _error(self, message: str) -> ProviderResponseError:
        return ProviderResponseError(
            f"{self._provider}: {self._call} {message}", provider=self._provider, stage=self._stage
        )

    async def _read(self) -> AsyncGenerator[str, None]:
        response = self.response
        try:
            if "text/event-stream" not in response.headers.get("content-type", ""):
                # The server ignored "stream": true and sent the whole completion.
                await response.aread()
                whole = parse_completion(response, provider=self._provider, call=self._call)
                self.finish_reason = whole.finish_reason
                yield whole.content
                return
            done = False
            events = EventSource(response).aiter_sse()
            async with contextlib.aclosing(events):
                async for event in events:
                    # Read on to the end of the body after [DONE] (it ends right away), so
                    # every httpx iterator is exhausted rather than left for the garbage
                    # collector (closing early cannot reach the ones inside httpx).
                    data = event.data.strip()
                    done = done or data == "[DONE]"
                    if done or not data:
                        continue
                    for content in self._deltas_of(event.event, data):
                        yield content
        except (httpx.HTTPError, SSEError) as error:
            raise ProviderError(
                f"{self._provider}: {self._call} broke mid-stream: {type(error).__name__}: {error}",
                provider=self._provider,
                stage=self._stage,
            ) from error

    def _deltas_of(self, kind: str, data: str) -> list[str]:
        """The content deltas of one event (and its finish reason, kept)."""
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError as error:
            raise self._error(f"sent an event that is not JSON: {data[:200]!r}") from error
        if kind == "error" or (isinstance(chunk, dict) and "error" in chunk):
            raise self._error(f"reported an error mid-stream: {_error_message(chunk)}")
        deltas = []
        for choice in (chunk.get("choices") if isinstance(chunk, dict) else None) or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                deltas.append(content)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return deltas


def parse_completion(response: httpx.Response, *, provider: str, call: str) -> ChatReply:
    """The text and finish reason of a read ``chat.completion`` response.

    Raises:
        ProviderResponseError: it is not a chat completion, or its message is empty.
    """
    try:
        data = response.json()
        choice = data["choices"][0]
        message = choice.get("message") or {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
        raise ProviderResponseError(
            f"{provider}: {call} answered with something that is not a chat completion: "
            f"{response.text[:200]!r}",
            provider=provider,
            status_code=response.status_code,
        ) from error
    content = message.get("content")
    if not content:
        refusal = message.get("refusal")
        reason = f"the model refused: {refusal}" if refusal else "the reply was empty"
        raise ProviderResponseError(f"{provider}: {call} failed: {reason}.", provider=provider)
    return ChatReply(str(content), choice.get("finish_reason"))


class OpenAIClient:
    """One OpenAI-compatible endpoint: its connection pool, headers, timeout and retries.

    Args:
        config: the endpoint (base URL, key, model).
        provider: the name errors carry (``"openai"``, ``"openai-tts"``).
        timeout_s: the HTTP timeout (for streams: the longest silence between chunks).
        retry: retries on 408/409/429/5xx and connection errors.
        transport: an httpx transport (e.g. ``httpx.MockTransport``) instead of the network.
    """

    def __init__(
        self,
        config: EndpointConfig,
        *,
        provider: str,
        timeout_s: float,
        retry: RetryPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.provider = provider
        self.retry = retry
        self._http = create_client(
            base_url=config.base_url + "/",
            headers=config.headers,
            timeout_s=timeout_s,
            transport=transport,
        )

    async def post(
        self,
        path: str,
        body: dict[str, Any],
        *,
        call: str,
        stage: str,
        stream: bool = False,
        pass_statuses: Collection[int] = (),
    ) -> httpx.Response:
        """POST ``body`` as JSON to ``path`` with retries; the response is returned open
        when ``stream`` is set (close it), read otherwise."""
        request = self._http.build_request(
            "POST", path, json=body, headers={"Accept": "text/event-stream"} if stream else None
        )
        return await request_with_retries(
            functools.partial(self._http.send, request, stream=stream),
            provider=self.provider,
            call=call,
            stage=stage,
            policy=self.retry,
            pass_statuses=pass_statuses,
        )

    async def _chat_response(
        self, body: dict[str, Any], *, call: str, stage: str, stream: bool
    ) -> httpx.Response:
        asks_format = "response_format" in body
        response = await self.post(
            "chat/completions",
            body,
            call=call,
            stage=stage,
            stream=stream,
            pass_statuses=(400, 422) if asks_format else (),
        )
        if response.is_success:
            return response
        refused = await refused_error(response, provider=self.provider, call=call, stage=stage)
        if _rejects_response_format(response.status_code, response.text):
            raise ResponseFormatRefused(
                str(refused),
                provider=self.provider,
                stage=stage,
                status_code=response.status_code,
            )
        raise refused

    async def chat(self, body: dict[str, Any], *, call: str, stage: str) -> ChatReply:
        """The whole reply of a chat completion.

        Raises:
            ResponseFormatRefused: the server does not support the body's ``response_format``.
            ProviderError: the call failed, or the reply is not a usable chat completion.
        """
        response = await self._chat_response(body, call=call, stage=stage, stream=False)
        try:
            reply = parse_completion(response, provider=self.provider, call=call)
        except ProviderError as error:
            error.stage = stage
            raise
        return reply

    async def chat_stream(self, body: dict[str, Any], *, call: str, stage: str) -> ChatStream:
        """Start a streamed chat completion; the returned stream owns the open response.

        Raises:
            ResponseFormatRefused: the server does not support the body's ``response_format``.
            ProviderError: the call failed.
        """
        response = await self._chat_response(
            {**body, "stream": True}, call=call, stage=stage, stream=True
        )
        return ChatStream(response, provider=self.provider, call=call, stage=stage)

    async def speech(self, body: dict[str, Any], *, call: str) -> bytes:
        """The audio bytes of ``POST /audio/speech``.

        Raises:
            ProviderError: the call failed, or the answer held no audio.
        """
        response = await self.post("audio/speech", body, call=call, stage="tts")
        if response.headers.get("content-type", "").startswith("application/json"):
            raise ProviderResponseError(
                f"{self.provider}: {call} answered with JSON instead of audio: "
                f"{response.text[:200]!r}",
                provider=self.provider,
                stage="tts",
            )
        if not response.content:
            raise ProviderResponseError(
                f"{self.provider}: {call} sent no audio.", provider=self.provider, stage="tts"
            )
        return response.content

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()


class OpenAIEndpointProvider(Provider):
    """What the ``openai`` and ``openai-tts`` providers share: one :class:`OpenAIClient`."""

    client: OpenAIClient

    def _connect(
        self,
        config: EndpointConfig,
        *,
        timeout_s: float,
        retry: RetryPolicy,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.client = OpenAIClient(
            config, provider=self.name, timeout_s=timeout_s, retry=retry, transport=transport
        )

    @property
    def config(self) -> EndpointConfig:
        """The endpoint: ``base_url``, ``api_key``, ``model``."""
        return self.client.config

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call."""
        return self.client.retry

    def __repr__(self) -> str:
        config = self.config
        return f"{type(self).__name__}(base_url={config.base_url!r}, model={config.model!r})"

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.client.aclose()
