"""A run killed half-way (kill -9) and started again does not redo the slides it finished."""

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
from slidestream.testing import (
    CallRecorder,
    FakeImageProvider,
    FakeStreamingScriptProvider,
    FakeTTSProvider,
)

pytestmark = pytest.mark.anyio

RUN = textwrap.dedent(
    """
    import sys
    import anyio
    import slidestream as ss
    from slidestream.testing import FakeImageProvider, FakeStreamingScriptProvider, FakeTTSProvider

    async def main() -> None:
        pipeline = ss.StreamingPipeline(
            script_provider=FakeStreamingScriptProvider(slides=4, cacheable=True),
            image_provider=FakeImageProvider(size=(64, 36), cacheable=True),
            # Slides 1 and 2 are spoken at once; slides 3 and 4 would take a minute.
            tts_provider=FakeTTSProvider(
                latency=lambda index: 0.0 if index < 2 else 60.0, cacheable=True
            ),
            output_dir=sys.argv[1],
            cache_dir=sys.argv[2],
        )
        async with pipeline.stream("Tides", project="tides") as events:
            async for event in events:
                if isinstance(event, ss.SlideResult):
                    print("complete", event.index, flush=True)

    anyio.run(main)
    """
)


def kill_after_two_slides(out: Path, cache: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, str(out), str(cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        done = set()
        while len(done) < 2:
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else "the run ended early"
            done.add(line.split()[1])
        assert done == {"0", "1"}
        # Kill once the two finished slides' video segments are kept too.
        segments = cache / "v1" / "segment"
        while len(list(segments.glob("*/*.json"))) < 2:
            assert process.poll() is None, "the run ended early"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == -signal.SIGKILL


async def test_a_killed_run_resumes_without_redoing_its_finished_slides(tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    await anyio.to_thread.run_sync(kill_after_two_slides, out, cache)
    manifest = json.loads((out / "tides" / "slidestream.json").read_text())
    assert manifest["status"] == "running", "the killed run never finished"

    recorder = CallRecorder()
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=4, recorder=recorder, cacheable=True),
        image_provider=FakeImageProvider(size=(64, 36), recorder=recorder, cacheable=True),
        tts_provider=FakeTTSProvider(recorder=recorder, cacheable=True),
        output_dir=out,
        cache_dir=cache,
    )
    deck = await pipeline.run("Tides", project="tides")
    tts = sorted(call.index for call in recorder.of("tts"))
    assert tts == [2, 3], "only the slides the killed run had not spoken"
    assert recorder.of("outline") == [] and recorder.of("script") == []
    assert [("cached_tts" in slide.timings) for slide in deck.slides] == [True, True, False, False]
    segments = [("cached_segment" in slide.timings) for slide in deck.slides]
    assert segments == [True, True, False, False], "the finished slides' segments are reused"
    assert "narration clips 2/4" in deck.report()
    assert deck.video_path is not None and deck.video_path.stat().st_size > 0
    manifest = json.loads((out / "tides" / "slidestream.json").read_text())
    assert manifest["status"] == "complete" and manifest["cache"]["reused"]["tts"] == 2
