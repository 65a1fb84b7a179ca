"""Chaos soak: many decks through a fault layer in front of every local protocol server.

The servers are the test suite's protocol-faithful stand-ins, on 127.0.0.1: the OpenAI API
(chat completions and speech), Edge TTS (websocket) and the image search APIs. A fault layer
(``tests/servers/faults.py``) sits in front of each and answers ``--rate`` of the calls (20 %
by default) with one of: 429 with ``Retry-After``, 500 or 503, a connection reset, a stall
past the client's time limit, a truncated answer (an SSE stream with neither a
``finish_reason`` nor ``[DONE]``, a body cut short, Edge audio dropped), a websocket closed
mid-audio.

Every deck uses the real providers: the ``openai`` script provider (all slides in one stream,
missing ones written one by one), images from ``openverse`` then ``wikimedia``, narration from
``edge-tts`` then ``openai-tts``. Checked for every deck:

- it completes, with every slide present and in order; a slide with an error names its stage
  and provider, and the error of a chain names every member that failed;
- the narration track is as long as the sum of its slides' clips and pauses;
- no file is half-written: no temporary file is left, the PPTX is a whole ZIP, the narration
  and every clip decode (each clip as long as its slide says), every image opens.

Printed: calls and faults per server, retries by kind, request-shape step-downs, fallbacks
used, slides with errors, and the makespan against the same run with no faults. The video is
not rendered (the soak is about the providers; rendering has its own benchmark).

Run::

    python benchmarks/chaos_soak.py                # 30 decks x 8 slides, 20 % faults
    python benchmarks/chaos_soak.py --quick        # 3 decks x 4 slides
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import edge_tts
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the local servers live in the test suite
    sys.path.insert(0, str(ROOT))

from tests.servers.edge_server import EdgeServerState, client_urls, serve_edge  # noqa: E402
from tests.servers.faults import FaultPlan  # noqa: E402
from tests.servers.image_servers import BASE_PATHS, ImageServerState, serve_images  # noqa: E402
from tests.servers.openai_server import OpenAIServer, running_openai_server  # noqa: E402

import slidestream as ss  # noqa: E402
from slidestream._media import check_clip  # noqa: E402
from slidestream.providers import FallbackImages, FallbackTTS, Provider, RetryPolicy  # noqa: E402
from slidestream.providers.images import OpenverseImages, WikimediaImages  # noqa: E402
from slidestream.providers.script.openai import OpenAIScriptProvider  # noqa: E402
from slidestream.providers.tts.edge import EdgeTTSProvider  # noqa: E402
from slidestream.providers.tts.openai import OpenAITTSProvider  # noqa: E402
from slidestream.render._audio import MIN_PIECE_S, SILENT_SLIDE_S  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LIMIT_S = 2.0
"""Every client time limit in the soak (first token, silence, Edge request, image call)."""
RETRY = RetryPolicy(max_retries=4, initial_delay_s=0.05, max_delay_s=0.4, max_stall_retries=2)
"""Faults are drawn for retries too: a call may stall twice (an outline has no fallback)."""
PAUSE_S = 0.6


class _RetryLog(logging.Handler):
    """Counts the retry loop's records (one per retry) and the request-shape step-downs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.retries: Counter[str] = Counter()
        self.by_provider: Counter[str] = Counter()
        self.step_downs: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        failure = getattr(record, "failure", None)
        if failure is not None:
            status = getattr(record, "status_code", None)
            self.retries[f"{failure} {status}" if status else str(failure)] += 1
            self.by_provider[str(getattr(record, "provider", "?"))] += 1
        elif "asking with" in record.getMessage() or "kept failing" in record.getMessage():
            self.step_downs.append(record.getMessage())


@contextlib.contextmanager
def _servers(plan: FaultPlan | None) -> Iterator[tuple[OpenAIServer, str, str]]:
    """The three local services behind ``plan``: (OpenAI server, images base URL, Edge)."""
    edge_state = EdgeServerState(faults=plan)
    image_state = ImageServerState(faults=plan)
    saved = (edge_tts.communicate.WSS_URL, edge_tts.voices.VOICE_LIST)  # type: ignore[attr-defined]
    with (
        running_openai_server(faults=plan) as openai,
        serve_images(image_state) as images,
        serve_edge(edge_state) as (edge_url, _),
    ):
        wss_url, voice_list_url = client_urls(edge_url)
        edge_tts.communicate.WSS_URL = wss_url
        edge_tts.voices.VOICE_LIST = voice_list_url  # type: ignore[attr-defined]
        try:
            yield openai, images.base_url, edge_url
        finally:
            edge_tts.communicate.WSS_URL, edge_tts.voices.VOICE_LIST = saved  # type: ignore[attr-defined]


def _pipeline(openai: OpenAIServer, images_url: str, out: Path) -> ss.StreamingPipeline:
    limits = {"timeout_s": LIMIT_S, "first_token_timeout_s": LIMIT_S, "retry": RETRY}
    search = {"allow_private_addresses": True, "timeout_s": LIMIT_S, "retry": RETRY}
    return ss.StreamingPipeline(
        script_provider=OpenAIScriptProvider(base_url=openai.url, model="local", **limits),
        image_provider=FallbackImages(
            [
                OpenverseImages(base_url=images_url + BASE_PATHS["openverse"], **search),
                WikimediaImages(base_url=images_url + BASE_PATHS["wikimedia"], **search),
            ]
        ),
        tts_provider=FallbackTTS(
            [
                EdgeTTSProvider(timeout_s=LIMIT_S, retry=RETRY),
                OpenAITTSProvider(base_url=openai.url, model="tts-local", **limits),
            ]
        ),
        output_dir=out,
        render_options=ss.RenderOptions(video=False, pause_s=PAUSE_S),
    )


def _check_deck(deck: ss.DeckResult, slides: int) -> list[str]:
    """Everything wrong with a finished deck (empty when it is whole)."""
    problems: list[str] = []
    if [s.index for s in deck.slides] != list(range(slides)):
        problems.append(f"slides {[s.index for s in deck.slides]}, not 0..{slides - 1}")
    for slide in deck.slides:
        for error in slide.errors:
            if not error.provider or not error.message:
                problems.append(f"slide {slide.index}: an error without a name: {error}")
        if slide.audio_path is not None:
            _, measured = check_clip(slide.audio_path.read_bytes(), slide.audio_path.suffix[1:])
            if abs(measured - slide.duration_s) > 0.01:
                problems.append(
                    f"slide {slide.index}: clip {measured:.3f} s, says {slide.duration_s}"
                )
        for image in slide.images:
            if image.path is None:
                continue
            with Image.open(image.path) as opened:
                opened.load()
    project = deck.project_dir
    assert project is not None
    leftovers = [p.name for p in project.rglob("*") if p.name.endswith(".tmp")]
    if leftovers:
        problems.append(f"temporary files left: {leftovers}")
    if deck.pptx_path is None or zipfile.ZipFile(deck.pptx_path).testzip() is not None:
        problems.append("the PPTX is missing or not a whole ZIP")
    if deck.audio_path is None:
        problems.append("no narration track")
    else:
        _, track_s = check_clip(deck.audio_path.read_bytes(), "mp3")
        expected = _expected_track_s(deck)
        # MP3 frames and encoder padding: within two 24 ms frames over a whole track.
        if abs(track_s - expected) > 0.05:
            problems.append(f"narration {track_s:.3f} s, clips and pauses {expected:.3f} s")
    return problems


def _expected_track_s(deck: ss.DeckResult) -> float:
    total = 0.0
    for n, slide in enumerate(deck.slides):
        speech = slide.duration_s if slide.audio_path is not None else SILENT_SLIDE_S
        pause = PAUSE_S if n < len(deck.slides) - 1 else 0.0
        total += max(speech + pause, MIN_PIECE_S)
    return total


async def _run(args: argparse.Namespace, out: Path, rate: float) -> dict[str, Any]:
    plan = FaultPlan(rate=rate, seed=args.seed, stall_s=LIMIT_S + 1.0)
    log = _RetryLog()
    logger = logging.getLogger("slidestream.providers")
    logger.addHandler(log)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.propagate = False
    decks: list[ss.DeckResult | BaseException] = [RuntimeError("not run")] * args.decks
    try:
        with _servers(plan) as (openai, images_url, _):
            limiter = anyio.CapacityLimiter(args.concurrency)

            async def one(n: int) -> None:
                async with limiter:
                    pipeline = _pipeline(openai, images_url, out)
                    try:
                        decks[n] = await pipeline.run(
                            f"Tides and the Moon {n}", project=f"deck-{n:02d}", slides=args.slides
                        )
                    except Exception as error:
                        decks[n] = error
                    finally:
                        for provider in (
                            pipeline.script_provider,
                            pipeline.image_provider,
                            pipeline.tts_provider,
                        ):
                            if isinstance(provider, Provider):
                                await provider.aclose()

            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for n in range(args.decks):
                    group.start_soon(one, n)
            makespan = time.perf_counter() - started
            per_slide_writes = sum(
                "Write slide" in r.prompt for r in openai.of("/v1/chat/completions")
            )
    finally:
        logger.removeHandler(log)
        logger.setLevel(level)
        logger.propagate = True
    return _figures(args, plan, log, decks, makespan, per_slide_writes)


def _figures(
    args: argparse.Namespace,
    plan: FaultPlan,
    log: _RetryLog,
    decks: list[ss.DeckResult | BaseException],
    makespan: float,
    per_slide_writes: int,
) -> dict[str, Any]:
    finished = [d for d in decks if isinstance(d, ss.DeckResult)]
    failed = [f"{type(d).__name__}: {d}" for d in decks if not isinstance(d, ss.DeckResult)]
    problems = {d.request.project: p for d in finished if (p := _check_deck(d, args.slides))}
    slides = [s for d in finished for s in d.slides]
    errors = Counter(f"{e.stage}" for s in slides for e in s.errors)
    return {
        "decks": args.decks,
        "slides_per_deck": args.slides,
        "fault_rate": plan.rate,
        "seed": plan.seed,
        "decks_completed": len(finished),
        "decks_failed": failed,
        "deck_problems": problems,
        "calls": dict(sorted(plan.calls.items())),
        "total_calls": plan.total_calls,
        "faults": plan.by_kind(),
        "total_faults": sum(plan.faults.values()),
        "retries": dict(sorted(log.retries.items())),
        "total_retries": sum(log.retries.values()),
        "retries_by_provider": dict(sorted(log.by_provider.items())),
        "shape_step_downs": log.step_downs,
        "fallbacks": {
            "tts_by_openai_tts": sum(s.providers.get("tts") == "openai-tts" for s in slides),
            "images_by_wikimedia": sum(
                any("wikimedia.org" in (i.source_url or "") for i in s.images) for s in slides
            ),
            "scripts_written_one_by_one": per_slide_writes,
        },
        "slides": len(slides),
        "slides_with_errors": sum(not s.ok for s in slides),
        "errors_by_stage": dict(sorted(errors.items())),
        "makespan_s": round(makespan, 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decks", type=int, default=30)
    parser.add_argument("--slides", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.2, help="share of calls given a fault")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=5, help="decks at once")
    parser.add_argument("--quick", action="store_true", help="3 decks x 4 slides")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without faults")
    parser.add_argument("--out", type=Path, help="decks folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.decks, args.slides, args.concurrency = 3, 4, 3
    with contextlib.ExitStack() as stack:
        out = args.out or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        report = anyio.run(_run, args, out / "chaos", args.rate)
        if not args.no_baseline:
            baseline = anyio.run(_run, args, out / "calm", 0.0)
            report["baseline_makespan_s"] = baseline["makespan_s"]
            report["baseline_problems"] = baseline["deck_problems"] or baseline["decks_failed"]
    _print(report)
    target = args.json or (None if args.quick else RESULTS_DIR / "chaos_soak.json")
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(report, indent=2))
    return report


def _print(report: dict[str, Any]) -> None:
    print(
        f"Chaos soak: {report['decks']} decks x {report['slides_per_deck']} slides, "
        f"{report['fault_rate']:.0%} of calls faulted (seed {report['seed']})"
    )
    print(f"  decks completed      {report['decks_completed']}/{report['decks']}")
    print(f"  calls                {report['total_calls']}  {report['calls']}")
    print(f"  faults injected      {report['total_faults']}  {report['faults']}")
    print(f"  retries              {report['total_retries']}  {report['retries']}")
    print(f"  shape step-downs     {len(report['shape_step_downs'])}")
    print(f"  fallbacks used       {report['fallbacks']}")
    print(
        f"  slides with errors   {report['slides_with_errors']}/{report['slides']}  "
        f"{report['errors_by_stage']}"
    )
    baseline = report.get("baseline_makespan_s")
    against = f" (no faults: {baseline:.1f} s)" if baseline is not None else ""
    print(f"  makespan             {report['makespan_s']:.1f} s{against}")
    for deck, problems in report["deck_problems"].items():
        print(f"  PROBLEM {deck}: {problems}")
    for failure in report["decks_failed"]:
        print(f"  FAILED deck: {failure}")


if __name__ == "__main__":
    main()
