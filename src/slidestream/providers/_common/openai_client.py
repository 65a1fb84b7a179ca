"""The HTTP client of an OpenAI-compatible endpoint, shared by the ``openai`` providers.

One :class:`OpenAIClient` holds what reaching an endpoint takes: its base URL, key and headers,
one connection pool, the time limits and the retry policy. Every call is streamed, so the time
limits bound silence, never the length of an answer (:mod:`.sse`):

- ``POST /chat/completions``: :meth:`OpenAIClient.chat` reads the whole streamed reply inside
  each attempt (a reply that breaks off is asked for again); :meth:`OpenAIClient.chat_stream`
  returns a :class:`ChatStream` of the text deltas, which owns the HTTP response until it is
  closed (as openai-python's ``AsyncStream`` does);
- ``POST /audio/speech``: :meth:`OpenAIClient.speech` returns the audio bytes.

What servers send inside a stream is read as they send it: OpenAI's ``{"error": ...}`` chunk,
vLLM's ``{"object": "error"}`` chunk, llama.cpp's ``error:`` line and ``event: error`` all end
the answer with the server's own message; ``delta.refusal`` is a refusal; a stream that ends
with neither a ``finish_reason`` nor ``[DONE]`` was cut off.

A request whose optional fields the server refuses (see :mod:`.chat_shape`) raises
:class:`ShapeRefused`, so the caller can ask again with fewer of them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Literal, NamedTuple, TypeVar

import anyio
import httpx

from ..._constants import DEFAULT_CONNECT_TIMEOUT_S
from ..._exceptions import ProviderError, ProviderResponseError
from ..._limits import ServiceKey
from .._protocols import Provider
from .chat_shape import error_info, refused_field
from .http import ENDPOINT_HINTS, body_text, create_client, refusal, snippet
from .openai_config import EndpointConfig
from .retry import (
    Failure,
    RetryableFailure,
    RetryPolicy,
    call_with_retries,
    final_error,
    is_retryable_status,
    retry_after_s,
)
from .sse import SilenceWatch, Silent, StreamTimeouts, read_events, split_lines, timed

__all__ = [
    "ChatReply",
    "ChatStream",
    "OpenAIClient",
    "OpenAIEndpointProvider",
    "ShapeRefused",
    "TimeoutHints",
]

T = TypeVar("T")

_SERVER_ERROR_TYPES = ("server_error", "internal_error", "overloaded_error", "api_error")


class ShapeRefused(ProviderResponseError):
    """The server refused an optional field of the request.

    Attributes:
        field: the field (``"response_format"``, ``"max_tokens"``, ...), or ``""`` when the
            refusal named none.
        body: the request body (without ``"stream"``) that was refused.
    """

    def __init__(self, message: str, *, field: str, body: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field
        self.body = {k: v for k, v in body.items() if k != "stream"}


class ChatReply(NamedTuple):
    """A whole chat completion: the text and why the model stopped (``"length"``: cut off)."""

    content: str
    finish_reason: str | None


class TimeoutHints(NamedTuple):
    """How a user raises each time limit, for the error message of a call that hit it."""

    first_token: str = ""
    silence: str = ""


NO_HINTS = TimeoutHints()


def _streamed(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "stream": True}


def _failure(error: BaseException) -> RetryableFailure:
    """A failure inside an answer, described for the retry loop."""
    if isinstance(error, RetryableFailure):
        return error
    if isinstance(error, Silent):
        return RetryableFailure(str(error), kind=Failure.STALL)
    if isinstance(error, httpx.TimeoutException):
        return RetryableFailure(type(error).__name__, kind=Failure.TIMEOUT)
    if isinstance(error, httpx.ConnectError):  # nothing answered: no stream to break
        try:
            where = f" at {error.request.url}"
        except RuntimeError:  # raised without its request
            where = ""
        return RetryableFailure(
            f"nothing answered{where} ({error}): is the server running, and is its base URL right?",
            kind=Failure.CONNECTION,
        )
    return RetryableFailure(
        f"broke mid-stream: {type(error).__name__}: {error}", kind=Failure.CONNECTION
    )


def _error_event(data: Any) -> RetryableFailure:
    """An error the server reported inside a stream, with its own message."""
    info = error_info(data if isinstance(data, (str, Mapping)) else str(data))
    status = info.status
    server_side = status is None and (info.type or "").lower() in _SERVER_ERROR_TYPES
    return RetryableFailure(
        f"the server reported an error mid-stream: {info.message}",
        kind=Failure.STATUS if status is not None else Failure.RESPONSE,
        status_code=status,
        retryable=(status is not None and is_retryable_status(status)) or server_side,
    )


class ChatStream:
    """The text deltas of one streamed chat completion, as they arrive.

    It owns the HTTP response: iterate it, then close it with :meth:`aclose` (or leave
    ``async with``). :attr:`finish_reason` is set once the model says why it stopped.
    Iterating raises :class:`ProviderError` when the answer fails part-way (the server's
    error, a refusal, a cut, too long a silence).
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        provider: str,
        call: str,
        stage: str | None,
        watch: SilenceWatch,
    ) -> None:
        self.response = response
        self.finish_reason: str | None = None
        self.refusal = ""
        self._provider, self._call, self._stage = provider, call, stage
        self._watch = watch
        self._deltas: AsyncGenerator[str, None] = self._read()

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> str:
        try:
            return await self._deltas.__anext__()
        except (RetryableFailure, Silent, httpx.HTTPError) as error:
            failure = _failure(error)
            raise final_error(
                failure, provider=self._provider, call=self._call, stage=self._stage, attempts=1
            ) from (failure.__cause__ or error)

    async def collect(self) -> ChatReply:
        """The whole reply, for a caller inside the retry loop.

        Raises:
            RetryableFailure: the answer failed part-way (retryable when another attempt may
                help: a cut, a silence, a server error).
            Silent, httpx.HTTPError: as they come, for the caller to describe.
        """
        content = "".join([delta async for delta in self._deltas])
        if not content.strip():
            raise RetryableFailure("the reply was empty", kind=Failure.RESPONSE)
        return ChatReply(content, self.finish_reason)

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

    async def _read(self) -> AsyncGenerator[str, None]:
        response = self.response
        raw = response.aiter_text()
        texts = timed(raw, self._watch)
        try:
            # Servers label answers loosely (no type, text/plain, octet-stream, or events for
            # a whole completion): a body starting with "{" is one JSON completion.
            head = await _first_text(texts)
            declared = _answer_kind(response.headers.get("content-type", ""))
            if declared == "completion" or head.lstrip().startswith("{"):
                # The server ignored "stream": true and sends the whole completion at once.
                body = head + "".join([text async for text in texts])
                whole = parse_completion(
                    httpx.Response(
                        response.status_code,
                        headers={"content-type": "application/json; charset=utf-8"},
                        content=body.encode("utf-8"),
                    ),
                    provider=self._provider,
                    call=self._call,
                )
                self.finish_reason = whole.finish_reason
                yield whole.content
                return
            rest = _after(head, texts)
            contents = self._read_events(rest)
            try:
                async for content in contents:
                    yield content
            finally:
                await contents.aclose()
                await rest.aclose()
        finally:
            await texts.aclose()
            if isinstance(raw, AsyncGenerator):
                await raw.aclose()

    async def _read_events(self, texts: AsyncGenerator[str, None]) -> AsyncGenerator[str, None]:
        done = False
        lines = split_lines(texts)
        events = read_events(lines)
        try:
            async for event in events:
                # Read on to the end of the body after [DONE] (it ends right away), so every
                # httpx iterator is exhausted rather than left for the garbage collector.
                data = event.data.strip()
                if event.event == "error":
                    raise _error_event(data)
                done = done or data == "[DONE]"
                if done or not data:
                    continue
                for content in self._deltas_of(data):
                    yield content
        except Silent:
            if not done:  # a server that keeps the connection open after [DONE] is done
                raise
        finally:
            await events.aclose()
            await lines.aclose()
            await texts.aclose()
        self._check_end(done)

    def _deltas_of(self, data: str) -> list[str]:
        """The content deltas of one event; its refusal, reasoning and finish reason noted."""
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            chunk = None
        if not isinstance(chunk, dict):
            raise RetryableFailure(
                f"sent an event that is not a JSON object: {data[:200]!r}",
                kind=Failure.RESPONSE,
            )
        if "error" in chunk or chunk.get("object") == "error":
            raise _error_event(chunk)
        deltas = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            content, refused = delta.get("content"), delta.get("refusal")
            if isinstance(content, str) and content:
                deltas.append(content)
                self._watch.begin()
            if isinstance(refused, str) and refused:
                self.refusal += refused
                self._watch.begin()
            if delta.get("reasoning_content") or delta.get("reasoning"):
                self._watch.begin()  # a reasoning model thinking aloud is not silent
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        return deltas

    def _check_end(self, done: bool) -> None:
        if self.refusal:
            raise RetryableFailure(f"the model refused: {self.refusal}", kind=Failure.RESPONSE)
        if self.finish_reason == "content_filter":
            raise RetryableFailure(
                "the server's content filter stopped the answer", kind=Failure.RESPONSE
            )
        if not done and self.finish_reason is None:
            raise RetryableFailure(
                "the stream ended with neither a finish_reason nor [DONE]: the answer was cut off",
                kind=Failure.CONNECTION,
            )


def _answer_kind(content_type: str) -> Literal["events", "completion"] | None:
    """What a chat answer's ``Content-Type`` says it is (media types are case-insensitive):
    server-sent events, one JSON completion, or ``None`` when it does not say (no type,
    ``text/plain``, ``application/octet-stream``: some proxies and local servers send those)."""
    media = content_type.split(";")[0].strip().lower()
    if media == "text/event-stream":
        return "events"
    if media == "application/json" or media.endswith("+json"):
        return "completion"
    return None


async def _first_text(texts: AsyncIterator[str]) -> str:
    """The body's text up to its first chunk that is not blank (``""`` for a blank body)."""
    seen = []
    async for text in texts:
        seen.append(text)
        if text.strip():
            break
    return "".join(seen)


async def _after(head: str, texts: AsyncIterator[str]) -> AsyncGenerator[str, None]:
    """``head``, then the rest of ``texts``."""
    if head:
        yield head
    async for text in texts:
        yield text


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
        refused = message.get("refusal")
        reason = f"the model refused: {refused}" if refused else "the reply was empty"
        raise ProviderResponseError(f"{provider}: {call} failed: {reason}.", provider=provider)
    return ChatReply(str(content), choice.get("finish_reason"))


_METHOD_CHANGING_REDIRECTS = (301, 302, 303)


class _Moved(Exception):
    """A POST redirected with a status that makes httpx send it on as a GET."""

    def __init__(self, status: int, location: httpx.URL) -> None:
        super().__init__(f"{status} to {location}")
        self.status = status
        self.location = location

    def error(
        self, path: str, *, provider: str, call: str, stage: str | None
    ) -> ProviderResponseError:
        """The error for the user: where the endpoint moved, as a base URL to set."""
        where = str(self.location.copy_with(query=None, fragment=None))
        base = where.removesuffix("/" + path) if where.endswith("/" + path) else where
        return ProviderResponseError(
            f"{provider}: {call} was redirected with status {self.status} to {where}; a "
            f"redirected POST would be sent on as a GET, so it is not followed: set the base "
            f"URL to {base}.",
            provider=provider,
            stage=stage,
            status_code=self.status,
        )


async def _stop_method_changing_redirect(response: httpx.Response) -> None:
    """An httpx response hook: a 301, 302 or 303 answer to a POST raises :class:`_Moved`
    before httpx follows it with a GET (which the endpoint would refuse with a baffling 405).
    307 and 308 keep the method and body, and are followed."""
    request = response.request
    if (
        request.method == "POST"
        and response.status_code in _METHOD_CHANGING_REDIRECTS
        and "location" in response.headers
    ):
        raise _Moved(response.status_code, request.url.join(response.headers["location"]))


def _text_type(content_type: str) -> str | None:
    """``"JSON"``, ``"text/html"``, ...: how to name a ``Content-Type`` that is text, not audio
    (an error answered with status 200); ``None`` for anything else."""
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return "JSON"
    if media.startswith("text/"):
        return media
    return None


class OpenAIClient:
    """One OpenAI-compatible endpoint: its connection pool, headers, time limits and retries.

    Args:
        config: the endpoint (base URL, key, model).
        provider: the name errors carry (``"openai"``, ``"openai-tts"``).
        timeouts: how long an answer may take to begin, and the longest silence after that.
        retry: retries on 408/409/429/5xx, connection errors and (once) stalls.
        transport: an httpx transport (e.g. ``httpx.MockTransport``) instead of the network.
        hints: how the user raises each time limit, for error messages.
    """

    def __init__(
        self,
        config: EndpointConfig,
        *,
        provider: str,
        timeouts: StreamTimeouts,
        retry: RetryPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
        hints: TimeoutHints = NO_HINTS,
    ) -> None:
        self.config = config
        self.provider = provider
        self.retry = retry
        self.timeouts = timeouts
        self._hints = hints
        # Reads are timed per answer (SilenceWatch), not per socket read.
        timeout = httpx.Timeout(
            connect=DEFAULT_CONNECT_TIMEOUT_S, read=None, write=timeouts.silence_s, pool=None
        )
        self._http = create_client(
            base_url=config.base_url + "/",
            headers=config.headers,
            timeout=timeout,
            transport=transport,
        )
        self._http.event_hooks = {"response": [_stop_method_changing_redirect]}

    def _watch(self) -> SilenceWatch:
        return SilenceWatch(
            self.timeouts,
            first_token_hint=self._hints.first_token,
            silence_hint=self._hints.silence,
        )

    async def _exchange(
        self,
        path: str,
        body: dict[str, Any],
        read: Callable[[httpx.Response, SilenceWatch], Awaitable[T]],
        *,
        call: str,
        stage: str,
        shaped: bool = False,
        simpler: dict[str, Any] | None = None,
    ) -> tuple[T, bool]:
        """POST ``body`` and ``read`` the streamed answer, in one attempt of the retry loop.

        With ``shaped``, a refusal of an optional field raises :class:`ShapeRefused` at once.
        With ``simpler``, a server that answers 500 twice in a row while naming nothing gets
        the ``simpler`` body in the attempts left (some servers fail that way on a field they do
        not know). Returns the answer and whether it answered ``simpler``.
        """
        sent = body
        server_errors = 0

        async def attempt() -> T:
            nonlocal server_errors, sent
            watch = self._watch()
            request = self._http.build_request(
                "POST", path, json=sent, headers={"Accept": "text/event-stream"}
            )
            try:
                with anyio.move_on_after(watch.wait_s()) as scope:
                    response = await self._http.send(request, stream=True)
                if scope.cancelled_caught:
                    raise watch.silent()
                if response.is_success:
                    return await read(response, watch)
                status = response.status_code
                text = await body_text(response)
                if shaped:
                    self._check_shape(status, text, sent, call=call, stage=stage)
                server_errors = server_errors + 1 if status == 500 else 0
                if server_errors == 2 and simpler is not None and sent is body:
                    sent = simpler
                if not is_retryable_status(status):
                    raise self._refusal(status, text, call=call, stage=stage)
                raise RetryableFailure(
                    snippet(text),
                    kind=Failure.STATUS,
                    status_code=status,
                    retry_after_s=retry_after_s(response.headers),
                )
            except _Moved as moved:
                raise moved.error(path, provider=self.provider, call=call, stage=stage) from None
            except httpx.TooManyRedirects as error:
                raise ProviderResponseError(
                    f"{self.provider}: {call} was redirected more than "
                    f"{self._http.max_redirects} times ({error}); check the base URL.",
                    provider=self.provider,
                    stage=stage,
                ) from error
            except (Silent, httpx.TimeoutException, httpx.TransportError) as error:
                server_errors = 0
                raise _failure(error) from error

        value = await call_with_retries(
            attempt, policy=self.retry, provider=self.provider, call=call, stage=stage
        )
        return value, sent is not body

    def _refusal(self, status: int, text: str, *, call: str, stage: str) -> ProviderResponseError:
        """The error for a refused request, with what to check at an OpenAI-compatible
        endpoint (the API key, the base URL, the model)."""
        return refusal(
            status, text, provider=self.provider, call=call, stage=stage, hints=ENDPOINT_HINTS
        )

    def _check_shape(
        self, status: int, text: str, body: dict[str, Any], *, call: str, stage: str
    ) -> None:
        """Raise :class:`ShapeRefused` when the refusal is about an optional field."""
        if status not in (400, 422, 500, 501):
            return
        field = refused_field(status, error_info(text), body)
        if field is None:
            return
        raise ShapeRefused(
            str(self._refusal(status, text, call=call, stage=stage)),
            field=field,
            body=body,
            provider=self.provider,
            stage=stage,
            status_code=status,
        )

    async def chat(
        self,
        body: dict[str, Any],
        *,
        call: str,
        stage: str,
        simpler: dict[str, Any] | None = None,
    ) -> tuple[ChatReply, bool]:
        """The whole reply of a streamed chat completion, and whether ``simpler`` got it.

        Args:
            simpler: a body to try when the server keeps failing with 500 (see
                :meth:`_exchange`).

        Raises:
            ShapeRefused: the server refused an optional field of the body it was sent.
            ProviderError: the call failed, or the reply is not a usable chat completion.
        """

        async def read(response: httpx.Response, watch: SilenceWatch) -> ChatReply:
            stream = ChatStream(
                response, provider=self.provider, call=call, stage=stage, watch=watch
            )
            async with stream:
                return await stream.collect()

        try:
            return await self._exchange(
                "chat/completions",
                _streamed(body),
                read,
                call=call,
                stage=stage,
                shaped=True,
                simpler=None if simpler is None else _streamed(simpler),
            )
        except ProviderError as error:
            error.stage = stage
            raise

    async def chat_stream(
        self,
        body: dict[str, Any],
        *,
        call: str,
        stage: str,
        simpler: dict[str, Any] | None = None,
    ) -> tuple[ChatStream, bool]:
        """Start a streamed chat completion; the returned stream owns the open response.

        Returns the stream and whether it answers ``simpler`` (see :meth:`chat`).

        Raises:
            ShapeRefused: the server refused an optional field of the body it was sent.
            ProviderError: the call failed.
        """

        async def read(response: httpx.Response, watch: SilenceWatch) -> ChatStream:
            return ChatStream(response, provider=self.provider, call=call, stage=stage, watch=watch)

        return await self._exchange(
            "chat/completions",
            _streamed(body),
            read,
            call=call,
            stage=stage,
            shaped=True,
            simpler=None if simpler is None else _streamed(simpler),
        )

    async def speech(self, body: dict[str, Any], *, call: str) -> bytes:
        """The audio bytes of ``POST /audio/speech``, read as they arrive.

        Raises:
            ProviderError: the call failed, or the answer held no audio.
        """

        async def read(response: httpx.Response, watch: SilenceWatch) -> bytes:
            try:
                kind = _text_type(response.headers.get("content-type", ""))
                if kind is not None:
                    text = await body_text(response)
                    raise ProviderResponseError(
                        f"{self.provider}: {call} answered with {kind} instead of audio: "
                        f"{snippet(text)[:200]!r}",
                        provider=self.provider,
                        stage="tts",
                    )
                parts = []
                async for chunk in timed(response.aiter_bytes(), watch):
                    watch.begin()
                    parts.append(chunk)
            finally:
                await response.aclose()
            if not parts or not any(parts):
                raise ProviderResponseError(
                    f"{self.provider}: {call} sent no audio.", provider=self.provider, stage="tts"
                )
            return b"".join(parts)

        audio, _ = await self._exchange("audio/speech", body, read, call=call, stage="tts")
        return audio

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
        timeouts: StreamTimeouts,
        retry: RetryPolicy,
        transport: httpx.AsyncBaseTransport | None,
        hints: TimeoutHints = NO_HINTS,
    ) -> None:
        self.client = OpenAIClient(
            config,
            provider=self.name,
            timeouts=timeouts,
            retry=retry,
            transport=transport,
            hints=hints,
        )

    @property
    def config(self) -> EndpointConfig:
        """The endpoint: ``base_url``, ``api_key``, ``model``."""
        return self.client.config

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call."""
        return self.client.retry

    @property
    def limit_key(self) -> ServiceKey:
        """The server called, by base URL: providers of one kind calling one server share a
        limit (``openai@https://api.openai.com/v1``, ``openai-tts@http://127.0.0.1:8880/v1``)."""
        return ServiceKey.from_url(self.name, self.config.base_url)

    @property
    def timeouts(self) -> StreamTimeouts:
        """How long an answer may take to begin, and the longest silence after that."""
        return self.client.timeouts

    def __repr__(self) -> str:
        config = self.config
        return f"{type(self).__name__}(base_url={config.base_url!r}, model={config.model!r})"

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.client.aclose()
