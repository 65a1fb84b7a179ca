"""``slidestream batch``: inputs, the progress lines, the summary table and exit codes."""

from __future__ import annotations

import gc
import socket
import sys
import time
from pathlib import Path

import pytest

from slidestream import cli

TEST_PROVIDERS = ["--script", "test-script", "--images", "test-images", "--tts", "test-tts"]


def test_batch_makes_a_deck_per_topic_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topics = tmp_path / "topics.txt"
    topics.write_text("Tides\n# not a topic\nVolcanoes\n", encoding="utf-8")
    out = tmp_path / "out"
    code = cli.main(
        ["batch", str(topics), "--out", str(out), "--slides", "2", "--no-video", *TEST_PROVIDERS]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "Making 2 decks in this process, 4 at once" in printed
    assert "TTS 3 at once across the batch" in printed
    assert "[✔ deck] tides: 2 slides in" in printed
    assert "[✔ deck] volcanoes: 2 slides in" in printed
    assert "Batch summary" in printed
    rows = [line for line in printed.splitlines() if "tides" in line and "│" in line]
    assert rows and "mp3 pdf pptx srt vtt" in rows[0]
    assert f"2 of 2 decks made in {out.resolve()}" in printed
    assert (out / "tides" / "tides.pptx").is_file()
    assert (out / "volcanoes" / "volcanoes.mp3").is_file()


def test_a_folder_of_outlines_needs_no_script_provider_and_failures_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n## One\n- a point\n", encoding="utf-8")
    (folder / "broken.md").write_text("no headings at all\n", encoding="utf-8")
    code = cli.main(
        [
            "batch",
            str(folder),
            "--out",
            str(tmp_path / "out"),
            "--images",
            "none",
            "--tts",
            "test-tts",
            "--no-video",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 1
    assert "[✔ deck] good: 1 slides in" in printed
    assert "[✖ deck] broken:" in printed
    assert "failed:" in printed
    assert "1 of 2 decks made" in printed


def test_batch_refuses_project_and_missing_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["batch", "Tides", "--project", "x", *TEST_PROVIDERS])
    assert "--project" in capsys.readouterr().err
    code = cli.main(["batch", str(tmp_path / "missing.txt"), *TEST_PROVIDERS])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_cluster_without_the_dask_extra_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    code = cli.main(
        ["batch", "Tides", "--workers", "2", "--out", str(tmp_path), "--no-video", *TEST_PROVIDERS]
    )
    assert code == 2
    assert "pip install 'slidestream[dask]'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "address",
    ["nonsense:xx", "tcp://127.0.0.1:{port}", "tcp://no-such-host.invalid:8786"],
    ids=["malformed", "refused", "unknown-host"],
)
def test_a_scheduler_that_cannot_be_reached_is_named_at_once(
    address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    address = address.format(port=_closed_port())
    code = cli.main(
        ["batch", "Tides", "--cluster", address, "--out", str(tmp_path), *TEST_PROVIDERS]
    )
    gc.collect()  # a half-made Dask client must not be left to close itself later
    assert code == 2
    assert f"Cannot reach the Dask scheduler at {address}" in capsys.readouterr().err
    assert time.monotonic() - started < 10
    assert not any(tmp_path.iterdir())
