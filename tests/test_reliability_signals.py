"""SIGTERM and Ctrl-C stop a run cleanly: the real command in a child process.

SIGTERM (what ``docker stop`` and service managers send) is handled like Ctrl-C: work is
cancelled, no temporary file or child process is left, the manifest says ``cancelled``, and
the exit code is 143 (130 for Ctrl-C). Leaving a stream early in the library also leaves the
manifest saying ``cancelled``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import pytest

import slidestream as ss
from slidestream._files import is_temporary
from slidestream.testing import FakeScriptProvider, FakeTTSProvider

from .media import children

DRIVER = textwrap.dedent(
    """
    import sys

    import anyio

    import slidestream as ss
    from slidestream import cli, providers
    from slidestream.testing import FakeScriptProvider, FakeTTSProvider, FunctionTTSProvider

    HOLD = int(sys.argv[1])


    async def speak(text, **kwargs):
        if ss.current_slide_index() == HOLD:
            await anyio.sleep_forever()
        return await FakeTTSProvider(tone=True).synthesize(text, **kwargs)


    class SlowOutline(FakeScriptProvider):
        async def outline(self, request):
            if HOLD < 0:
                print("outline started", flush=True)
                await anyio.sleep_forever()
            return await super().outline(request)


    doubles = {"held-tts": lambda: FunctionTTSProvider(speak), "slow-script": SlowOutline}
    with providers.override(doubles):
        sys.exit(cli.main(sys.argv[2:]))
    """
)


def processes_using(folder: Path) -> list[str]:
    """Command lines of every process that names ``folder`` (an orphaned ffmpeg would)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in cmdline and "pytest" not in cmdline:
            found.append(cmdline)
    return found


def wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    """Poll ``condition()`` until it is true (a readiness wait, not a timing assumption)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def start(tmp_path: Path, hold: int, *extra: str) -> subprocess.Popen[str]:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    argv = ["make", "Signals", "--out", str(tmp_path / "out"), "--project", "p", "--slides", "2"]
    argv += ["--images", "test-images", "--tts", "held-tts", *extra]
    if "--script" not in extra:
        argv += ["--script", "test-script"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(driver), str(hold), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def stop(process: subprocess.Popen[str], signum: signal.Signals) -> str:
    """Send ``signum`` and wait for the process to end (killed if it will not); its stderr."""
    try:
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return err


def read_until(process: subprocess.Popen[str], text: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if text in line:
            return
    raise AssertionError(f"the run ended before printing {text!r}")


@pytest.mark.parametrize(
    ("signum", "code", "name"),
    [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")],
)
def test_a_signal_mid_run_cancels_cleanly(
    tmp_path: Path, signum: signal.Signals, code: int, name: str
) -> None:
    with start(tmp_path, 1) as process:
        try:
            # Slide 1 is complete and its narration is being encoded by ffmpeg, which waits
            # for slide 2: the signal comes while a child process and temporary files exist.
            read_until(process, "[✔ slide] Slide 1 complete")
            narrating = lambda: any("narration" in c for _, c in children(process.pid))  # noqa: E731
            wait_for(narrating, "ffmpeg encoding the narration")
            folder = tmp_path / "out" / "p"
            assert any(is_temporary(p.name) for p in folder.rglob("*"))
        finally:
            err = stop(process, signum)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert f"stopped by {name}: the run was cancelled" in err
    manifest = json.loads((folder / "slidestream.json").read_text())
    assert manifest["status"] == "cancelled"
    assert [p for p in folder.rglob("*") if is_temporary(p.name)] == []
    assert not (folder / "build").exists()
    assert processes_using(folder) == []
    assert (folder / "audio" / "slide-01.wav").is_file()  # finished work is kept


def test_sigterm_while_the_outline_is_written_cancels_cleanly(tmp_path: Path) -> None:
    with start(tmp_path, -1, "--script", "slow-script") as process:
        try:
            read_until(process, "outline started")
        finally:
            err = stop(process, signal.SIGTERM)
    assert process.returncode == 143, err
    assert "Traceback" not in err
    manifest = json.loads((tmp_path / "out" / "p" / "slidestream.json").read_text())
    assert manifest["status"] == "cancelled"


@pytest.mark.anyio
async def test_leaving_a_stream_early_leaves_the_manifest_cancelled(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider=FakeScriptProvider(slides=3),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path,
        assembler=ss.render.NullAssembler,
    )
    with anyio.fail_after(30):
        async with pipeline.stream("Leave early", project="early") as events:
            async for event in events:
                if isinstance(event, ss.SlideScripted):
                    break
    manifest = json.loads((tmp_path / "early" / "slidestream.json").read_text())
    assert manifest["status"] == "cancelled"
    # The folder is free again for the next run.
    assert (await pipeline.run("Leave early", project="early")).slides


def test_sigterm_stops_a_batch_as_it_stops_one_deck(tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    inputs = tmp_path / "outlines"
    inputs.mkdir()
    for n in (1, 2):
        (inputs / f"deck{n}.md").write_text(f"# Deck {n}\n\n## One\n- a\n\n## Two\n- b\n")
    out = tmp_path / "out"
    argv = ["batch", str(inputs), "--out", str(out), "--images", "none", "--tts", "held-tts"]
    with subprocess.Popen(
        [sys.executable, str(driver), "1", *argv, "--no-video", "--no-cache"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            # Both decks are under way once each has its first slide's narration.
            wait_for(lambda: len(list(out.rglob("slide-01.wav"))) == 2, "two decks running")
        finally:
            err = stop(process, signal.SIGTERM)
    assert process.returncode == 143, err
    assert "Traceback" not in err
    assert "stopped by SIGTERM: the run was cancelled" in err
    assert [p for p in out.rglob("*") if is_temporary(p.name)] == []
    assert processes_using(out) == []
    for record in out.rglob("slidestream.json"):  # any deck record left says how it ended
        assert json.loads(record.read_text())["status"] == "cancelled"


def test_a_closed_output_pipe_finishes_the_deck_quietly(tmp_path: Path) -> None:
    """``slidestream make ... | head -1``: the reader goes away, the deck is still made."""
    argv = ["make", "Pipes", "--out", str(tmp_path), "--project", "p", "--slides", "2"]
    argv += ["--script", "test-script", "--images", "test-images", "--tts", "test-tts"]
    with subprocess.Popen(
        [sys.executable, "-m", "slidestream", *argv, "--no-video", "--no-cache"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # as `head -1` does once it has its line
        err = process.stderr.read()
        process.wait(timeout=120)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "Broken pipe" not in err
    assert json.loads((tmp_path / "p" / "slidestream.json").read_text())["status"] == "complete"
    assert (tmp_path / "p" / "p.pptx").is_file()
