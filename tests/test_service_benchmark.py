"""The service benchmark's quick mode runs through a real server and keeps the shared TTS limit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_the_quick_service_benchmark_keeps_the_tts_limit_across_jobs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import service_benchmark

    try:
        report = service_benchmark.main(["--quick", "--json", str(tmp_path / "service.json")])
    finally:
        sys.modules.pop("service_benchmark", None)
    assert report["outcomes"] == ["deck"] * 3
    assert report["tts_calls"] == 9
    assert report["peak_tts_in_flight"] <= report["tts_limit"]
    shared = report["limits"]["test-tts"]  # the server's one limit, as GET /v1/limits shows it
    assert (shared["cap"], shared["calls"]) == (report["tts_limit"], 9)
    assert shared["peak_in_flight"] == report["peak_tts_in_flight"]
    assert report["first_segment_s"]["max"] is not None
    assert (tmp_path / "service.json").is_file()
