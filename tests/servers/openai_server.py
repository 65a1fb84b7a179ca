"""A local stand-in for the OpenAI API speaking its real wire format (from the public API docs).

- ``POST /v1/chat/completions``: a ``chat.completion`` JSON object, or with ``"stream": true``
  a ``text/event-stream`` of ``data: {chat.completion.chunk}`` events (the role in the first
  delta, content deltas, a last chunk with ``finish_reason``, a usage chunk with empty
  ``choices`` when ``stream_options.include_usage`` is set, then ``data: [DONE]``).
- ``POST /v1/audio/speech``: the audio bytes (real MP3 made with ffmpeg, or WAV).
- Errors use OpenAI's body: ``{"error": {"message", "type", "param", "code"}}``.

Tests script its behaviour: the replies (content, chunk size, finish reason, gates that hold
the stream until the test releases them), rejected ``response_format`` types, queued failures
(429 with ``Retry-After``, 500 storms), the expected API key; every request is recorded.
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
from typing import Any

import imageio_ffmpeg
from aiohttp import web

from tests.servers._base import serve_app

__all__ = [
    "Failure",
    "Gate",
    "OpenAIServer",
    "Recorded",
    "Reply",
    "deck_model",
    "make_mp3",
    "make_wav",
    "running_openai_server",
]


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
class Reply:
    """One scripted chat completion: content parts (text or gates) and how to send them."""

    parts: list[str | Gate]
    finish_reason: str = "stop"
    chunk_size: int | None = None

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
    """A deterministic stand-in model: outline, all slides or one slide, from the prompt."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
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
    topic = re.search(r"Topic: (.+)", prompt)
    name = topic.group(1).strip() if topic else "the topic"
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
        self.chunk_size = 7
        self.ignore_stream = False
        self.speech_duration_s = 1.5
        self.requests: list[Recorded] = []
        self.disconnects = 0
        """Streamed replies the client closed before their end."""
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The API base URL, ending in ``/v1`` as the OpenAI clients expect."""
        return f"{self.base_url}/v1"

    def of(self, path: str) -> list[Recorded]:
        """The requests to ``path`` (e.g. ``"/v1/chat/completions"``)."""
        return [r for r in self.requests if r.path == path]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/speech", self._speech)
        return app

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

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._common(request)
        if refused is not None:
            return refused
        if not body.get("model") or not isinstance(body.get("messages"), list):
            return _error(400, "'model' and 'messages' are required.", "invalid_request_error")
        kind = (body.get("response_format") or {}).get("type")
        if kind in self.reject_formats:
            return _error(
                400,
                f"Invalid parameter: 'response_format' of type '{kind}' is not supported "
                "with this model.",
                "invalid_request_error",
                param="response_format",
            )
        with self._lock:
            reply = self.replies.popleft() if self.replies else None
        if reply is None:
            reply = Reply.text(self.model(body))
        if body.get("stream") and not self.ignore_stream:
            return await self._stream(request, body, reply)
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
                    "message": {"role": "assistant", "content": content, "refusal": None},
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
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        await response.prepare(request)
        created = int(time.time())

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
            size = reply.chunk_size or self.chunk_size
            for position, part in enumerate(reply.parts):
                following = reply.parts[position + 1] if position + 1 < len(reply.parts) else None
                if isinstance(following, Gate):
                    # Mark the gate before the bytes that precede it go out: once the client has
                    # them, it may check the gate, and must find it reached.
                    following.reached.set()
                if isinstance(part, Gate):
                    part.reached.set()
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(None, part.released.wait, part.timeout_s)
                    continue
                for start in range(0, len(part), size):
                    await send(chunk({"content": part[start : start + size]}))
            await send(chunk({}, reply.finish_reason))
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {**chunk({}), "choices": [], "usage": _usage(body, reply.content)}
                await send(usage)
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:  # the client closed the stream early, as it may
            with self._lock:
                self.disconnects += 1
        return response

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
        audio_format = body.get("response_format", "mp3")
        if audio_format == "wav":
            return web.Response(body=make_wav(self.speech_duration_s), content_type="audio/wav")
        if audio_format != "mp3":
            return _error(
                400, f"Unsupported response_format {audio_format!r} here.", "invalid_request_error"
            )
        return web.Response(body=make_mp3(self.speech_duration_s), content_type="audio/mpeg")


def _usage(body: dict[str, Any], content: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(content.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@contextmanager
def running_openai_server() -> Iterator[OpenAIServer]:
    """Run an :class:`OpenAIServer` on 127.0.0.1; ``server.url`` is its ``/v1`` base URL."""
    server = OpenAIServer()
    with serve_app(server.app()) as base_url:
        server.base_url = base_url
        yield server
