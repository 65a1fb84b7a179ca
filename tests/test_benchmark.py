"""The video benchmark runs end to end at tiny size (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "video_benchmark.py"


@pytest.mark.slow
def test_video_benchmark_quick() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "ignore", str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("deck: 2 slides")
    labels = [line.split("  ")[0] for line in lines[2:]]
    assert labels == [
        "(a) naive moviepy, 24 fps",
        "(b) slidestream assembler",
        "ratio (a)/(b)",
        "tail: last slide -> MP4 done",
    ]
    assert all(float(line.split()[-1]) > 0 for line in lines[2:])
