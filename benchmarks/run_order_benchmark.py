"""Benchmark: many runs sharing one TTS limit, served in start order or by slide index only.

``--decks`` streaming runs of ``--slides`` slides start at once in one process and share one
:class:`slidestream.Limits` with a TTS limit of ``--tts-limit``; the TTS double takes
``--tts`` seconds a call and the deck files are not made (``NullAssembler``), so the shared
TTS service is all there is. Two orders, measured in the same run:

- ``start order``: the default; every run's first slide (and its outline) first, then the run
  that started first, by slide;
- ``slide index``: every run numbered 0 (a ``Limits`` whose ``next_run()`` is always 0), so
  waiting calls go by slide index alone and the runs advance in lockstep.

Printed per order: makespan against the bound ``total TTS work / limit``, when the first and
the median deck are done, and the median and last time to a run's first slide.

Run::

    python benchmarks/run_order_benchmark.py             # 10 decks x 8 slides, TTS 0.3 s, limit 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

import slidestream as ss
from slidestream.testing import FakeStreamingScriptProvider, FakeTTSProvider


class SlideIndexOnly(ss.Limits):
    """Limits that number every run 0: waiting calls go by slide index alone."""

    def next_run(self) -> int:
        """Always 0."""
        return 0


async def _decks(limits: ss.Limits, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    done: list[float] = []
    firsts: list[float] = []
    t0 = anyio.current_time()

    async def deck(n: int) -> None:
        pipeline = ss.StreamingPipeline(
            script_provider=FakeStreamingScriptProvider(
                slides=args.slides, outline_latency=0.3, script_latency=0.08
            ),
            tts_provider=FakeTTSProvider(latency=args.tts),
            output_dir=out,
            assembler=ss.render.NullAssembler,
            limits=limits,
            cache_dir=None,
        )
        first = None
        async with pipeline.stream(f"Deck {n}", project=f"deck-{n}") as events:
            async for event in events:
                if isinstance(event, ss.SlideResult) and first is None:
                    first = anyio.current_time() - t0
        done.append(anyio.current_time() - t0)
        firsts.append(first if first is not None else float("nan"))

    async with anyio.create_task_group() as task_group:
        for n in range(args.decks):
            task_group.start_soon(deck, n)
    bound = args.decks * args.slides * args.tts / args.tts_limit
    return {
        "makespan_s": max(done),
        "bound_s": bound,
        "makespan_over_bound": max(done) / bound,
        "first_deck_done_s": min(done),
        "median_deck_done_s": statistics.median(done),
        "first_slide_median_s": statistics.median(firsts),
        "first_slide_max_s": max(firsts),
    }


async def run(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for label, limits_class in (("start order", ss.Limits), ("slide index", SlideIndexOnly)):
            limits = limits_class(tts=args.tts_limit, scripts=args.decks)
            results[label] = await _decks(limits, args, Path(scratch) / label.replace(" ", "-"))
    return results


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decks", type=int, default=10)
    parser.add_argument("--slides", type=int, default=8)
    parser.add_argument("--tts", type=float, default=0.3, help="seconds per TTS call")
    parser.add_argument("--tts-limit", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="3 decks x 3 slides, TTS 0.02 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.decks, args.slides, args.tts = 3, 3, 0.02
    results = anyio.run(run, args)
    for label, figures in results.items():
        print(
            f"{label:>11}: makespan {figures['makespan_s']:.2f} s (bound "
            f"{figures['bound_s']:.2f} s, x{figures['makespan_over_bound']:.2f}); decks done: "
            f"first {figures['first_deck_done_s']:.2f} s, median "
            f"{figures['median_deck_done_s']:.2f} s; first slide: median "
            f"{figures['first_slide_median_s']:.2f} s, last {figures['first_slide_max_s']:.2f} s"
        )
    start, index = results["start order"], results["slide index"]
    print(
        f"start order / slide index: first deck done x"
        f"{start['first_deck_done_s'] / index['first_deck_done_s']:.2f}, median deck done x"
        f"{start['median_deck_done_s'] / index['median_deck_done_s']:.2f}, makespan x"
        f"{start['makespan_s'] / index['makespan_s']:.2f}"
    )
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
