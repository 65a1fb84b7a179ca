"""A local OpenAI-compatible ``/v1/audio/speech`` server that counts the calls in flight.

It answers like the real endpoint (validation errors as OpenAI's JSON errors) after a set
latency, with WAV audio whose length follows the word count. It records how many requests
it is serving at once, and the peak, so a test can check a limit held across every process
that called it. With ``throttle_above=N`` it refuses a call that would make more than ``N`` in
flight with 429, ``Retry-After`` and OpenAI's ``retry-after-ms``, as a rate-limited service
does (``throttled`` counts the refusals). ``GET /stats`` gives those figures as JSON (and
``POST /stats/reset`` zeroes the peak), for a server run in its own process::

    python -m tests.servers.speech_server --latency 0.27     # prints its base URL
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import sys
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

    def __init__(
        self, latency_s: float = 0.0, *, throttle_above: int | None = None, retry_ms: int = 50
    ) -> None:
        self.base_url = ""
        self.latency_s = latency_s
        self.throttle_above = throttle_above
        self.retry_ms = retry_ms
        self.throttled = 0
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
        app.router.add_get("/stats", self._stats)
        app.router.add_post("/stats/reset", self._reset)
        return app

    def stats(self) -> dict[str, float]:
        """Calls, the peak in flight and the seconds spent serving."""
        with self._lock:
            return {
                "calls": self.calls,
                "peak_in_flight": self.peak_in_flight,
                "busy_s": self.busy_s,
                "throttled": self.throttled,
            }

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _reset(self, request: web.Request) -> web.Response:
        with self._lock:
            self.peak_in_flight = self.in_flight
        return web.json_response(self.stats())

    async def _speech(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        with self._lock:
            if self.throttle_above is not None and self.in_flight >= self.throttle_above:
                self.throttled += 1
                return web.json_response(
                    {
                        "error": {
                            "message": "Rate limit reached for requests",
                            "type": "requests",
                            "param": None,
                            "code": "rate_limit_exceeded",
                        }
                    },
                    status=429,
                    headers={
                        "Retry-After": str(max(1, -(-self.retry_ms // 1000))),
                        "retry-after-ms": str(self.retry_ms),
                    },
                )
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
def running_speech_server(
    latency_s: float = 0.0, *, throttle_above: int | None = None, retry_ms: int = 50
) -> Iterator[SpeechServer]:
    """Run a :class:`SpeechServer` on 127.0.0.1; ``server.url`` is its ``/v1`` base URL."""
    server = SpeechServer(latency_s, throttle_above=throttle_above, retry_ms=retry_ms)
    with serve_app(server.app()) as base_url:
        server.base_url = base_url
        yield server


def main() -> None:
    """Serve until interrupted; the first line printed is the base URL."""
    parser = argparse.ArgumentParser(description="A counting OpenAI-protocol speech server.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per call")
    args = parser.parse_args()
    with running_speech_server(args.latency) as server:
        sys.stdout.write(server.base_url + "\n")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
