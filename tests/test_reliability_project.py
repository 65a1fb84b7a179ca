"""Hostile cases around the output folder: two runs at once, reruns, odd names, failing disks.

Each case ends as the project promises: a clear one-line message, exit code 2 for bad input
and 1 for a failed run, no traceback, nothing already produced lost, no half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import slidestream as ss
from slidestream import cli
from slidestream._files import LOCK_NAME, is_temporary
from slidestream._project import claim_project
from slidestream.testing import FakeScriptProvider, FakeTTSProvider

from .scripted import Timeline, gated_pipeline

DOUBLES = ["--script", "test-script", "--images", "test-images", "--tts", "test-tts"]
QUICK = [*DOUBLES, "--no-video", "--slides", "2"]


def make(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["make", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clean_line(err: str) -> None:
    """The user sees one message line and no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("slidestream: ")


def temporary_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if is_temporary(p.name)]


def manifest(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / "slidestream.json").read_text())
    return data


# -- one run per project folder ----------------------------------------------------------------


@pytest.mark.anyio
async def test_a_second_run_of_a_busy_project_is_refused(tmp_path: Path) -> None:
    timeline = Timeline()
    timeline.hold("tts", 0)
    first = gated_pipeline(timeline, tmp_path, slides=2, assembler=ss.render.NullAssembler)
    second = ss.StreamingPipeline(script_provider=FakeScriptProvider(slides=1), output_dir=tmp_path)
    with anyio.fail_after(30):
        async with first.stream("Shared", project="shared") as events:
            async for event in events:
                if isinstance(event, ss.SlideScripted):
                    break
            with pytest.raises(ss.ProjectBusyError, match="being made by another run") as caught:
                await second.run("Other topic", project="shared")
            assert f"process {os.getpid()}" in str(caught.value)
    # The refused run wrote nothing: the folder holds the first run's files only.
    assert manifest(tmp_path / "shared")["request"]["topic"] == "Shared"  # type: ignore[index]


def test_the_cli_refuses_a_busy_project_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    claim = claim_project(tmp_path, "Someone else", "deck")
    try:
        code, _, err = make(capsys, "Topic", "--out", str(tmp_path), "--project", "deck", *QUICK)
    finally:
        claim.release()
    assert code == cli.EXIT_USAGE
    assert_one_clean_line(err)
    assert "'deck'" in err and "being made by another run" in err and "choose another" in err
    assert not (tmp_path / "deck" / "slidestream.json").exists()


@pytest.mark.anyio
async def test_unnamed_runs_of_one_topic_at_once_take_separate_folders(tmp_path: Path) -> None:
    timeline = Timeline()
    timeline.hold("tts", 0)
    first = gated_pipeline(timeline, tmp_path, slides=2, assembler=ss.render.NullAssembler)
    second = ss.StreamingPipeline(
        script_provider=FakeScriptProvider(slides=1),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path,
        render_options=ss.RenderOptions(video=False),
    )
    with anyio.fail_after(60):
        async with first.stream("Volcanoes") as events:
            async for event in events:
                if isinstance(event, ss.SlideScripted):
                    break
            other = await second.run("Volcanoes")
            timeline.release("tts", 0)
            async for _event in events:
                pass
    assert other.project_dir == (tmp_path / "volcanoes-2").resolve()
    assert events.deck is not None and events.deck.project_dir.name == "volcanoes"
    assert (tmp_path / "volcanoes-2" / "volcanoes-2.pptx").is_file()
    assert (tmp_path / "volcanoes" / "slidestream.json").is_file()
    assert manifest(tmp_path / "volcanoes-2")["status"] == "complete"


def test_a_killed_run_does_not_leave_its_project_locked(tmp_path: Path) -> None:
    holder = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from slidestream._project import claim_project
        claim_project(Path({str(tmp_path)!r}), "t", "stuck")
        print("held", flush=True)
        time.sleep(60)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "held"
            with pytest.raises(ss.ProjectBusyError):
                claim_project(tmp_path, "t", "stuck")
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    claim_project(tmp_path, "t", "stuck").release()  # free again
    assert (tmp_path / "stuck" / LOCK_NAME).exists()


# -- a rerun replaces the whole deck -----------------------------------------------------------


def test_a_rerun_with_fewer_slides_leaves_no_file_of_the_older_deck(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["Rivers", "--out", str(tmp_path), "--project", "r", *DOUBLES]
    assert make(capsys, *base, "--slides", "3")[0] == 0
    folder = tmp_path / "r"
    assert (folder / "audio" / "slide-03.wav").is_file()
    assert (folder / "images" / "slide-03-1.png").is_file()
    assert (folder / "r.mp4").is_file()
    assert make(capsys, *base, "--slides", "2", "--no-video")[0] == 0
    assert sorted(p.name for p in (folder / "audio").iterdir()) == ["slide-01.wav", "slide-02.wav"]
    assert sorted(p.name for p in (folder / "images").iterdir()) == [
        "slide-01-1.png",
        "slide-02-1.png",
    ]
    assert not (folder / "r.mp4").exists()  # made by the older run only
    data = manifest(folder)
    assert data["status"] == "complete" and "previous" not in data
    assert len(data["deck"]["slides"]) == 2  # type: ignore[index]


def test_a_failed_rerun_keeps_the_complete_deck_and_its_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from slidestream import providers

    base = ["Rivers", "--out", str(tmp_path), "--project", "r", "--no-video", "--slides", "2"]
    assert make(capsys, *base, *DOUBLES)[0] == 0
    folder = tmp_path / "r"
    pptx = (folder / "r.pptx").read_bytes()
    broken = {"broken-script": lambda: FakeScriptProvider(fail_outline=True)}
    with providers.override(broken):
        code, _, err = make(capsys, *base, "--script", "broken-script", "--tts", "test-tts")
    assert code == cli.EXIT_FAILED
    assert_one_clean_line(err)
    assert (folder / "r.pptx").read_bytes() == pptx
    data = manifest(folder)
    assert data["status"] == "failed" and "injected outline failure" in str(data["error"])
    previous = data["previous"]
    assert isinstance(previous, dict) and previous["deck"]["pptx_path"].endswith("r.pptx")


def test_what_a_killed_run_left_is_cleaned_by_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "p"
    (folder / "audio").mkdir(parents=True)
    (folder / "build" / "frames").mkdir(parents=True)
    leftovers = [
        folder / ".slidestream.json.k3j2l1m0.tmp",
        folder / ".p.pptx.a1b2c3d4.tmp",
        folder / ".p.tmp-q1w2e3r4.mp4",
        folder / "audio" / ".slide-01.wav.zz99yy88.tmp",
        folder / "build" / "frames" / "slide-001.png",
    ]
    for path in leftovers:
        path.write_bytes(b"half")
    (folder / ".notes.tmp").write_text("the user's own")  # not a name we make: kept
    (folder / "notes.md").write_text("the user's own")
    assert make(capsys, "T", "--out", str(tmp_path), "--project", "p", *QUICK)[0] == 0
    assert not any(path.exists() for path in leftovers)
    assert not (folder / "build").exists()
    assert (folder / ".notes.tmp").exists() and (folder / "notes.md").exists()


# -- names and paths ---------------------------------------------------------------------------


def test_a_topic_with_a_slash_is_a_topic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = make(capsys, "TCP/IP for beginners", "--out", str(tmp_path), *QUICK)
    assert code == 0
    assert "Outline: TCP/IP for beginners" in out
    assert (tmp_path / "tcp-ip-for-beginners" / "tcp-ip-for-beginners.pptx").is_file()


def test_a_topic_of_any_length_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    topic = "The long history of " + "very " * 2000 + "long topics"
    for _ in range(2):  # the second run of the same topic may reuse the folder
        assert make(capsys, topic, "--out", str(tmp_path), *QUICK)[0] == 0
    other = topic.replace("long topics", "longer topics")  # the same slug
    assert make(capsys, other, "--out", str(tmp_path), *QUICK)[0] == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and all(len(name) <= 64 for name in names)
    assert names[0] + "-2" == names[1]  # same slug, different topic: a new suffix


def test_a_project_name_too_long_for_the_file_system_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["T", "--out", str(tmp_path / "out"), "--project", "p" * 300, *QUICK]
    code, _, err = make(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert_one_clean_line(err)
    assert "300 bytes long" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("slides.pptx", None, "a zip archive"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(40), "a PNG image"),
        ("notes.txt", b"# Title\n## Slide\n", "a .txt file"),
        ("report.pdf", b"%PDF-1.7\n", "a PDF"),
    ],
)
def test_an_input_file_that_is_not_markdown_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    expected: str,
) -> None:
    source = tmp_path / name
    if content is None:
        with zipfile.ZipFile(source, "w") as archive:
            archive.writestr("ppt/presentation.xml", "<p/>")
    else:
        source.write_bytes(content)
    code, _, err = make(capsys, str(source), "--out", str(tmp_path / "out"), *QUICK)
    assert code == cli.EXIT_USAGE
    assert_one_clean_line(err)
    assert expected in err and "not a Markdown outline" in err
    assert not (tmp_path / "out").exists()


def test_an_input_that_is_a_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "decks").mkdir()
    code, _, err = make(capsys, str(tmp_path / "decks"), "--out", str(tmp_path / "out"), *QUICK)
    assert code == cli.EXIT_USAGE
    assert_one_clean_line(err)
    assert "is a folder, not a Markdown file" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("topic", ["", "   ", "\x1b[31m\x1b[0m", "\x07\x00"])
def test_an_empty_topic_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], topic: str
) -> None:
    code, _, err = make(capsys, topic, "--out", str(tmp_path / "out"), *QUICK)
    assert code == cli.EXIT_USAGE
    assert_one_clean_line(err)
    assert "topic is empty" in err
    assert not (tmp_path / "out").exists()


def test_a_binary_file_named_md_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "deck.md"
    source.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    argv = [str(source), "--out", str(tmp_path / "out"), "--images", "none", "--tts", "test-tts"]
    code, _, err = make(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert_one_clean_line(err)
    assert "binary file" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--lang", "\x1b[31m"], "is not a language code"),
        (["--lang", "English please"], "is not a language code"),
        (["--tts", "edge"], "no TTS provider named 'edge'. Did you mean 'edge-tts'?"),
        (["--images", "test-images,nope"], "no image provider named 'nope'"),
    ],
)
def test_bad_options_are_refused_before_any_folder_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, _, err = make(capsys, "Topic", "--out", str(tmp_path / "out"), *QUICK, *argv)
    assert code == cli.EXIT_USAGE
    assert_one_clean_line(err)
    assert expected in err and "\x1b" not in err  # printed escaped, never raw
    assert not (tmp_path / "out").exists()


def test_a_damaged_template_is_refused_before_any_folder_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = tmp_path / "brand.pptx"  # a PowerPoint package whose XML is cut off
    with zipfile.ZipFile(template, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
        archive.writestr("ppt/presentation.xml", "<p:presentation")
    argv = ["Topic", "--out", str(tmp_path / "out"), "--template", str(template), *QUICK]
    code, _, err = make(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert_one_clean_line(err)
    assert f"Cannot read the template {template}" in err
    assert not (tmp_path / "out").exists()


def test_a_front_matter_language_that_is_no_code_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "deck.md"
    source.write_text("---\nlanguage: [unclosed\n---\n# Deck\n\n## Slide\n- a point\n")
    argv = [str(source), "--out", str(tmp_path / "out"), "--images", "none", "--tts", "test-tts"]
    code, _, err = make(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert_one_clean_line(err)
    assert "'[unclosed' is not a language code" in err
    assert not (tmp_path / "out").exists()


# -- file-system faults ------------------------------------------------------------------------


def test_an_output_folder_that_is_a_file_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").write_text("a file")
    code, _, err = make(capsys, "Topic", "--out", str(tmp_path / "out"), *QUICK)
    assert code == cli.EXIT_FAILED
    assert_one_clean_line(err)
    assert str(tmp_path / "out") in err and "a file is in the way" in err
    assert (tmp_path / "out").read_text() == "a file"


def test_an_output_folder_under_proc_fails_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = make(capsys, "Topic", "--out", "/proc/slidestream-out", *QUICK)
    assert code == cli.EXIT_FAILED
    assert_one_clean_line(err)
    assert "/proc/slidestream-out" in err and "Cannot create the folder" in err


def _run_cli(argv: list[str], *, limit_bytes: int) -> subprocess.CompletedProcess[str]:
    """The real command in a child process whose files may not grow past ``limit_bytes``."""

    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(
        [sys.executable, "-m", "slidestream", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=setup,
        check=False,
    )


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only; as root (who may write anywhere), make it immutable."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], check=False).returncode:
        pytest.skip("running as root without chattr +i: cannot make a folder read-only")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_a_read_only_output_folder_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "read-only"
    out.mkdir()
    with read_only(out):
        code, _, err = make(capsys, "Topic", "--out", str(out), *QUICK)
    assert code == cli.EXIT_FAILED
    assert_one_clean_line(err)
    assert str(out / "topic") in err
    assert "permission denied" in err or "read-only" in err
    assert list(out.iterdir()) == []


def test_a_full_disk_fails_the_run_with_one_line_and_nothing_half_written(tmp_path: Path) -> None:
    # A file-size limit makes every write past 64 kB fail, as a full disk does: the manifest
    # fits, a narration clip does not.
    argv = ["make", "Topic", "--out", str(tmp_path), "--project", "p", *QUICK]
    done = _run_cli(argv, limit_bytes=64_000)
    assert done.returncode == cli.EXIT_FAILED, done.stderr
    assert_one_clean_line(done.stderr)
    assert "Cannot write" in done.stderr and str(tmp_path / "p" / "audio") in done.stderr
    folder = tmp_path / "p"
    assert temporary_files(folder) == []
    data = manifest(folder)
    assert data["status"] == "failed" and "Cannot write" in str(data["error"])
    assert not list(folder.glob("*.pptx"))
