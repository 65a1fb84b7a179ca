"""The limits benchmark runs its pipelines in quick mode and reports every figure (timings
unchecked)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def limits_benchmark(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import limits_benchmark

    yield limits_benchmark
    sys.modules.pop("limits_benchmark", None)


def test_the_limits_benchmark_runs_quickly_and_reports_every_figure(
    limits_benchmark: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    report = limits_benchmark.main(["--quick"])
    throttling, shared = report["throttling"], report["shared"]
    capacity = throttling["capacity"]
    assert list(throttling["runs"]) == [
        *(f"fixed {n}" for n in range(1, 2 * capacity + 1)),
        f"adaptive (cap {2 * capacity})",
    ]
    for run in throttling["runs"].values():
        assert run["server_peak"] <= capacity
        assert run["makespan_s"] > 0
    adaptive = throttling["runs"][f"adaptive (cap {2 * capacity})"]
    assert adaptive["failed_slides"] == 0
    assert adaptive["lowest_limit"] <= capacity
    assert adaptive["limit_changes"] >= 1  # seen as LimitChanged events of the run
    for n in range(1, capacity + 1):  # never more than N at once: never refused
        assert throttling["runs"][f"fixed {n}"]["refusals"] == 0
    assert throttling["adaptive_over_best_fixed"] > 0
    assert shared["peak_in_flight"] == shared["limits_peak"] == shared["limit"] == 3
    assert shared["failed_slides"] == 0
    assert shared["calls"] == shared["decks"] * shared["slides_per_deck"]
    printed = capsys.readouterr().out
    assert "adaptive / best fixed" in printed
    assert "makespan / bound" in printed


def test_the_run_order_benchmark_runs_both_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import run_order_benchmark

    try:
        results = run_order_benchmark.main(["--quick"])
    finally:
        sys.modules.pop("run_order_benchmark", None)
    assert set(results) == {"start order", "slide index"}
    for figures in results.values():
        assert figures["first_deck_done_s"] <= figures["median_deck_done_s"]
        assert figures["median_deck_done_s"] <= figures["makespan_s"]
