"""The batch benchmark runs in quick mode (3 decks, one process and a local cluster)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def batch_benchmark(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import batch_benchmark

    yield batch_benchmark
    for name in ("batch_benchmark", "pipeline_benchmark"):
        sys.modules.pop(name, None)


def test_the_tts_bound_is_the_total_tts_work_over_the_limit(batch_benchmark: ModuleType) -> None:
    profile = batch_benchmark.Profile()  # 10 slides, 5.4 s of TTS each, a limit of 3
    assert batch_benchmark.tts_bound(profile, 20) == pytest.approx(20 * 10 * 5.4 / 3)


def test_the_quick_benchmark_reports_both_contenders(
    batch_benchmark: ModuleType, tmp_path: Path
) -> None:
    report = batch_benchmark.main(["--quick", "--results", str(tmp_path)])
    data = json.loads(Path(report["path"]).read_text())
    assert set(data["runs"]) == {"one process", "local cluster, 2 workers"}
    for run in data["runs"].values():
        assert run["tts_calls"] == 3 * 2
        assert 1 <= run["peak_tts_in_flight"] <= 3
        assert run["makespan_s"] > 0 and run["bound_s"] > 0
        assert run["makespan_over_bound"] == pytest.approx(run["makespan_s"] / run["bound_s"])
    assert set(data["cluster_overhead"]) == {"wall_s", "startup_s", "makespan_s"}
