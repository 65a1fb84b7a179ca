"""A real ``slidestream serve`` process: event streams resumed, the live playlist, SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from slidestream import cli
from slidestream._media import ffmpeg_exe
from tests._server_helpers import parse_sse, serve, temp_files

pytestmark = pytest.mark.slow


def _read_events(response: httpx.Response, count: int | None = None) -> list[dict]:
    text, events = "", []
    for chunk in response.iter_text():
        text += chunk.replace("\r\n", "\n")
        events = parse_sse(text[: text.rfind("\n\n") + 2])
        if count is not None and len(events) >= count:
            return events[:count]
    return events


def test_an_event_stream_resumed_with_last_event_id_misses_nothing(tmp_path: Path) -> None:
    with serve(tmp_path, "--option", "test-tts.latency=0.15", "--max-concurrent-tts", "1") as (
        url,
        _process,
    ):
        job = httpx.post(f"{url}/v1/decks", json={"topic": "Glaciers", "slides": 4}).json()
        events_url = f"{url}{job['links']['events']}"
        with httpx.stream("GET", events_url, timeout=30) as first:
            head = _read_events(first, 3)
        # The first connection is closed mid-run; reconnect where it stopped.
        last = head[-1]["id"]
        with httpx.stream(
            "GET", events_url, headers={"Last-Event-ID": str(last)}, timeout=30
        ) as second:
            tail = _read_events(second)
        assert [e["id"] for e in head + tail] == list(range(1, len(head) + len(tail) + 1))
        assert tail[-1]["event"] == "deck"
        whole = parse_sse(httpx.get(events_url, timeout=30).text)
        assert whole == head + tail


def _media_seconds(path: Path, stream: str) -> float:
    drop = "-vn" if stream == "audio" else "-an"
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path), drop, "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.findall(r"time=(\d+):(\d+):(\d+\.\d+)", result.stderr)
    hours, minutes, seconds = found[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_ffmpeg_plays_the_live_playlist_while_the_deck_is_still_made(tmp_path: Path) -> None:
    options = ("--option", "test-tts.latency=0.6", "--option", "test-script.words_per_slide=6")
    options += ("--max-concurrent-tts", "1")
    with serve(tmp_path / "decks", *options) as (url, _process):
        job = httpx.post(
            f"{url}/v1/decks", json={"topic": "Coral reefs", "slides": 4, "video": False}
        ).json()
        playlist_url = f"{url}{job['links']['live']}"
        deadline = time.monotonic() + 30
        while "#EXTINF" not in (playlist := httpx.get(playlist_url).text):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "#EXT-X-ENDLIST" not in playlist  # later slides are still being made
        assert httpx.get(f"{url}{job['links']['self']}").json()["status"] == "running"
        out = tmp_path / "preview.ts"
        subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", playlist_url,
             "-map", "0", "-c", "copy", "-f", "mpegts", str(out)],
            check=True, timeout=60,
        )  # fmt: skip
        final = httpx.get(playlist_url).text
        durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", final)]
        assert len(durations) == 4
        assert final.rstrip().endswith("#EXT-X-ENDLIST")
        audio, video = _media_seconds(out, "audio"), _media_seconds(out, "video")
        assert abs(audio - sum(durations)) < 0.1
        assert abs(video - audio) < 0.6  # video runs at 2 frames a second


def test_sigterm_stops_cleanly_and_the_restarted_server_tells_why(tmp_path: Path) -> None:
    slow = ("--option", "test-tts.latency=30", "--grace", "0.5")
    with serve(tmp_path, *slow) as (url, process):
        job = httpx.post(f"{url}/v1/decks", json={"topic": "Storms", "slides": 3}).json()
        deadline = time.monotonic() + 20
        while httpx.get(f"{url}{job['links']['self']}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)  # uvicorn re-raises it
    folder = tmp_path / job["project"]
    assert temp_files(folder) == []
    record = json.loads((folder / "slidestream-job.json").read_text())
    assert record["status"] == "failed"
    assert record["error"]["reason"] == "shutdown"
    with serve(tmp_path) as (url, _process):
        view = httpx.get(f"{url}{job['links']['self']}").json()
        assert (view["status"], view["error"]["reason"]) == ("failed", "shutdown")
        events = parse_sse(httpx.get(f"{url}{job['links']['events']}").text)
        assert events[-1]["event"] == "failed"


def test_the_access_log_never_shows_the_token(tmp_path: Path) -> None:
    token = "log-secret-0123456789"
    options = ("--token", token, "--log-level", "info")
    with serve(tmp_path, *options, stdout=subprocess.PIPE) as (url, process):
        assert httpx.get(f"{url}/?token={token}").status_code == 303
        assert httpx.get(f"{url}/v1/decks?x=1&token={token}").status_code == 401
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        assert process.stdout is not None
        log = process.stdout.read().decode()
    assert "GET /?token=" in log
    assert token not in log


def test_serve_refuses_a_public_address_without_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--host", "0.0.0.0", "--out", str(tmp_path)]) == 2
    assert "--insecure-no-token" in capsys.readouterr().err


def test_a_deck_killed_mid_way_is_resumed_on_restart_and_reuses_its_finished_slides(
    tmp_path: Path,
) -> None:
    options = ("--cache-dir", str(tmp_path / "cache"), "--max-concurrent-tts", "1")
    options += ("--option", "test-tts.latency=0.3")
    for name in ("test-script", "test-images", "test-tts"):
        options += ("--option", f"{name}.cacheable=true")
    with serve(tmp_path / "decks", *options) as (url, process):
        job = httpx.post(
            f"{url}/v1/decks", json={"topic": "Volcanoes", "slides": 5, "video": False}
        ).json()
        events_url = f"{url}{job['links']['events']}"
        with httpx.stream("GET", events_url, timeout=30) as stream:
            text, finished = "", []
            for chunk in stream.iter_text():
                text += chunk.replace("\r\n", "\n")
                events = parse_sse(text[: text.rfind("\n\n") + 2])
                finished = [e["data"]["index"] for e in events if e["event"] == "slide"]
                if len(finished) >= 2:
                    break
        process.kill()  # SIGKILL: no grace, no clean-up
        assert process.wait(timeout=10) == -signal.SIGKILL
    folder = tmp_path / "decks" / job["project"]
    assert json.loads((folder / "slidestream-job.json").read_text())["status"] == "running"

    with serve(tmp_path / "decks", *options) as (url, _process):
        events = parse_sse(httpx.get(f"{url}{job['links']['events']}", timeout=60).text)
        view = httpx.get(f"{url}{job['links']['self']}").json()
    kinds = [event["event"] for event in events]
    assert kinds.count("resumed") == 1 and kinds[-1] == "deck"
    assert (view["status"], view["resumed"]) == ("complete", 1)
    again = events[kinds.index("resumed") :]
    slides = {e["data"]["index"]: e["data"] for e in again if e["event"] == "slide"}
    assert sorted(slides) == [0, 1, 2, 3, 4]
    # The slides finished before the kill come from the cache; the rest were spoken now.
    from_cache = {i for i, slide in slides.items() if "cached_tts" in slide["timings"]}
    assert set(finished) <= from_cache
    assert from_cache != set(slides)
    manifest = json.loads((folder / "slidestream.json").read_text())
    assert manifest["cache"]["reused"]["tts"] == len(from_cache)
    assert temp_files(folder) == []
