"""Benchmark: many decks submitted at once through the service, one TTS limit for all of them.

A real ``uvicorn`` server (in this process, so the test doubles' call recorder sees every
job) gets ``--decks`` POSTs of ``--slides`` slides at once; providers are slidestream's test
doubles set to the seed's stage costs (outline 7 s, scripts 2 s, images 1.2 s, TTS 5.4 s; see
``pipeline_benchmark.py``) times ``--scale``. Measured:

- peak TTS calls in flight across all jobs (must never exceed ``--tts-limit``);
- makespan (first POST to the last deck's ``deck`` event) against the bound
  ``total TTS work / limit`` (the TTS service is the bottleneck all decks share);
- per job: time from its POST to its first SSE event, and to its first playable HLS segment
  (the ``preview`` event: the segment is in the playlist).

Run::

    python benchmarks/service_benchmark.py                  # 10 decks x 8 slides, scale 0.2
    python benchmarks/service_benchmark.py --quick          # 3 decks x 3 slides, tiny scale
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import uvicorn

from slidestream.providers import register
from slidestream.server import ServerConfig, create_app
from slidestream.testing import (
    CallRecorder,
    FakeImageProvider,
    FakeStreamingScriptProvider,
    FakeTTSProvider,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SEED = {"outline_s": 7.0, "script_s": 2.0, "images_s": 1.2, "tts_s": 5.4}


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children (ffmpeg...)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _register(recorder: CallRecorder, scale: float, words: int) -> None:
    costs = {name: seconds * scale for name, seconds in SEED.items()}
    register(
        "bench-script",
        lambda: FakeStreamingScriptProvider(
            outline_latency=costs["outline_s"],
            script_latency=costs["script_s"],
            words_per_slide=words,
            recorder=recorder,
        ),
    )
    register(
        "bench-images",
        lambda: FakeImageProvider(latency=costs["images_s"], size=(640, 360), recorder=recorder),
    )
    register("bench-tts", lambda: FakeTTSProvider(latency=costs["tts_s"], recorder=recorder))


async def _job(http: httpx.AsyncClient, slides: int, n: int, t0: float) -> dict[str, Any]:
    posted = time.perf_counter()
    response = await http.post("/v1/decks", json={"topic": f"Deck {n}", "slides": slides,
                                                  "video": False})  # fmt: skip
    response.raise_for_status()
    job = response.json()
    first_event = first_preview = done = None
    kind = ""
    async with http.stream("GET", job["links"]["events"], timeout=None) as events:
        async for line in events.aiter_lines():
            if not line.startswith("event:"):
                continue
            now = time.perf_counter()
            kind = line.partition(":")[2].strip()
            first_event = first_event or now
            if kind == "preview":
                first_preview = first_preview or now
            if kind in ("deck", "failed"):
                done = now
                break
    if first_event is None or done is None:
        raise RuntimeError(f"job {job['id']}: the event stream ended early")
    return {
        "id": job["id"],
        "outcome": kind,
        "first_event_s": first_event - posted,
        "first_segment_s": None if first_preview is None else first_preview - posted,
        "done_s": done - t0,
    }


async def run(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    recorder = CallRecorder()
    _register(recorder, args.scale, args.words)
    config = ServerConfig(
        output_dir=out,
        script_providers=("bench-script",),
        image_providers=("bench-images",),
        tts_providers=("bench-tts",),
        max_decks=args.decks,
        max_queue=args.decks,
        max_concurrent_scripts=args.script_limit or args.decks,
        max_concurrent_images=5,
        max_concurrent_tts=args.tts_limit,
        live_preview=not args.no_live,
    )
    port = _port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    results: list[dict[str, Any]] = []
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(server.serve)
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await anyio.sleep(0.02)
        limits = httpx.Limits(max_connections=4 * args.decks)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as http:
            t0 = time.perf_counter()
            loop_t0 = anyio.current_time()
            cpu0 = _cpu_s()

            async def one(n: int) -> None:
                results.append(await _job(http, args.slides, n, t0))

            async with anyio.create_task_group() as jobs:
                for n in range(args.decks):
                    jobs.start_soon(one, n)
            makespan = max(r["done_s"] for r in results)
            cpu_s = _cpu_s() - cpu0
            limits = (await http.get("/v1/limits")).json()["limits"]
        server.should_exit = True
    tts_s = SEED["tts_s"] * args.scale
    bound = args.decks * args.slides * tts_s / args.tts_limit
    tts_calls = recorder.of("tts")
    tts_end = max(call.end or call.start for call in tts_calls) - loop_t0
    tts_busy = sum((call.end or call.start) - call.start for call in tts_calls)
    firsts = [r["first_event_s"] for r in results]
    segments = [r["first_segment_s"] for r in results if r["first_segment_s"] is not None]
    return {
        "decks": args.decks,
        "slides": args.slides,
        "scale": args.scale,
        "tts_limit": args.tts_limit,
        "words_per_slide": args.words,
        "outcomes": sorted(r["outcome"] for r in results),
        "peak_tts_in_flight": recorder.max_in_flight["tts"],
        "tts_calls": len(recorder.of("tts")),
        "makespan_s": makespan,
        "tts_bound_s": bound,
        "makespan_over_bound": makespan / bound,
        "deck_done_s": {
            "first": min(r["done_s"] for r in results),
            "median": statistics.median(r["done_s"] for r in results),
        },
        "cpu_s": cpu_s,
        "cpu_per_wall_s": cpu_s / makespan,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "last_tts_end_s": tts_end,
        "tts_utilisation": tts_busy / (tts_end * args.tts_limit),
        "after_last_tts_s": makespan - tts_end,
        "limits": {item["service"]: item for item in limits},
        "first_event_s": {"median": statistics.median(firsts), "max": max(firsts)},
        "first_segment_s": {
            "median": statistics.median(segments) if segments else None,
            "max": max(segments) if segments else None,
        },
        "jobs": sorted(results, key=lambda r: r["done_s"]),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decks", type=int, default=10)
    parser.add_argument("--slides", type=int, default=8)
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--tts-limit", type=int, default=3)
    parser.add_argument(
        "--script-limit",
        type=int,
        help="script calls in flight, all decks together (default: one per deck, so the "
        "shared TTS service is the bottleneck)",
    )
    parser.add_argument(
        "--no-live", action="store_true", help="no live HLS preview (no first segment figure)"
    )
    parser.add_argument("--words", type=int, default=20, help="narration words per slide")
    parser.add_argument("--quick", action="store_true", help="3 decks x 3 slides, scale 0.01")
    parser.add_argument("--out", type=Path, help="decks folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.decks, args.slides, args.scale, args.words = 3, 3, 0.01, 6
    saved = os.environ.get("SLIDESTREAM_NO_CACHE")
    os.environ["SLIDESTREAM_NO_CACHE"] = "1"  # every deck computes everything
    try:
        with tempfile.TemporaryDirectory() as scratch:
            report = anyio.run(run, args, args.out or Path(scratch))
    finally:
        if saved is None:
            os.environ.pop("SLIDESTREAM_NO_CACHE", None)
        else:
            os.environ["SLIDESTREAM_NO_CACHE"] = saved
    print(
        f"{args.decks} decks x {args.slides} slides at scale {args.scale}: "
        f"makespan {report['makespan_s']:.2f} s, bound {report['tts_bound_s']:.2f} s "
        f"(x{report['makespan_over_bound']:.2f}); last TTS call ended at "
        f"{report['last_tts_end_s']:.2f} s (TTS busy {report['tts_utilisation']:.0%} of the "
        f"limit until then), {report['after_last_tts_s']:.2f} s after it; peak TTS in flight "
        f"{report['peak_tts_in_flight']} (limit {args.tts_limit}); first SSE event median "
        f"{report['first_event_s']['median'] * 1000:.0f} ms, max "
        f"{report['first_event_s']['max'] * 1000:.0f} ms; first HLS segment median "
        f"{report['first_segment_s']['median'] or 0:.2f} s, max "
        f"{report['first_segment_s']['max'] or 0:.2f} s; decks done: first "
        f"{report['deck_done_s']['first']:.2f} s, median {report['deck_done_s']['median']:.2f} s; "
        f"CPU {report['cpu_s']:.1f} s ({report['cpu_per_wall_s']:.2f} of {report['cpus']} "
        f"cores; load average {report['load_average'][0]:.1f})"
    )
    target = args.json or (None if args.quick else RESULTS_DIR / "service.json")
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(report, indent=2))
        print(f"results: {target}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
