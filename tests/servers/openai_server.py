"""A local stand-in for the OpenAI API speaking its real wire format (from the public API docs).

- ``POST /v1/chat/completions``: a ``chat.completion`` JSON object, or with ``"stream": true``
  a ``text/event-stream`` of ``data: {chat.completion.chunk}`` events (the role in the first
  delta, content deltas, a last chunk with ``finish_reason``, a usage chunk with empty
  ``choices`` when ``stream_options.include_usage`` is set, then ``data: [DONE]``).
- ``POST /v1/audio/speech``: the audio bytes (real MP3 made with ffmpeg, or WAV). Like some
  local speech servers it can answer in one format whatever was asked (LocalAI and Coqui
  wrappers send WAV), stream WAV with 0xFFFFFFFF in its length fields (Kokoro-FastAPI,
  Orpheus-FastAPI), or answer 200 with a text or HTML error page.
- ``/old/v1/...``: redirected to ``/v1/...`` with ``moved_status`` (a base URL that moved);
  ``/loop/v1/...`` redirects to itself.
- Errors use OpenAI's body: ``{"error": {"message", "type", "param", "code"}}``.

Tests script its behaviour: the replies (content, chunk size, finish reason, gates that hold
the stream until the test releases them, pauses), rejected ``response_format`` types, queued
failures (429 with ``Retry-After``, 500 storms), the expected API key; every request is
recorded.

It also behaves as other real servers do, in their own wire format:

- slow servers: a pause before the response headers (Ollama loading a model), before the
  first token (a long prompt on a CPU), between chunks (slow inference), or a stall;
- errors inside a stream: OpenAI's ``data: {"error": ...}`` chunk, vLLM's top-level
  ``{"object": "error", ...}`` chunk (followed by ``[DONE]``), older llama.cpp's
  ``error: {...}`` line, and ``event: error``; a stream cut off with neither a
  ``finish_reason`` nor ``[DONE]``; a connection reset mid-stream;
- OpenAI's streamed refusal: ``delta.refusal`` pieces, then ``finish_reason: "stop"``;
- refusing ``response_format``: OpenAI's 400 naming it, a 400 "Extra inputs are not
  permitted" naming nothing, a 500 naming the schema, or a bare 500 "Internal Server Error";
- reasoning models: OpenAI's 400 ``unsupported_parameter`` for ``max_tokens`` and
  ``unsupported_value`` for a ``temperature`` other than 1;
- strict servers: FastAPI's 422 ``extra_forbidden`` for fields they do not know.

With a :class:`~tests.servers.faults.FaultPlan` the fault layer sits in front of both routes.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import re
import subprocess
import threading
import time
import wave
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import imageio_ffmpeg
from aiohttp import web

from tests.servers._base import serve_app
from tests.servers.faults import Fault, FaultPlan, fault_middleware, reset_connection

__all__ = [
    "Failure",
    "Gate",
    "OpenAIServer",
    "Pause",
    "Recorded",
    "Reply",
    "deck_model",
    "make_mp3",
    "make_wav",
    "running_openai_server",
]

ErrorStyle = Literal["openai", "vllm", "llama.cpp", "event"]
FormatRefusal = Literal["openai", "extra", "500", "500-bare"]
CHAT_FAULTS = frozenset(Fault) - {Fault.WS_CLOSE}
SPEECH_FAULTS = frozenset(Fault) - {Fault.WS_CLOSE}


class Gate:
    """A point in a streamed reply where the server waits until the test calls ``release()``."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()
        self.timeout_s = timeout_s

    def release(self) -> None:
        """Let the server send the rest of the reply."""
        self.released.set()


@dataclass
class Pause:
    """A point in a streamed reply where the server goes silent for ``seconds``."""

    seconds: float


@dataclass
class Reply:
    """One scripted chat completion: content parts (text, gates, pauses) and how to send them.

    Attributes:
        end: ``"done"`` (a chunk with the finish reason, then ``[DONE]``), ``"cut"`` (the
            body ends with neither), ``"reset"`` (the connection is reset), ``"no-done"``
            (the finish reason, but no ``[DONE]``, as some servers do).
        error: after the parts, report an error the way that server does.
        refusal: stream this as ``delta.refusal`` (OpenAI's refusal) instead of content.
        first_token_delay_s: silence after the role chunk, before the first content.
        chunk_delay_s: silence between content chunks.
    """

    parts: list[str | Gate | Pause]
    finish_reason: str = "stop"
    chunk_size: int | None = None
    end: Literal["done", "cut", "reset", "no-done"] = "done"
    error: ErrorStyle | None = None
    error_message: str = "The model crashed while generating."
    error_code: int = 500
    refusal: str | None = None
    first_token_delay_s: float = 0.0
    chunk_delay_s: float = 0.0

    @classmethod
    def text(cls, content: str, **options: Any) -> Reply:
        """A reply of one piece of text."""
        return cls([content], **options)

    @property
    def content(self) -> str:
        """The reply's whole text."""
        return "".join(part for part in self.parts if isinstance(part, str))


@dataclass
class Failure:
    """An error answer: status, headers and an OpenAI-style error body."""

    status: int
    message: str = "The server had an error while processing your request."
    headers: dict[str, str] = field(default_factory=dict)
    type: str = "server_error"
    code: str | None = None

    def response(self) -> web.Response:
        return _error(self.status, self.message, self.type, code=self.code, headers=self.headers)


@dataclass
class Recorded:
    """A request the server received."""

    at: float
    """``time.monotonic()`` on arrival."""
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def prompt(self) -> str:
        """Every message's content, joined."""
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


def _error(
    status: int,
    message: str,
    type_: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


@functools.cache
def make_mp3(duration_s: float = 1.5) -> bytes:
    """A real MP3 (a quiet 440 Hz tone, mono 24 kHz) made with imageio-ffmpeg's ffmpeg."""
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:duration={duration_s}",
        "-ac",
        "1",
        "-ar",
        "24000",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "48k",
        "-f",
        "mp3",
        "-",
    ]
    return subprocess.run(command, check=True, capture_output=True).stdout


def make_wav(duration_s: float = 1.5, rate: int = 24000) -> bytes:
    """Silent 16-bit mono WAV."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(round(duration_s * rate) * 2))
    return out.getvalue()


def _slide(number: int, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "bullets": [f"First point of slide {number}", f"Second point of slide {number}"],
        "narration": f"Slide {number} explains {title.lower()} in a few clear sentences.",
        "image_query": f"{title} illustration",
    }


def deck_model(body: dict[str, Any]) -> str:
    """A deterministic stand-in model: outline, its continuation, all slides or one slide."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    topic = re.search(r"Topic: (.+)", prompt)
    name = topic.group(1).strip() if topic else "the topic"
    if match := re.search(r"Plan slides (\d+) to (\d+)", prompt):
        first, last = int(match.group(1)), int(match.group(2))
        items = [
            {"title": f"Part {n} of {name}", "key_points": [f"Idea {n}"]}
            for n in range(first, last + 1)
        ]
        return json.dumps({"title": name, "slides": items}, ensure_ascii=False)
    titles = re.findall(r"^\d+\. (.+?)(?: \(.*\))?$", prompt, re.MULTILINE)
    if match := re.search(r"Write slide (\d+) of", prompt):
        number = int(match.group(1))
        title = titles[number - 1] if number <= len(titles) else f"Slide {number}"
        return json.dumps(_slide(number, title))
    if match := re.search(r"Write all (\d+) slides", prompt):
        count = int(match.group(1))
        slides = [
            _slide(n, titles[n - 1] if n <= len(titles) else f"Slide {n}")
            for n in range(1, count + 1)
        ]
        return json.dumps({"slides": slides}, ensure_ascii=False)
    match = re.search(r"exactly (\d+) slides", prompt)
    count = int(match.group(1)) if match else 3
    items = [
        {"title": f"Part {n} of {name}", "key_points": [f"Idea {n}"]} for n in range(1, count + 1)
    ]
    return json.dumps({"title": name, "slides": items}, ensure_ascii=False)


class OpenAIServer:
    """The server's behaviour and what it saw; change attributes between requests."""

    def __init__(self) -> None:
        self.base_url = ""
        self.api_key: str | None = None
        self.model: Callable[[dict[str, Any]], str] = deck_model
        self.replies: deque[Reply] = deque()
        self.failures: deque[Failure] = deque()
        self.always_fail: Failure | None = None
        self.reject_formats: set[str] = set()
        self.format_refusal: FormatRefusal = "openai"
        """How a rejected ``response_format`` is refused (see the module docstring)."""
        self.reasoning_model = False
        """Refuse ``max_tokens`` and a ``temperature`` other than 1, as OpenAI's o-series do."""
        self.forbid_fields: set[str] = set()
        """Refuse these body fields with FastAPI's 422 ``extra_forbidden``."""
        self.moved_status = 301
        """How ``/old/v1/...`` redirects to ``/v1/...``: 301, 302, 307 or 308."""
        self.headers_delay_s = 0.0
        """Wait this long before the response headers (a model still loading)."""
        self.chunk_size = 7
        self.ignore_stream = False
        self.answer_type: str | None = None
        """The ``Content-Type`` of chat answers, streamed or whole, instead of the right one
        (``text/event-stream``, ``application/json``), as some proxies and local servers send."""
        self.speech_duration_s = 1.5
        self.speech_delay_s = 0.0
        self.speech_answer: Literal["asked", "mp3", "wav", "streamed-wav", "html"] = "asked"
        """``"asked"``: the format the request names; ``"mp3"``/``"wav"``: that format whatever
        was asked (with a matching ``Content-Type``); ``"streamed-wav"``: WAV whose RIFF and
        data lengths are 0xFFFFFFFF, sent in pieces; ``"html"``: 200 with an HTML error page."""
        self.requests: list[Recorded] = []
        self.disconnects = 0
        """Streamed replies the client closed before their end."""
        self.faults: FaultPlan | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The API base URL, ending in ``/v1`` as the OpenAI clients expect."""
        return f"{self.base_url}/v1"

    def of(self, path: str) -> list[Recorded]:
        """The requests to ``path`` (e.g. ``"/v1/chat/completions"``)."""
        return [r for r in self.requests if r.path == path]

    def app(self) -> web.Application:
        app = web.Application(middlewares=self._middlewares())
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_route("*", "/old/v1/{tail:.*}", self._moved)
        app.router.add_route("*", "/loop/v1/{tail:.*}", self._loop)
        return app

    async def _loop(self, request: web.Request) -> web.Response:
        """``/loop/v1/...`` redirects to itself (a misconfigured proxy)."""
        return web.Response(status=307, headers={"Location": request.path})

    async def _moved(self, request: web.Request) -> web.Response:
        """``/old/v1/...`` has moved to ``/v1/...`` (as an http-to-https or path redirect does),
        with the status ``moved_status``."""
        location = "/v1/" + request.match_info["tail"]
        return web.Response(status=self.moved_status, headers={"Location": location})

    def _middlewares(self) -> list[Any]:
        plan = self.faults
        if plan is None:
            return []

        def error_body(status: int, headers: dict[str, str]) -> web.Response:
            if status == 429:
                return _error(429, "Rate limit reached for requests", "requests", headers=headers)
            return _error(status, "The server is overloaded or not ready yet.", "server_error")

        @web.middleware
        async def by_route(request: web.Request, handler: Any) -> web.StreamResponse:
            kinds = CHAT_FAULTS if request.path.endswith("/chat/completions") else SPEECH_FAULTS
            name = "openai-chat" if request.path.endswith("/chat/completions") else "openai-speech"
            inner = fault_middleware(plan, name, kinds, error_body)
            response: web.StreamResponse = await inner(request, handler)
            return response

        return [by_route]

    async def _common(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return {}, _error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        with self._lock:
            self.requests.append(
                Recorded(time.monotonic(), request.path, dict(request.headers), body)
            )
            failure = self.failures.popleft() if self.failures else self.always_fail
        if failure is not None:
            return body, failure.response()
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return body, _error(
                401, "Incorrect API key provided.", "invalid_request_error", code="invalid_api_key"
            )
        return body, None

    def _refusal(self, body: dict[str, Any]) -> web.Response | None:
        """The answer of a server that does not take this request's shape, if it does not."""
        for name in sorted(self.forbid_fields):
            if name in body:  # FastAPI with extra="forbid"
                detail = {
                    "type": "extra_forbidden",
                    "loc": ["body", name],
                    "msg": "Extra inputs are not permitted",
                    "input": body[name],
                }
                return web.json_response({"detail": [detail]}, status=422)
        if self.reasoning_model and "max_tokens" in body:
            return _error(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "invalid_request_error",
                param="max_tokens",
                code="unsupported_parameter",
            )
        if self.reasoning_model and body.get("temperature", 1) != 1:
            return _error(
                400,
                f"Unsupported value: 'temperature' does not support {body['temperature']} with "
                "this model. Only the default (1) value is supported.",
                "invalid_request_error",
                param="temperature",
                code="unsupported_value",
            )
        kind = (body.get("response_format") or {}).get("type")
        if kind not in self.reject_formats:
            return None
        if self.format_refusal == "extra":
            return _error(400, "Extra inputs are not permitted", "BadRequestError")
        if self.format_refusal == "500":
            return web.json_response(
                {
                    "error": {
                        "code": 500,
                        "message": f"Unsupported response_format type: {kind}; JSON schema "
                        "conversion failed",
                        "type": "server_error",
                    }
                },
                status=500,
            )
        if self.format_refusal == "500-bare":
            return web.Response(status=500, text="Internal Server Error")
        return _error(
            400,
            f"Invalid parameter: 'response_format' of type '{kind}' is not supported "
            "with this model.",
            "invalid_request_error",
            param="response_format",
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._common(request)
        if refused is not None:
            return refused
        if not body.get("model") or not isinstance(body.get("messages"), list):
            return _error(400, "'model' and 'messages' are required.", "invalid_request_error")
        refused = self._refusal(body)
        if refused is not None:
            return refused
        with self._lock:
            reply = self.replies.popleft() if self.replies else None
        if reply is None:
            reply = Reply.text(self.model(body))
        if self.headers_delay_s:
            await asyncio.sleep(self.headers_delay_s)
        if body.get("stream") and not self.ignore_stream:
            return await self._stream(request, body, reply)
        if self.answer_type is not None:
            text = json.dumps(self._completion(body, reply))
            return web.Response(text=text, headers={"Content-Type": self.answer_type})
        return web.json_response(self._completion(body, reply))

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content = reply.content
        return {
            "id": "chatcmpl-local1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_local",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None if reply.refusal else content,
                        "refusal": reply.refusal,
                    },
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": _usage(body, content),
        }

    async def _stream(
        self, request: web.Request, body: dict[str, Any], reply: Reply
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": self.answer_type or "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        await response.prepare(request)
        created = int(time.time())
        truncate = request.get("fault") is Fault.TRUNCATE

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-local1",
                "object": "chat.completion.chunk",
                "created": created,
                "model": body["model"],
                "system_fingerprint": "fp_local",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }

        async def send(data: dict[str, Any]) -> None:
            await response.write(
                b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"
            )

        try:
            await send(chunk({"role": "assistant", "content": "", "refusal": None}))
            if reply.first_token_delay_s:
                await asyncio.sleep(reply.first_token_delay_s)
            size = reply.chunk_size or self.chunk_size
            key = "refusal" if reply.refusal else "content"
            parts: list[str | Gate | Pause] = [reply.refusal] if reply.refusal else reply.parts
            if truncate:  # the fault layer cuts this stream in the middle
                parts = [reply.content[: len(reply.content) // 2]]
            for position, part in enumerate(parts):
                following = parts[position + 1] if position + 1 < len(parts) else None
                if isinstance(following, Gate):
                    # Mark the gate before the bytes that precede it go out: once the client has
                    # them, it may check the gate, and must find it reached.
                    following.reached.set()
                if isinstance(part, Gate):
                    part.reached.set()
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(None, part.released.wait, part.timeout_s)
                    continue
                if isinstance(part, Pause):
                    await asyncio.sleep(part.seconds)
                    continue
                for start in range(0, len(part), size):
                    if start and reply.chunk_delay_s:
                        await asyncio.sleep(reply.chunk_delay_s)
                    await send(chunk({key: part[start : start + size]}))
            if truncate or reply.end == "cut":
                await response.write_eof()
                return response
            if reply.end == "reset":
                reset_connection(request)
                return response
            if reply.error is not None:
                await self._send_error(response, reply)
                return response
            await send(chunk({}, reply.finish_reason))
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {**chunk({}), "choices": [], "usage": _usage(body, reply.content)}
                await send(usage)
            if reply.end == "done":
                await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:  # the client closed the stream early, as it may
            with self._lock:
                self.disconnects += 1
        return response

    async def _send_error(self, response: web.StreamResponse, reply: Reply) -> None:
        """Report an error mid-stream the way ``reply.error`` says that server does."""
        message, code = reply.error_message, reply.error_code
        if reply.error == "openai":
            error = {"message": message, "type": "server_error", "param": None, "code": None}
            await response.write(b"data: " + json.dumps({"error": error}).encode() + b"\n\n")
        elif reply.error == "vllm":  # the ErrorResponse model, then [DONE]
            error = {
                "object": "error",
                "message": message,
                "type": "BadRequestError" if code < 500 else "InternalServerError",
                "param": None,
                "code": code,
            }
            await response.write(b"data: " + json.dumps(error).encode() + b"\n\n")
            await response.write(b"data: [DONE]\n\n")
        elif reply.error == "llama.cpp":  # server_sent_event(sink, "error", ...)
            error = {"code": code, "message": message, "type": "server_error"}
            await response.write(b"error: " + json.dumps(error).encode() + b"\n\n")
        else:
            error = {"message": message, "type": "server_error", "code": code}
            await response.write(
                b"event: error\ndata: " + json.dumps({"error": error}).encode() + b"\n\n"
            )
        await response.write_eof()

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._common(request)
        if refused is not None:
            return refused
        for name in ("model", "input", "voice"):
            if not body.get(name):
                return _error(
                    400,
                    f"Missing required parameter: '{name}'.",
                    "invalid_request_error",
                    param=name,
                )
        if len(body["input"]) > 4096:
            return _error(
                400,
                "[{'type': 'string_too_long', 'loc': ('body', 'input'), "
                "'msg': 'String should have at most 4096 characters'}]",
                "invalid_request_error",
            )
        if self.speech_delay_s:
            await asyncio.sleep(self.speech_delay_s)
        audio_format = body.get("response_format", "mp3")
        if self.speech_answer == "html":
            return web.Response(
                text="<html><body><h1>Voice not loaded</h1></body></html>",
                content_type="text/html",
            )
        if self.speech_answer == "streamed-wav":
            return await _stream_wav(request, make_wav(self.speech_duration_s))
        if self.speech_answer != "asked":
            audio_format = self.speech_answer
        if audio_format == "wav":
            return web.Response(body=make_wav(self.speech_duration_s), content_type="audio/wav")
        if audio_format != "mp3":
            return _error(
                400, f"Unsupported response_format {audio_format!r} here.", "invalid_request_error"
            )
        return web.Response(body=make_mp3(self.speech_duration_s), content_type="audio/mpeg")


async def _stream_wav(request: web.Request, wav: bytes) -> web.StreamResponse:
    """``wav`` as a streaming speech server sends it: the header is written before the length
    is known, so its RIFF and data lengths are 0xFFFFFFFF, and the samples follow in pieces."""
    header, samples = bytearray(wav[:44]), wav[44:]
    header[4:8] = header[40:44] = b"\xff\xff\xff\xff"
    response = web.StreamResponse(headers={"Content-Type": "audio/wav"})
    await response.prepare(request)
    await response.write(bytes(header))
    for start in range(0, len(samples), 4800):
        await response.write(samples[start : start + 4800])
    await response.write_eof()
    return response


def _usage(body: dict[str, Any], content: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(content.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@contextmanager
def running_openai_server(faults: FaultPlan | None = None) -> Iterator[OpenAIServer]:
    """Run an :class:`OpenAIServer` on 127.0.0.1; ``server.url`` is its ``/v1`` base URL.

    With ``faults``, the fault layer answers a share of the calls.
    """
    server = OpenAIServer()
    server.faults = faults
    with serve_app(server.app()) as base_url:
        server.base_url = base_url
        yield server
