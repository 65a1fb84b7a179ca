"""The chaos soak's quick mode: a few decks through the fault layer, every one whole."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_the_quick_chaos_soak_completes_every_deck_through_the_faults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import chaos_soak

    try:
        report = chaos_soak.main(
            ["--quick", "--no-baseline", "--rate", "0.3", "--json", str(tmp_path / "soak.json")]
        )
    finally:
        sys.modules.pop("chaos_soak", None)
    assert report["decks_completed"] == report["decks"] == 3
    assert report["decks_failed"] == []
    assert report["deck_problems"] == {}  # slides in order, narration = clips, files whole
    assert report["slides"] == 12
    assert report["total_faults"] > 0
    assert report["total_retries"] > 0
    assert report["total_calls"] > report["total_faults"]
    assert json.loads((tmp_path / "soak.json").read_text())["decks"] == 3
