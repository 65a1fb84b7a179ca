"""Benchmark: adaptive vs fixed limits against a throttling server, and one limit shared by decks.

**Throttling server.** A local OpenAI-compatible speech server (``POST /v1/audio/speech`` on
127.0.0.1) takes ``--work`` seconds per call and answers 429 with ``Retry-After`` (and
``retry-after-ms``) whenever ``--capacity`` calls are already running. The client does not
know the capacity. Each contender is one deck of ``--slides`` slides through a
:class:`ss.StreamingPipeline` (slides arrive at once, no deck files) with ``limits=`` one
:class:`ss.Limits`: fixed limits 1..2N, and an adaptive limit capped at 2N. The TTS provider
speaks the server's protocol with a provider's retry loop (up to 4 retries; on a refusal it
reports throttling and waits without its slot). Printed: makespan, 429s, retries, failed
slides, peak calls the server ran, and adaptive / best fixed.

**Shared limit.** ``--decks`` pipelines run a deck each at once in one process, with one
:class:`ss.Limits` whose TTS limit of 3 they share: peak TTS calls in flight across all decks
(counted by the TTS double) and makespan against the bound total TTS work / 3.

::

    python benchmarks/limits_benchmark.py            # full size (about half a minute)
    python benchmarks/limits_benchmark.py --quick    # tiny, for the test suite
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from aiohttp import web

import slidestream as ss
from slidestream.testing import CallRecorder, FakeStreamingScriptProvider, FakeTTSProvider

MAX_RETRIES = 4


# -- the throttling server ---------------------------------------------------------------------


@dataclass
class ServerState:
    """What the throttling server does and what it saw."""

    capacity: int
    work_s: float
    retry_after_s: float
    running: int = 0
    peak_running: int = 0
    served: int = 0
    refused: int = 0


def _silent_wav(duration_s: float = 0.2, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(round(duration_s * rate) * 2))
    return out.getvalue()


def _speech_app(state: ServerState) -> web.Application:
    audio = _silent_wav()

    async def speech(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not isinstance(body, dict) or not body.get("input"):
            error = {"message": "input is required", "type": "invalid_request_error"}
            return web.json_response({"error": error}, status=400)
        if state.running >= state.capacity:
            state.refused += 1
            error = {
                "message": "Rate limit reached: too many concurrent requests.",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
            headers = {
                "Retry-After": str(max(1, math.ceil(state.retry_after_s))),
                "retry-after-ms": str(round(state.retry_after_s * 1000)),
            }
            return web.json_response({"error": error}, status=429, headers=headers)
        state.running += 1
        state.peak_running = max(state.peak_running, state.running)
        try:
            await asyncio.sleep(state.work_s)
        finally:
            state.running -= 1
        state.served += 1
        return web.Response(body=audio, content_type="audio/wav")

    app = web.Application()
    app.router.add_post("/v1/audio/speech", speech)
    return app


@contextmanager
def serve(state: ServerState) -> Iterator[str]:
    """Run the speech server on a free loopback port in its own thread; yield its base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(_speech_app(state), shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(holder["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="throttling-server", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the throttling server did not start")
    try:
        yield f"http://127.0.0.1:{holder['port']}/v1"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


# -- the client: a TTS provider with a provider's retry loop -----------------------------------


@dataclass
class CallFigures:
    attempts: int = 0
    refusals: int = 0


def _retry_after(response: httpx.Response) -> float | None:
    millis = response.headers.get("retry-after-ms")
    if millis:
        return float(millis) / 1000
    value = response.headers.get("retry-after")
    return float(value) if value else None


class SpeechServerTTS:
    """A TTS provider for the ``/v1/audio/speech`` protocol with a provider's retry loop.

    Refusals (429, 503) are reported to the limit of the current slot with
    :func:`ss.report_throttled`, and the wait before a retry is made with
    :func:`ss.sleep_without_slot`. Its ``limit_key`` names the server by base URL, as the
    built-in OpenAI TTS provider's does.
    """

    name = "openai-tts"

    def __init__(self, base_url: str) -> None:
        self.limit_key = ss.ServiceKey.from_url("openai-tts", base_url)
        self.figures = CallFigures()
        self._client = httpx.AsyncClient(base_url=base_url, timeout=60)

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
        """The server's WAV clip, after up to ``MAX_RETRIES`` retries on refusals."""
        for attempt in range(MAX_RETRIES + 1):
            self.figures.attempts += 1
            response = await self._client.post(
                "/audio/speech",
                json={"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"},
            )
            if response.status_code not in (429, 503):
                response.raise_for_status()
                return ss.SpeechClip(audio=response.content, format="wav", duration_s=0.2)
            self.figures.refusals += 1
            if attempt == MAX_RETRIES:
                break
            retry_after = _retry_after(response)
            ss.report_throttled(retry_after)
            await ss.sleep_without_slot(retry_after if retry_after is not None else 0.5)
        raise ss.ProviderRateLimitError(
            f"still refused after {MAX_RETRIES} retries",
            provider=self.name,
            stage="tts",
            status_code=429,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def _pipeline(output_dir: Path, tts: Any, limits: ss.Limits, slides: int) -> ss.StreamingPipeline:
    """A streaming pipeline whose slides arrive at once and that writes no deck files."""
    return ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=slides),
        tts_provider=tts,
        output_dir=output_dir,
        assembler=ss.render.NullAssembler,  # the TTS calls are what is measured
        limits=limits,
    )


async def throttled_contender(
    base_url: str, limits: ss.Limits, slides: int, output_dir: Path
) -> dict[str, Any]:
    """One deck of ``slides`` slides through a :class:`StreamingPipeline` under ``limits``."""
    tts = SpeechServerTTS(base_url)
    pipeline = _pipeline(output_dir, tts, limits, slides)
    changes: list[ss.LimitChanged] = []
    start = time.perf_counter()
    try:
        async with pipeline.stream("Throttling", slides=slides) as events:
            async for event in events:
                if isinstance(event, ss.LimitChanged):
                    changes.append(event)
    finally:
        await tts.aclose()
    makespan = time.perf_counter() - start
    deck = events.deck
    assert deck is not None
    stats = limits.statistics(tts.limit_key)
    return {
        "makespan_s": makespan,
        "refusals": tts.figures.refusals,
        "retries": tts.figures.attempts - slides,
        "failed_slides": sum(1 for slide in deck.slides if slide.errors),
        "lowest_limit": stats.lowest_limit,
        "final_limit": stats.limit,
        "limit_changes": len(changes),
    }


def run_throttling(
    *, slides: int, capacity: int, work_s: float, retry_after_s: float
) -> dict[str, Any]:
    """Fixed limits 1..2N and an adaptive limit capped at 2N against one throttling server."""
    runs: dict[str, dict[str, Any]] = {}
    contenders = [(f"fixed {n}", n, False) for n in range(1, 2 * capacity + 1)]
    contenders.append((f"adaptive (cap {2 * capacity})", 2 * capacity, True))
    for label, limit, adaptive in contenders:
        state = ServerState(capacity=capacity, work_s=work_s, retry_after_s=retry_after_s)
        with serve(state) as base_url, tempfile.TemporaryDirectory() as output_dir:
            key = ss.ServiceKey.from_url("openai-tts", base_url)
            limits = ss.Limits(services={key: limit}, adaptive=adaptive)
            run = anyio.run(throttled_contender, base_url, limits, slides, Path(output_dir))
        run.update(server_peak=state.peak_running, limit=limit, adaptive=adaptive)
        runs[label] = run
    fixed = {label: run for label, run in runs.items() if not run["adaptive"]}
    complete = {label: run for label, run in fixed.items() if run["failed_slides"] == 0}
    best_label = min(complete, key=lambda label: complete[label]["makespan_s"])
    adaptive_run = next(run for run in runs.values() if run["adaptive"])
    return {
        "slides": slides,
        "capacity": capacity,
        "work_s": work_s,
        "retry_after_s": retry_after_s,
        "runs": runs,
        "bound_s": math.ceil(slides / capacity) * work_s,
        "best_fixed": best_label,
        "adaptive_over_best_fixed": adaptive_run["makespan_s"] / complete[best_label]["makespan_s"],
    }


# -- one limit shared by several decks ---------------------------------------------------------


async def _shared_decks(
    decks: int, slides: int, work_s: float, limit: int, output_dir: Path
) -> dict[str, Any]:
    recorder = CallRecorder()
    limits = ss.Limits(tts=limit)
    pipelines = [
        _pipeline(output_dir, FakeTTSProvider(latency=work_s, recorder=recorder), limits, slides)
        for _ in range(decks)
    ]
    results: list[ss.DeckResult] = []

    async def deck(pipeline: ss.StreamingPipeline, number: int) -> None:
        results.append(await pipeline.run("Shared", project=f"deck-{number}", slides=slides))

    start = time.perf_counter()
    async with anyio.create_task_group() as task_group:
        for number, pipeline in enumerate(pipelines):
            task_group.start_soon(deck, pipeline, number)
    makespan = time.perf_counter() - start
    bound = decks * slides * work_s / limit
    return {
        "decks": decks,
        "slides_per_deck": slides,
        "limit": limit,
        "work_s": work_s,
        "calls": len(recorder.of("tts")),
        "failed_slides": sum(1 for result in results for slide in result.slides if slide.errors),
        "peak_in_flight": recorder.max_in_flight["tts"],
        "limits_peak": limits.statistics("test-tts").peak_in_flight,
        "makespan_s": makespan,
        "bound_s": bound,
        "makespan_over_bound": makespan / bound,
    }


def run_shared(*, decks: int, slides: int, work_s: float, limit: int = 3) -> dict[str, Any]:
    """``decks`` pipelines at once in one event loop, one TTS limit shared by all."""
    with tempfile.TemporaryDirectory() as output_dir:
        return anyio.run(_shared_decks, decks, slides, work_s, limit, Path(output_dir))


# -- report ------------------------------------------------------------------------------------


def print_report(throttling: dict[str, Any], shared: dict[str, Any]) -> None:
    print(
        f"throttling server: {throttling['slides']} slides, capacity N={throttling['capacity']} "
        f"(unknown to the client), {throttling['work_s']:.2f} s per call, "
        f"Retry-After {throttling['retry_after_s']:.2f} s"
    )
    print(
        f"{'limit':<18}{'makespan':>10}{'429s':>7}{'retries':>9}{'failed':>8}"
        f"{'server peak':>13}{'lowest':>8}{'changes':>9}"
    )
    for label, run in throttling["runs"].items():
        print(
            f"{label:<18}{run['makespan_s']:>8.2f} s{run['refusals']:>7}{run['retries']:>9}"
            f"{run['failed_slides']:>8}{run['server_peak']:>13}{run['lowest_limit']:>8}"
            f"{run['limit_changes']:>9}"
        )
    print(f"bound (N calls at once, no refusals)  {throttling['bound_s']:.2f} s")
    print(
        f"adaptive / best fixed ({throttling['best_fixed']})  "
        f"{throttling['adaptive_over_best_fixed']:.3f}"
    )
    print()
    print(
        f"shared limit: {shared['decks']} decks x {shared['slides_per_deck']} slides at once, "
        f"one TTS limit of {shared['limit']}, {shared['work_s']:.2f} s per call"
    )
    print(f"peak TTS in flight across all decks  {shared['peak_in_flight']}")
    print(f"failed slides  {shared['failed_slides']}")
    print(f"makespan  {shared['makespan_s']:.2f} s")
    print(f"bound: total TTS work / {shared['limit']}  {shared['bound_s']:.2f} s")
    print(f"makespan / bound  {shared['makespan_over_bound']:.3f}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument("--slides", type=int, default=10)
    parser.add_argument("--capacity", type=int, default=3, help="N: calls the server accepts")
    parser.add_argument("--work", type=float, default=0.5, help="seconds per speech call")
    parser.add_argument("--retry-after", type=float, default=0.25)
    parser.add_argument("--decks", type=int, default=5)
    args = parser.parse_args(argv)
    if args.quick:
        args.slides, args.capacity, args.work, args.retry_after, args.decks = 6, 2, 0.04, 0.02, 3
    throttling = run_throttling(
        slides=args.slides,
        capacity=args.capacity,
        work_s=args.work,
        retry_after_s=args.retry_after,
    )
    shared = run_shared(decks=args.decks, slides=args.slides, work_s=args.work)
    print_report(throttling, shared)
    return {"throttling": throttling, "shared": shared}


if __name__ == "__main__":
    main()
