"""Benchmark: many decks in one process vs on a local Dask cluster, under one TTS limit.

Each deck has the seed's stage costs (outline 7 s, slide scripts 2 s each streamed, images
1.2 s, TTS 5.4 s; see ``pipeline_benchmark.py``), scaled by ``--scale``. Scripts and images
come from slidestream's test doubles; narration from the ``openai-tts`` provider talking to a
local OpenAI-protocol speech server on 127.0.0.1, in a process of its own, that takes the TTS
latency per call and counts the calls in flight from every process, so the peak it reports is
the real one.

The TTS limit (3 by default) holds across the whole batch, so no schedule can beat the total
TTS work divided by the limit: that is the bound each makespan is compared with (target
<= 1.15x). The cluster contender runs the same decks on a local cluster of worker processes
with the same number of decks at once in total; what it costs beyond the one-process run
(starting the cluster, shipping tasks and results) is its overhead::

    python benchmarks/batch_benchmark.py                  # 20 decks of 10 slides, scale 0.05
    python benchmarks/batch_benchmark.py --decks 40 --scale 0.02 --workers 4
    python benchmarks/batch_benchmark.py --quick          # a few seconds, as the tests run it
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
sys.path[:0] = [str(Path(__file__).resolve().parent), str(ROOT)]

from pipeline_benchmark import Profile  # noqa: E402

import slidestream as ss  # noqa: E402
from slidestream.providers.tts.openai import OpenAITTSProvider  # noqa: E402
from slidestream.testing import FakeImageProvider, FakeStreamingScriptProvider  # noqa: E402

NO_FILES = ss.RenderOptions(pptx=False, audio=False, subtitles=False, video=False)


@dataclass
class SpeechService:
    """The speech server running in its own process."""

    base_url: str

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1"

    def stats(self) -> dict[str, float]:
        figures: dict[str, float] = httpx.get(f"{self.base_url}/stats").json()
        return figures

    def reset_peak(self) -> None:
        httpx.post(f"{self.base_url}/stats/reset")


@contextlib.contextmanager
def speech_service(latency_s: float) -> Iterator[SpeechService]:
    """Start ``tests/servers/speech_server.py`` in a process of its own."""
    command = [sys.executable, "-m", "tests.servers.speech_server", "--latency", str(latency_s)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        if not base_url.startswith("http://"):
            raise RuntimeError("the speech server did not start")
        yield SpeechService(base_url)
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def tts_bound(profile: Profile, decks: int) -> float:
    """Total TTS work over the TTS limit: no schedule under that limit can finish sooner."""
    return decks * profile.slides * profile.tts_s / profile.tts_limit


async def run_batch(
    profile: Profile,
    *,
    decks: int,
    out: Path,
    server: SpeechService,
    decks_at_once: int,
    workers: int | None,
    files: bool,
) -> dict[str, Any]:
    """Make ``decks`` decks once; returns the measured figures."""
    started: list[float] = []
    finished: list[float] = []

    def on_event(event: ss.BatchEvent) -> None:
        if event.kind is ss.BatchEventKind.STARTED:
            started.append(time.perf_counter())
        elif event.result is not None:
            finished.append(time.perf_counter())

    before = server.stats()
    server.reset_peak()
    begin = time.perf_counter()
    results = await ss.batch(
        [f"Benchmark deck {n + 1}" for n in range(decks)],
        script_provider=functools.partial(
            FakeStreamingScriptProvider,
            slides=profile.slides,
            outline_latency=profile.outline_s,
            script_latency=profile.script_s,
            words_per_slide=profile.words_per_slide,
        ),
        image_provider=functools.partial(
            FakeImageProvider, latency=profile.images_s, size=(320, 180)
        ),
        tts_provider=functools.partial(
            OpenAITTSProvider, base_url=server.url, api_key="benchmark", response_format="wav"
        ),
        max_concurrent_scripts=profile.script_limit,
        max_concurrent_images=profile.image_limit,
        max_concurrent_tts=profile.tts_limit,
        decks_at_once=decks_at_once,
        output_dir=out,
        render_options=None if files else NO_FILES,
        video=False,
        workers=workers,
        cache_dir=None,  # every run makes every narration: nothing comes from a cache
        on_event=on_event,
    )
    wall = time.perf_counter() - begin
    failed = [r.error for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} decks failed: {failed[:3]}")
    makespan = max(finished) - min(started)
    bound = tts_bound(profile, decks)
    after = server.stats()
    served = (after["busy_s"] - before["busy_s"]) / profile.tts_limit
    return {
        "workers": workers,
        "decks_at_once": decks_at_once,
        "wall_s": wall,
        "startup_s": min(started) - begin,
        "makespan_s": makespan,
        "bound_s": bound,
        "makespan_over_bound": makespan / bound,
        "served_bound_s": served,
        "makespan_over_served_bound": makespan / served,
        "mean_deck_s": sum(r.seconds for r in results) / len(results),
        "peak_tts_in_flight": after["peak_in_flight"],
        "tts_calls": after["calls"] - before["calls"],
        "retried_decks": sum(r.attempts > 1 for r in results),
    }


def _table(report: dict[str, Any]) -> str:
    profile, runs = report["profile"], report["runs"]
    lines = [
        f"{report['decks']} decks x {profile['slides']} slides, scale {report['scale']}, "
        f"TTS limit {profile['tts_limit']} across the batch, {report['cpu_count']} CPUs; "
        f"bound (TTS work / limit) {runs['one process']['bound_s']:.2f} s",
        f"{'contender':<28}{'wall':>9}{'startup':>9}{'makespan':>10}{'/bound':>8}"
        f"{'/served':>9}{'peak TTS':>10}{'calls':>7}",
    ]
    for name, run in runs.items():
        lines.append(
            f"{name:<28}{run['wall_s']:>8.2f}s{run['startup_s']:>8.2f}s{run['makespan_s']:>9.2f}s"
            f"{run['makespan_over_bound']:>8.3f}{run['makespan_over_served_bound']:>9.3f}"
            f"{run['peak_tts_in_flight']:>10}{run['tts_calls']:>7}"
        )
    overhead = report["cluster_overhead"]
    lines.append(
        f"cluster overhead: {overhead['wall_s']:+.2f} s wall ({overhead['startup_s']:+.2f} s "
        f"of it before the first deck starts), {overhead['makespan_s']:+.2f} s makespan "
        "(target: makespan <= 1.15 x bound for both)"
    )
    lines.append(
        "/served: over the TTS time the server actually spent / limit (its latency plus its "
        f"own overhead); load average {report['load_average'][0]:.1f} before, "
        f"{report['load_average'][1]:.1f} after"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns what it wrote to the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decks", type=int, default=20)
    parser.add_argument("--slides", type=int, default=10)
    parser.add_argument("--scale", type=float, default=0.05, help="multiply every latency")
    parser.add_argument("--workers", type=int, default=2, help="local cluster workers")
    parser.add_argument("--decks-at-once", type=int, default=6, help="in total, both ways")
    parser.add_argument("--files", action="store_true", help="also write PPTX, MP3, subtitles")
    parser.add_argument("--quick", action="store_true", help="3 decks of 2 slides, scale 0.01")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="JSON output folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.decks, args.slides, args.scale = 3, 2, 0.01
    profile = dataclasses.replace(Profile(slides=args.slides).scaled(args.scale))
    at_once = max(args.decks_at_once, args.workers)
    report: dict[str, Any] = {
        "decks": args.decks,
        "scale": args.scale,
        "cpu_count": os.cpu_count(),
        "files": args.files,
        "profile": dataclasses.asdict(profile),
        "runs": {},
    }
    load_before = os.getloadavg()[0]
    with (
        speech_service(profile.tts_s) as server,
        tempfile.TemporaryDirectory(prefix="slidestream-batch-bench-") as tmp,
    ):
        contenders = {
            "one process": (None, at_once),
            f"local cluster, {args.workers} workers": (args.workers, at_once // args.workers),
        }
        for name, (workers, per) in contenders.items():
            report["runs"][name] = anyio.run(
                functools.partial(
                    run_batch,
                    profile,
                    decks=args.decks,
                    out=Path(tmp) / name.replace(" ", "-").replace(",", ""),
                    server=server,
                    decks_at_once=per,
                    workers=workers,
                    files=args.files,
                )
            )
    report["load_average"] = [load_before, os.getloadavg()[0]]
    one, cluster = report["runs"].values()
    report["cluster_overhead"] = {
        key: cluster[key] - one[key] for key in ("wall_s", "startup_s", "makespan_s")
    }
    print(_table(report))
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"batch-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nresults written to {path}")
    report["path"] = str(path)
    return report


if __name__ == "__main__":
    main()
