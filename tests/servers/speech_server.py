"""A local OpenAI-compatible ``/v1/audio/speech`` server that counts the calls in flight.

It answers like the real endpoint (validation errors as OpenAI's JSON errors) after a set
latency, with WAV audio whose length follows the word count. It records how many requests
it is serving at once, and the peak, so a test can check a limit held across every process
that called it.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from ._base import serve_app

__all__ = ["SpeechServer", "running_speech_server"]

WORDS_PER_SECOND = 2.5
SAMPLE_RATE = 8000


def speech_wav(words: int) -> bytes:
    """Silent 16-bit mono WAV lasting ``words / WORDS_PER_SECOND`` seconds (at least 0.5 s)."""
    frames = round(max(0.5, words / WORDS_PER_SECOND) * SAMPLE_RATE)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(bytes(frames * 2))
    return out.getvalue()


class SpeechServer:
    """The server's settings and what it saw."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self.base_url = ""
        self.latency_s = latency_s
        self.in_flight = 0
        self.peak_in_flight = 0
        self.calls = 0
        self.busy_s = 0.0
        """Seconds spent serving calls, summed over calls."""
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The API base URL, ending in ``/v1``."""
        return f"{self.base_url}/v1"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/audio/speech", self._speech)
        return app

    async def _speech(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            body = await request.json()
            for name in ("model", "input", "voice"):
                if not body.get(name):
                    return web.json_response(
                        {
                            "error": {
                                "message": f"Missing required parameter: '{name}'.",
                                "type": "invalid_request_error",
                                "param": name,
                                "code": None,
                            }
                        },
                        status=400,
                    )
            if body.get("response_format") != "wav":
                return web.json_response(
                    {
                        "error": {
                            "message": "This test server speaks WAV only.",
                            "type": "invalid_request_error",
                            "param": "response_format",
                            "code": None,
                        }
                    },
                    status=400,
                )
            await asyncio.sleep(self.latency_s)
            words = len(str(body["input"]).split())
            return web.Response(body=speech_wav(words), content_type="audio/wav")
        finally:
            with self._lock:
                self.in_flight -= 1
                self.busy_s += time.monotonic() - started


@contextmanager
def running_speech_server(latency_s: float = 0.0) -> Iterator[SpeechServer]:
    """Run a :class:`SpeechServer` on 127.0.0.1; ``server.url`` is its ``/v1`` base URL."""
    server = SpeechServer(latency_s)
    with serve_app(server.app()) as base_url:
        server.base_url = base_url
        yield server
