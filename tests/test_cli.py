"""The ``slidestream`` command: output per event, exit codes, provider listing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from slidestream import cli

TEST_PROVIDERS = ["--script", "test-script", "--images", "test-images", "--tts", "test-tts"]


def test_a_one_slide_outline_is_counted_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["make", "Volcanoes", "--out", str(tmp_path), "--slides", "1", *TEST_PROVIDERS])
    assert code == 0
    assert "Outline: Volcanoes (1 slide)\n" in capsys.readouterr().out


def test_make_prints_a_line_per_event_and_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["make", "Volcanoes", "--out", str(tmp_path), "--slides", "3", *TEST_PROVIDERS])
    out = capsys.readouterr().out
    assert code == 0
    assert "Outline: Volcanoes (3 slides)" in out
    for n in (1, 2, 3):
        assert f"[✔ script] Slide {n}:" in out
        assert f"[✔ slide] Slide {n} complete" in out
        assert f"[✔ audio] slide {n}:" in out
    assert "Performance report: Volcanoes (3 slides, streaming)" in out
    assert (tmp_path / "volcanoes" / "audio" / "slide-03.wav").is_file()


def test_make_sequential_with_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        [
            "make",
            "Rivers",
            "--out",
            str(tmp_path),
            "--project",
            "r",
            "--sequential",
            "--max-concurrent-tts",
            "1",
            "--slides",
            "2",
            *TEST_PROVIDERS,
        ]
    )
    assert code == 0
    assert "sequential" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["make", "T", "--project", "../up", *TEST_PROVIDERS], "Invalid project name"),
        (["make", "missing.md", *TEST_PROVIDERS], "missing.md does not exist"),
        (["make", "T", "--script", "nope"], "no script provider named 'nope'"),
        (["make", "T", "--script", "test-tts"], "not a script provider"),
        (
            ["make", "T", "--script", "test-script", "--tts", "edge"],
            "no TTS provider named 'edge'. Did you mean 'edge-tts'?",
        ),
        (
            ["make", "T", "--script", "test-script", "--images", "test-images,nope"],
            "no image provider named 'nope'",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli.main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / ".." / "up").exists()
    assert not list(tmp_path.glob("out/*")), "bad input leaves no project folder"


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["make", "T", "--slides", "0"])
    assert caught.value.code == 2
    assert "too small" in capsys.readouterr().err


def test_a_failed_run_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from slidestream import providers
    from slidestream.testing import FakeScriptProvider

    broken = {"broken-script": lambda: FakeScriptProvider(fail_outline=True)}
    with providers.override(broken):
        assert cli.main(["make", "T", "--out", str(tmp_path), "--script", "broken-script"]) == 1
    assert "the run failed: Writing the outline failed" in capsys.readouterr().err


def test_providers_lists_names_and_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["providers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1] for line in lines}
    assert rows["test-script"] == "script"
    assert rows["test-images"] == "images"
    assert rows["test-tts"] == "tts"


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "slidestream", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("slidestream ")


def test_audience_and_tone_reach_the_request(tmp_path: Path) -> None:
    argv = ["make", "Stars", "--out", str(tmp_path), "--project", "s", "--slides", "1"]
    argv += ["--audience", "children", "--tone", "playful", "--no-video", *TEST_PROVIDERS]
    assert cli.main(argv) == 0
    request = json.loads((tmp_path / "s" / "slidestream.json").read_text())["request"]
    assert (request["audience"], request["tone"]) == ("children", "playful")


def test_a_tts_chain_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["make", "Chain", "--out", str(tmp_path), "--slides", "1", "--no-video"]
    argv += ["--script", "test-script", "--images", "none", "--tts", "test-tts,test-tts"]
    assert cli.main(argv) == 0
    assert "[✔ audio] slide 1" in capsys.readouterr().out


def test_font_metadata_warnings_do_not_reach_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    assert cli.main(["providers"]) == 0
    font_logger = logging.getLogger("fontTools.ttLib.tables._h_e_a_d")
    assert not font_logger.isEnabledFor(logging.WARNING)  # "'created' timestamp seems very low"
    assert capsys.readouterr().err == ""
