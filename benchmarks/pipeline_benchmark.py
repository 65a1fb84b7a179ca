"""Benchmark: sequential baseline vs the seed's streaming schedule vs slidestream vs lower bound.

The providers are slidestream's test doubles set to the seed's stage costs (outline 7 s, slide
scripts 2 s each, images 1.2 s, TTS 5.4 s with 3 calls at once), producing real PNG and WAV
outputs; ``--scale`` shrinks every provider latency (0.05 runs the 10-slide profile in seconds).
Local work (PPTX, frames, video) is real and not scaled; it is reported on its own line.

Each contender runs in its own process, so peak RSS is its own. Results are printed as a table
and written as JSON under ``benchmarks/results/`` (the script prints where)::

    python benchmarks/pipeline_benchmark.py                 # the 10-slide profile at full scale
    python benchmarks/pipeline_benchmark.py --scale 0.05 --sweeps --timeline docs/timeline.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Profile:
    """Stage costs in seconds at scale 1, and the limits they run under."""

    slides: int = 10
    outline_s: float = 7.0
    script_s: float = 2.0
    images_s: float = 1.2
    tts_s: float = 5.4
    streamed_scripts: bool = True
    script_limit: int = 4
    image_limit: int = 5
    tts_limit: int = 3
    words_per_slide: int = 75
    """At the test TTS's 2.5 words per second: 30 s of narration per slide, 5 minutes for 10."""

    def scaled(self, scale: float) -> Profile:
        return dataclasses.replace(
            self,
            outline_s=self.outline_s * scale,
            script_s=self.script_s * scale,
            images_s=self.images_s * scale,
            tts_s=self.tts_s * scale,
        )


# -- the critical-path lower bound ----------------------------------------------------------------


def _fifo(releases: list[float], duration: float, machines: int) -> list[float]:
    """End times of equal-length jobs on ``machines`` servers, earliest release first.

    For jobs of equal length this order gives the smallest possible makespan, so it is a bound.
    """
    free = [0.0] * machines
    ends = [0.0] * len(releases)
    for job in sorted(range(len(releases)), key=lambda j: releases[j]):
        slot = min(range(machines), key=lambda m: free[m])
        start = max(releases[job], free[slot])
        free[slot] = ends[job] = start + duration
    return ends


def lower_bound(profile: Profile) -> dict[str, float]:
    """The shortest possible makespan and first-slide time the model allows under its limits."""
    n = profile.slides
    if profile.streamed_scripts:
        scripts = [profile.outline_s + (k + 1) * profile.script_s for k in range(n)]
    else:
        scripts = _fifo([profile.outline_s] * n, profile.script_s, profile.script_limit)
    images = _fifo(scripts, profile.images_s, profile.image_limit)
    tts = _fifo(scripts, profile.tts_s, profile.tts_limit)
    done = [max(a, b) for a, b in zip(images, tts, strict=True)]
    return {"makespan_s": max(done), "first_slide_s": min(done)}


# -- one contender, in a worker process -----------------------------------------------------------


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    import anyio

    import slidestream as ss
    from slidestream.render import NullAssembler
    from slidestream.testing import (
        CallRecorder,
        FakeImageProvider,
        FakeScriptProvider,
        FakeStreamingScriptProvider,
        FakeTTSProvider,
    )

    profile = Profile(**spec["profile"])
    recorder = CallRecorder()
    script_class = FakeStreamingScriptProvider if profile.streamed_scripts else FakeScriptProvider
    contender = spec["contender"]
    pipeline_class = ss.SequentialPipeline if contender == "sequential" else ss.StreamingPipeline
    pipeline = pipeline_class(
        script_provider=script_class(
            slides=profile.slides,
            outline_latency=profile.outline_s,
            script_latency=profile.script_s,
            words_per_slide=profile.words_per_slide,
            recorder=recorder,
        ),
        image_provider=FakeImageProvider(
            latency=profile.images_s, size=(1600, 900), recorder=recorder
        ),
        tts_provider=FakeTTSProvider(latency=profile.tts_s, tone=True, recorder=recorder),
        max_concurrent_scripts=profile.script_limit,
        max_concurrent_images=profile.image_limit,
        max_concurrent_tts=profile.tts_limit,
        output_dir=spec["out"],
        assembler=None if spec["files"] else NullAssembler,
        progressive=contender != "seed",
        cache_dir=None,  # every contender computes everything
    )

    async def run() -> ss.DeckResult:
        return await pipeline.run("Benchmark deck", project=contender, slides=profile.slides)

    started = time.perf_counter()
    deck = anyio.run(run)
    wall = time.perf_counter() - started
    last_slide = max(slide.ready_s for slide in deck.slides)
    return {
        "contender": contender,
        "makespan_s": deck.timings["total"],
        "wall_s": wall,
        "first_slide_s": deck.timings["first_slide"],
        "last_slide_s": last_slide,
        "files_tail_s": deck.timings["total"] - last_slide,
        "assemble_s": deck.timings.get("assemble", 0.0),
        "peak_in_flight": dict(recorder.max_in_flight),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "files": sorted(deck.files),
        "spans": [span.to_dict() for span in deck.spans],
    }


def run_contender(contender: str, profile: Profile, *, files: bool, out: Path) -> dict[str, Any]:
    """Run one contender in a fresh Python process and return its measurements."""
    spec = {
        "contender": contender,
        "profile": dataclasses.asdict(profile),
        "files": files,
        "out": str(out),
    }
    result = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{contender} failed:\n{result.stderr}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


# -- the whole benchmark --------------------------------------------------------------------------


def _profile_case(profile: Profile, *, files: bool, out: Path) -> dict[str, Any]:
    runs = {
        name: run_contender(name, profile, files=files, out=out / name)
        for name in ("sequential", "seed", "slidestream")
    }
    bound = lower_bound(profile)
    ours = runs["slidestream"]
    first_slide_budget = profile.outline_s + profile.script_s + profile.tts_s
    return {
        "profile": dataclasses.asdict(profile),
        "runs": runs,
        "lower_bound": bound,
        "ratios": {
            "sequential_over_slidestream": runs["sequential"]["makespan_s"] / ours["makespan_s"],
            "seed_over_slidestream": runs["seed"]["makespan_s"] / ours["makespan_s"],
            "slidestream_over_bound": ours["makespan_s"] / bound["makespan_s"],
            "slidestream_slides_over_bound": ours["last_slide_s"] / bound["makespan_s"],
            "first_slide_over_budget": ours["first_slide_s"] / first_slide_budget,
        },
    }


def _sweeps(base: Profile, *, out: Path) -> dict[str, Any]:
    by_slides = []
    for slides in (5, 10, 20, 40):
        profile = dataclasses.replace(base, slides=slides)
        row = {"slides": slides, "lower_bound_s": lower_bound(profile)["makespan_s"]}
        for name in ("sequential", "slidestream"):
            row[f"{name}_s"] = run_contender(name, profile, files=False, out=out / f"n{slides}")[
                "makespan_s"
            ]
        by_slides.append(row)
    by_tts_limit = []
    for limit in range(1, 9):
        profile = dataclasses.replace(base, tts_limit=limit)
        run = run_contender("slidestream", profile, files=False, out=out / f"tts{limit}")
        by_tts_limit.append(
            {
                "max_concurrent_tts": limit,
                "slidestream_s": run["makespan_s"],
                "lower_bound_s": lower_bound(profile)["makespan_s"],
                "peak_tts_in_flight": run["peak_in_flight"].get("tts", 0),
            }
        )
    return {"by_slides": by_slides, "by_tts_limit": by_tts_limit}


def _table(title: str, case: dict[str, Any]) -> str:
    runs, bound, ratios = case["runs"], case["lower_bound"], case["ratios"]
    lines = [
        title,
        f"{'contender':<24}{'makespan':>10}{'1st slide':>11}{'files tail':>12}"
        f"{'peak in flight s/i/t':>22}{'RSS MB':>8}",
    ]
    labels = {
        "sequential": "(a) sequential baseline",
        "seed": "(b) seed streaming",
        "slidestream": "(c) slidestream",
    }
    for name, label in labels.items():
        run = runs[name]
        peak = run["peak_in_flight"]
        flight = f"{peak.get('script', 0)}/{peak.get('images', 0)}/{peak.get('tts', 0)}"
        lines.append(
            f"{label:<24}{run['makespan_s']:>9.2f}s{run['first_slide_s']:>10.2f}s"
            f"{run['files_tail_s']:>11.2f}s{flight:>22}{run['peak_rss_mb']:>8.0f}"
        )
    lines.append(
        f"{'(d) lower bound':<24}{bound['makespan_s']:>9.2f}s{bound['first_slide_s']:>10.2f}s"
    )
    lines.append(
        f"ratios: (a)/(c) = {ratios['sequential_over_slidestream']:.2f} (target >= 3.0)   "
        f"(b)/(c) = {ratios['seed_over_slidestream']:.2f}   "
        f"(c)/(d) = {ratios['slidestream_over_bound']:.3f} (target <= 1.15; slides only "
        f"{ratios['slidestream_slides_over_bound']:.3f})   first slide / (outline+script+tts) = "
        f"{ratios['first_slide_over_budget']:.2f} (target <= 1.2)"
    )
    lines.append(
        f"local work (not scaled): deck files finished {runs['slidestream']['files_tail_s']:.2f} s "
        f"after the last slide with slidestream, {runs['seed']['files_tail_s']:.2f} s with the "
        f"seed schedule, {runs['sequential']['files_tail_s']:.2f} s in the baseline"
    )
    return "\n".join(lines)


def _sweep_tables(sweeps: dict[str, Any]) -> str:
    lines = [
        "makespan by deck size (no deck files):",
        f"{'slides':>6}{'sequential':>12}{'slidestream':>13}{'bound':>9}{'ratio':>7}",
    ]
    for row in sweeps["by_slides"]:
        lines.append(
            f"{row['slides']:>6}{row['sequential_s']:>11.2f}s{row['slidestream_s']:>12.2f}s"
            f"{row['lower_bound_s']:>8.2f}s{row['sequential_s'] / row['slidestream_s']:>7.2f}"
        )
    lines += [
        "",
        "makespan by max_concurrent_tts (10 slides, no deck files):",
        f"{'limit':>6}{'slidestream':>13}{'bound':>9}{'peak':>6}",
    ]
    for row in sweeps["by_tts_limit"]:
        lines.append(
            f"{row['max_concurrent_tts']:>6}{row['slidestream_s']:>12.2f}s"
            f"{row['lower_bound_s']:>8.2f}s{row['peak_tts_in_flight']:>6}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns what it wrote to the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every latency")
    parser.add_argument("--slides", type=int, default=10)
    parser.add_argument("--no-files", action="store_true", help="skip PPTX/audio/video")
    parser.add_argument("--sweeps", action="store_true", help="also sweep deck size and TTS limit")
    parser.add_argument("--timeline", type=Path, help="draw a timeline PNG here")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="JSON output folder")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return {}

    base = Profile(slides=args.slides).scaled(args.scale)
    files = not args.no_files
    report: dict[str, Any] = {"scale": args.scale, "cpu_count": os.cpu_count(), "files": files}
    with tempfile.TemporaryDirectory(prefix="slidestream-bench-") as tmp:
        out = Path(tmp)
        report["streamed_scripts"] = _profile_case(base, files=files, out=out / "streamed")
        print(
            _table(
                f"Profile: {args.slides} slides, scripts streamed, scale {args.scale}",
                report["streamed_scripts"],
            )
        )
        print()
        per_slide = dataclasses.replace(base, streamed_scripts=False)
        report["per_slide_scripts"] = _profile_case(per_slide, files=files, out=out / "per-slide")
        print(
            _table(
                f"Profile: {args.slides} slides, per-slide script calls (4 at once), "
                f"scale {args.scale}",
                report["per_slide_scripts"],
            )
        )
        if args.sweeps:
            print()
            report["sweeps"] = _sweeps(base, out=out / "sweeps")
            print(_sweep_tables(report["sweeps"]))
    if args.timeline:
        from timeline import draw_timeline

        runs = report["streamed_scripts"]["runs"]
        draw_timeline(
            {"sequential baseline": runs["sequential"], "slidestream": runs["slidestream"]},
            args.timeline,
        )
        print(f"\ntimeline written to {args.timeline}")
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nresults written to {path}")
    report["path"] = str(path)
    return report


if __name__ == "__main__":
    main()
