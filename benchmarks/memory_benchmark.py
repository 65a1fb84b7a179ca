"""Benchmark: peak memory of the offline job against deck length.

The offline main job (``slidestream make DECK.md --script markdown --images generated --tts piper``,
every deck file including the MP4) runs on the example deck (8 slides) and on the same deck
with its slides repeated to 32 slides, each in a fresh Python process. Printed per size: the
peak resident memory of the slidestream process (``ru_maxrss``), the peak of the process and
its ffmpeg children together (sampled every 20 ms from ``/proc``, Linux only), the wall time,
and the growth in MB per added slide between the two sizes.

::

    python benchmarks/memory_benchmark.py                  # 8 and 32 slides (a few minutes)
    python benchmarks/memory_benchmark.py --sizes 8 16 32
    python benchmarks/memory_benchmark.py --quick          # 2 and 4 slides, test TTS, no video
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "how-vaccines-work.md"
SAMPLE_S = 0.02


# -- the decks -----------------------------------------------------------------------------------


def make_deck(source: Path, slides: int, folder: Path) -> Path:
    """A copy of ``source`` with exactly ``slides`` slides: its ``## `` sections repeated in
    order (titles of repeats numbered), with its ``images/`` folder beside it."""
    text = source.read_text(encoding="utf-8")
    first = re.search(r"^## ", text, flags=re.MULTILINE)
    if first is None:
        raise SystemExit(f"{source} has no '## ' slides")
    head, body = text[: first.start()], text[first.start() :]
    sections = ["## " + part for part in re.split(r"^## ", body, flags=re.MULTILINE) if part]
    picked = []
    for number in range(slides):
        section = sections[number % len(sections)]
        repeat = number // len(sections)
        if repeat:
            title, rest = section.split("\n", 1)
            section = f"{title} ({repeat + 1})\n{rest}"
        picked.append(section.rstrip("\n") + "\n\n")
    folder.mkdir(parents=True, exist_ok=True)
    deck = folder / f"{source.stem}-{slides}.md"
    deck.write_text(head + "".join(picked), encoding="utf-8")
    images = source.parent / "images"
    if images.is_dir() and not (folder / "images").exists():
        shutil.copytree(images, folder / "images")
    return deck


# -- one run, in its own process -------------------------------------------------------------


def _status_kb(pid: int | str, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                for child in children.read().split():
                    found.append(int(child))
                    found.extend(_descendants(int(child)))
        except OSError:
            continue
    return found


class TreeSampler:
    """Samples the resident memory of this process and its children (Linux ``/proc``)."""

    def __init__(self) -> None:
        self.available = os.path.isdir("/proc/self/task")
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self.available:
            self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        name = _comm(me)
        while not self._stop.wait(SAMPLE_S):
            total = _status_kb(me, "VmRSS")
            for child in _descendants(me):
                # A child between fork and exec still shows this process's pages: skip it.
                if _comm(child) != name:
                    total += _status_kb(child, "VmRSS")
            self.peak_kb = max(self.peak_kb, total)


def run_child(deck: Path, out: Path, quick: bool) -> dict[str, Any]:
    """Make ``deck`` with the command-line tool in this process; its memory figures."""
    from slidestream.cli import main as slidestream

    argv = ["make", str(deck), "--out", str(out), "--script", "markdown", "--images", "generated"]
    argv.append("--no-cache")  # every run computes everything
    argv += ["--tts", "test-tts", "--no-video"] if quick else ["--tts", "piper"]
    start = time.perf_counter()
    printed = io.StringIO()
    with TreeSampler() as sampler, contextlib.redirect_stdout(printed):
        code = slidestream(argv)
    if code != 0:
        raise SystemExit(f"slidestream failed ({code}):\n{printed.getvalue()[-2000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there, kilobytes on Linux
        peak_kb //= 1024
    return {
        "peak_rss_mb": peak_kb / 1024,
        "peak_tree_mb": sampler.peak_kb / 1024 if sampler.available else None,
        "wall_s": time.perf_counter() - start,
    }


def measure(slides: int, work: Path, quick: bool) -> dict[str, Any]:
    """Run the job on a ``slides``-slide deck in a fresh process; its figures."""
    deck = make_deck(EXAMPLE, slides, work / "decks")
    out = work / f"out-{slides}"
    command = [sys.executable, __file__, "--child", str(deck), "--out", str(out)]
    if quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {slides}-slide run failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["slides"] = slides
    shutil.rmtree(out, ignore_errors=True)
    return figures


# -- report ------------------------------------------------------------------------------------


def print_report(runs: list[dict[str, Any]], growth: float, quick: bool) -> None:
    job = "test TTS, no video" if quick else "Piper, every deck file"
    print(f"offline job ({job}): markdown script, generated images")
    print(f"{'slides':>6}{'peak RSS':>12}{'with ffmpeg':>14}{'wall':>10}")
    for run in runs:
        tree = run["peak_tree_mb"]
        with_children = f"{tree:>11.0f} MB" if tree is not None else f"{'n/a':>14}"
        rss, wall = run["peak_rss_mb"], run["wall_s"]
        print(f"{run['slides']:>6}{rss:>9.0f} MB{with_children}{wall:>8.1f} s")
    first, last = runs[0], runs[-1]
    print(
        f"growth {first['slides']} -> {last['slides']} slides: {growth:.2f} MB per slide (peak RSS)"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, test TTS, no video")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="deck lengths")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        figures = run_child(args.child, args.out, args.quick)
        print(json.dumps(figures))
        return figures
    sizes = args.sizes or ([2, 4] if args.quick else [8, 32])
    if len(sizes) < 2:
        parser.error("give at least two sizes")
    with tempfile.TemporaryDirectory() as work:
        runs = [measure(slides, Path(work), args.quick) for slides in sorted(sizes)]
    first, last = runs[0], runs[-1]
    growth = (last["peak_rss_mb"] - first["peak_rss_mb"]) / (last["slides"] - first["slides"])
    print_report(runs, growth, args.quick)
    return {"runs": runs, "growth_mb_per_slide": growth}


if __name__ == "__main__":
    main()
