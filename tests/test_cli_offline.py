"""The offline main job: `slidestream make deck.md` and `slidestream demo`, with their defaults."""

from __future__ import annotations

import json
import math
import os
import re
import struct
import subprocess
import sys
import wave
from pathlib import Path

import imageio_ffmpeg
import pytest

from slidestream import cli
from slidestream.providers.offline import MarkdownScriptProvider

from .media import probe, read_pdf

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GIT_DECK = EXAMPLES / "git-in-ten-minutes.md"


def parse(*argv: str) -> object:
    return cli.build_parser().parse_args(["make", *argv])


def test_markdown_file_defaults() -> None:
    args = parse(str(GIT_DECK))
    chosen = cli.choose_providers(args, GIT_DECK)
    assert isinstance(chosen["script_provider"], MarkdownScriptProvider)
    assert chosen["script_provider"].path == GIT_DECK
    assert chosen["image_provider"] == "generated"
    assert chosen["tts_provider"] == "piper"


def test_named_providers_still_win() -> None:
    args = parse(str(GIT_DECK), "--script", "test-script", "--images", "none", "--tts", "test-tts")
    chosen = cli.choose_providers(args, GIT_DECK)
    assert chosen == {
        "script_provider": "test-script",
        "image_provider": None,
        "tts_provider": "test-tts",
    }
    explicit = cli.choose_providers(parse(str(GIT_DECK), "--script", "markdown"), GIT_DECK)
    assert isinstance(explicit["script_provider"], MarkdownScriptProvider)


def test_missing_piper_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)
    code = cli.main(["make", str(GIT_DECK), "--out", str(tmp_path)])
    assert code == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert "pip install 'slidestream[offline]'" in error
    assert "--tts edge-tts" in error
    assert "--tts none" in error
    assert not any(tmp_path.iterdir())


def test_bad_outline_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deck = tmp_path / "bad.md"
    deck.write_text("# Title\n\nNo slides here.\n")
    assert cli.main(["make", str(deck), "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    assert re.search(r"bad\.md, line 1: no slide", capsys.readouterr().err)


def test_make_with_test_doubles_uses_front_matter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deck = tmp_path / "deck.md"
    deck.write_text("---\nlanguage: en-GB\nvoice: narrator\n---\n# My deck\n## One\n## Two\n")
    code = cli.main(["make", str(deck), "--out", str(tmp_path / "out"), "--tts", "test-tts"])
    assert code == cli.EXIT_OK
    output = capsys.readouterr().out
    assert "Slide 2 complete" in output
    manifest = json.loads((tmp_path / "out/my-deck/slidestream.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["request"]["topic"] == "My deck"
    assert manifest["request"]["language"] == "en-GB"
    assert manifest["request"]["voice"] == "narrator"
    images = sorted((tmp_path / "out/my-deck/images").iterdir())
    assert [p.name for p in images] == ["slide-01-1.png", "slide-02-1.png"]


def run_cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [sys.executable, "-m", "slidestream", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def wav_rms(path: Path) -> tuple[float, float]:
    with wave.open(str(path)) as reader:
        frames = reader.readframes(reader.getnframes())
        seconds = reader.getnframes() / reader.getframerate()
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    return seconds, math.sqrt(sum(s * s for s in samples) / len(samples))


@pytest.mark.slow
def test_demo_from_any_folder(tmp_path: Path) -> None:
    done = run_cli("demo", "--slides", "2", "--out", "decks", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Slide 1 complete" in done.stdout
    assert "Slide 2 complete" in done.stdout
    project = tmp_path / "decks" / "how-vaccines-work"
    manifest = json.loads((project / "slidestream.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["request"]["topic"] == "How vaccines work"
    assert len(manifest["deck"]["slides"]) == 2
    for number in (1, 2):
        seconds, rms = wav_rms(project / "audio" / f"slide-{number:02d}.wav")
        assert seconds > 10
        assert rms > 500
        assert (project / "images" / f"slide-{number:02d}-1.png").stat().st_size > 10_000


def decoded_audio(path: Path) -> tuple[float, float]:
    """Seconds and RMS of any audio file ffmpeg can read."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path)]
    pcm = subprocess.run(
        [*command, "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    return len(samples) / 16000, math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


_CUE_TIME = re.compile(r"(\d\d:)?\d\d:\d\d[.,]\d\d\d --> (\d\d:)?\d\d:\d\d[.,]\d\d\d")


def cues(text: str) -> list[str]:
    """The text of each subtitle cue (SRT or WebVTT)."""
    found = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().splitlines()
        for number, line in enumerate(lines):
            if _CUE_TIME.search(line):
                found.append(" ".join(lines[number + 1 :]).strip())
                break
    return found


@pytest.mark.slow
@pytest.mark.libreoffice
def test_main_job_writes_every_deck_file(tmp_path: Path) -> None:
    from pptx import Presentation

    done = run_cli("make", str(GIT_DECK), "--slides", "3", "--out", "decks", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for number in (1, 2, 3):
        assert f"Slide {number} complete" in done.stdout
    project = tmp_path / "decks" / "git-in-ten-minutes"

    def one(pattern: str) -> Path:
        found = sorted(project.glob(pattern))
        assert len(found) == 1, (pattern, sorted(p.name for p in project.iterdir()))
        return found[0]

    presentation = Presentation(str(one("*.pptx")))
    assert len(presentation.slides) >= 3
    text = " ".join(
        shape.text_frame.text
        for slide in presentation.slides
        for shape in slide.shapes
        if shape.has_text_frame
    )
    for title in ("Why version control", "Three places your files live", "Your first commits"):
        assert title in text

    seconds, rms = decoded_audio(one("*.mp3"))
    assert seconds > 30
    assert rms > 300

    srt, vtt = one("*.srt").read_text(), one("*.vtt").read_text()
    assert vtt.startswith("WEBVTT")
    for subtitles in (srt, vtt):
        texts = cues(subtitles)
        assert len(texts) >= 3
        assert all(texts)
        spoken = " ".join(" ".join(texts).split())
        assert "Version control keeps that history for you." in spoken

    pdf = read_pdf(one("*.pdf"))
    assert len(pdf.texts) >= 4  # the title and three slides
    # Vector pages: the slides' text is text, in embedded fonts, with or without LibreOffice.
    assert pdf.embedded
    page_text = " ".join(" ".join(pdf.texts).split())
    for title in ("Why version control", "Three places your files live", "Your first commits"):
        assert title in page_text

    meta = probe(one("*.mp4"))
    assert meta["codec"] == "h264"
    assert meta.get("audio_codec")
    assert meta["duration"] == pytest.approx(seconds, rel=0.1)
