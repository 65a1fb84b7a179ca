"""The pipeline benchmark still runs (at a tiny scale) and writes every field; timings unchecked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def pipeline_benchmark(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import pipeline_benchmark

    yield pipeline_benchmark
    sys.modules.pop("pipeline_benchmark", None)
    sys.modules.pop("timeline", None)


def test_lower_bound_matches_hand_computed_schedules(pipeline_benchmark) -> None:  # type: ignore[no-untyped-def]
    profile = pipeline_benchmark.Profile()
    # Streamed scripts end at 9, 11, ..., 27 s; TTS never queues (5.4 s < 3 slots x 2 s): 27 + 5.4.
    assert pipeline_benchmark.lower_bound(profile)["makespan_s"] == pytest.approx(32.4)
    assert pipeline_benchmark.lower_bound(profile)["first_slide_s"] == pytest.approx(14.4)
    per_slide = pipeline_benchmark.Profile(streamed_scripts=False)
    # Scripts 4 at a time end at 9, 9, 9, 9, 11, ...; 10 TTS jobs on 3 slots from 9 s: 4 rounds.
    assert pipeline_benchmark.lower_bound(per_slide)["makespan_s"] == pytest.approx(9 + 4 * 5.4)
    serial = pipeline_benchmark.Profile(tts_limit=1)
    assert pipeline_benchmark.lower_bound(serial)["makespan_s"] == pytest.approx(9 + 10 * 5.4)


def test_the_benchmark_runs_and_reports_every_field(pipeline_benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = pipeline_benchmark.main(
        [
            "--scale",
            "0.002",
            "--slides",
            "3",
            "--no-files",
            "--results",
            str(tmp_path),
            "--timeline",
            str(tmp_path / "timeline.png"),
        ]
    )
    data = json.loads(Path(report["path"]).read_text())
    for case in ("streamed_scripts", "per_slide_scripts"):
        runs = data[case]["runs"]
        assert set(runs) == {"sequential", "seed", "slidestream"}
        for run in runs.values():
            assert {
                "makespan_s",
                "first_slide_s",
                "last_slide_s",
                "files_tail_s",
                "peak_in_flight",
                "peak_rss_mb",
                "spans",
            } <= set(run)
            assert run["peak_in_flight"]["tts"] >= 1
        assert set(data[case]["ratios"]) == {
            "sequential_over_slidestream",
            "seed_over_slidestream",
            "slidestream_over_bound",
            "slidestream_slides_over_bound",
            "first_slide_over_budget",
        }
        assert data[case]["lower_bound"]["makespan_s"] > 0
    assert (tmp_path / "timeline.png").read_bytes()[:4] == b"\x89PNG"
