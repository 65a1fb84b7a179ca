"""The service through its ASGI app: the seed's endpoints, jobs, events, files, limits, security."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from PIL import Image

from slidestream import ConfigurationError, ServiceKey, cli
from slidestream.server import ServerConfig, serve
from tests._server_helpers import TOKEN, client, config, parse_sse, temp_files

pytestmark = pytest.mark.anyio


async def _finish(http, job_id: str) -> list[dict]:
    response = await http.get(f"/v1/decks/{job_id}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


async def test_the_seed_endpoint_answers_with_the_finished_deck(tmp_path: Path) -> None:
    body = {"project": "seed-deck", "topic": "Plate tectonics", "lang": "en", "slides": 3}
    async with client(config(tmp_path)) as http:
        response = await http.post("/generate_presentation", json=body)
        assert response.status_code == 200, response.text
        deck = response.json()
        assert deck["status"] == "complete"
        assert deck["project"] == "seed-deck"
        assert [slide["index"] for slide in deck["slides"]] == [0, 1, 2]
        assert deck["timings"]["total"] > 0
        assert set(deck["files"]) >= {"pptx", "mp3", "srt"}
        assert "mp4" not in deck["files"]  # generate_video defaults to false, as in the seed
        pptx = await http.get(deck["files"]["pptx"])
        assert pptx.status_code == 200
        assert pptx.content[:2] == b"PK"

        legacy = await http.post("/generate_presentation_legacy", json={**body, "project": "old"})
        assert legacy.status_code == 200
        job = await http.get(f"/v1/decks/{legacy.json()['id']}")
        assert job.json()["mode"] == "sequential"


async def test_a_job_streams_every_event_and_ends_with_the_deck(tmp_path: Path) -> None:
    async with client(config(tmp_path)) as http:
        created = await http.post("/v1/decks", json={"topic": "Volcanoes", "slides": 3})
        assert created.status_code == 202
        job_id = created.json()["id"]
        assert created.headers["location"] == f"/v1/decks/{job_id}"
        events = await _finish(http, job_id)
        kinds = [event["event"] for event in events]
        assert kinds[0] == "outline"
        assert kinds[-1] == "deck"
        assert kinds.count("slide") == 3
        assert kinds.count("preview") == 3
        assert [event["id"] for event in events] == list(range(1, len(events) + 1))
        slide = next(event["data"] for event in events if event["event"] == "slide")
        assert "data" not in json.dumps(slide["images"])  # image bytes are left out
        # Paths are names inside the deck's folder, never where the server keeps its files.
        assert str(tmp_path) not in json.dumps(events)
        assert slide["audio_path"] and not Path(slide["audio_path"]).is_absolute()
        assert any((tmp_path / "decks").rglob(slide["audio_path"]))

        view = (await http.get(f"/v1/decks/{job_id}")).json()
        assert view["status"] == "complete"
        assert view["progress"] == 1.0
        assert view["slides_done"] == view["slides_total"] == 3
        assert all(s["status"] == "complete" and s["frame_file"] for s in view["slides"])
        assert set(view["downloads"]) >= {"pptx", "mp3", "srt", "vtt", "mp4"}
        listed = (await http.get("/v1/decks")).json()["decks"]
        assert [deck["id"] for deck in listed] == [job_id]

        playlist = (await http.get(f"/v1/decks/{job_id}/live.m3u8")).text
        assert playlist.count("#EXTINF") == 3
        assert playlist.rstrip().endswith("#EXT-X-ENDLIST")


async def test_audio_answers_range_requests(tmp_path: Path) -> None:
    async with client(config(tmp_path)) as http:
        job_id = (await http.post("/v1/decks", json={"topic": "Tides", "slides": 2})).json()["id"]
        await _finish(http, job_id)
        url = (await http.get(f"/v1/decks/{job_id}")).json()["downloads"]["mp3"]["url"]
        whole = await http.get(url)
        part = await http.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
        assert part.content == whole.content[100:200]
        head = await http.head(url)  # players ask for the size and Range support first
        assert head.status_code == 200, head.text
        assert head.headers["content-length"] == str(len(whole.content))
        assert head.headers["accept-ranges"] == "bytes"
        assert head.content == b""


async def test_last_event_id_replays_exactly_what_was_missed(tmp_path: Path) -> None:
    async with client(config(tmp_path)) as http:
        job_id = (await http.post("/v1/decks", json={"topic": "Rivers", "slides": 2})).json()["id"]
        everything = await _finish(http, job_id)
        rest = await http.get(f"/v1/decks/{job_id}/events", headers={"Last-Event-ID": "4"})
        assert parse_sse(rest.text) == everything[4:]


async def test_an_uploaded_outline_loses_its_image_references(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for requests")
    outline = (
        "# Server files stay private\n\n## First\n- one point\n"
        f"![leak]({secret})\n\n## Second\n- two <img src='{secret}'>\n"
    )
    async with client(config(tmp_path)) as http:
        created = await http.post(
            "/v1/decks",
            files={"outline": ("deck.md", outline.encode(), "text/markdown")},
            data={"images": "none", "tts": "test-tts"},
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        events = await _finish(http, job_id)
        assert events[-1]["event"] == "deck"
        view = (await http.get(f"/v1/decks/{job_id}")).json()
        assert view["title"] == "Server files stay private"
        assert view["outline"] is True
        assert [s["title"] for s in view["slides"]] == ["First", "Second"]
        assert str(secret) not in json.dumps([e["data"] for e in events])
        assert not list((tmp_path / "decks" / view["project"]).glob("images/*"))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"topic": "x", "images": "local"}, 403),
        ({"topic": "x", "script": "markdown"}, 403),
        ({"topic": "x", "tts": "edge-tts"}, 403),
        ({"topic": "x", "voice": "../../voices/x.onnx"}, 422),
        ({"topic": "x", "project": "../outside"}, 422),
        ({"topic": "x", "markdown": "# both"}, 422),
        ({"topic": "x", "slides": 0}, 422),
        ({}, 422),
    ],
)
async def test_requests_outside_the_servers_bounds_are_refused(
    tmp_path: Path, body: dict, status: int
) -> None:
    async with client(config(tmp_path)) as http:
        response = await http.post("/v1/decks", json=body)
        assert response.status_code == status, response.text
        assert response.json()["error"]["message"]
        assert (await http.get("/v1/decks")).json()["decks"] == []


async def test_file_names_cannot_leave_the_deck_folder(tmp_path: Path) -> None:
    (tmp_path / "decks").mkdir()
    (tmp_path / "decks" / "private.txt").write_text("secret")
    async with client(config(tmp_path)) as http:
        job_id = (await http.post("/v1/decks", json={"topic": "Ice", "slides": 1})).json()["id"]
        await _finish(http, job_id)
        base = f"/v1/decks/{job_id}/files/"
        for name in ("..%2Fprivate.txt", "../private.txt", "%2Fetc%2Fpasswd", ".events.tmp",
                     "audio/..%2F..%2Fprivate.txt", "nothing.mp3"):  # fmt: skip
            response = await http.get(base + name)
            assert response.status_code in (404, 422), name
            assert b"secret" not in response.content
        assert (await http.get("/v1/decks/not-an-id")).status_code == 404
        assert (await http.get("/v1/decks/0123456789abcdef")).status_code == 404


async def test_the_token_guards_everything_but_healthz(tmp_path: Path) -> None:
    async with client(config(tmp_path, token=TOKEN)) as http:
        assert (await http.get("/healthz")).status_code == 200
        for path in ("/", "/v1/decks", "/static/app.js", "/openapi.json"):
            response = await http.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
        assert (
            await http.get("/v1/decks", headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        ok = await http.get("/v1/decks", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        login = await http.get(f"/?token={TOKEN}")
        assert login.status_code == 303
        assert "httponly" in login.headers["set-cookie"].lower()
        assert (await http.get("/v1/decks")).status_code == 200  # the cookie now


async def test_a_full_queue_answers_429_with_retry_after(tmp_path: Path) -> None:
    slow = {"test-tts": {"latency": 30.0}}
    cfg = config(tmp_path, max_decks=1, max_queue=1, provider_options=slow, grace_s=0.0)
    async with client(cfg) as http:
        for topic in ("one", "two"):
            assert (await http.post("/v1/decks", json={"topic": topic})).status_code == 202
        full = await http.post("/v1/decks", json={"topic": "three"})
        assert full.status_code == 429
        assert full.headers["retry-after"] == str(cfg.retry_after_s)
        health = (await http.get("/healthz")).json()
        assert (health["decks_running"], health["decks_queued"]) == (1, 1)


async def test_cancelling_stops_the_work_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    cfg = config(tmp_path, provider_options={"test-tts": {"latency": 30.0}})
    async with client(cfg) as http:
        job_id = (await http.post("/v1/decks", json={"topic": "Slow", "slides": 3})).json()["id"]
        with anyio.fail_after(10):
            while (await http.get(f"/v1/decks/{job_id}")).json()["status"] != "running":  # noqa: ASYNC110
                await anyio.sleep(0.02)
        cancelled = await http.delete(f"/v1/decks/{job_id}")
        assert cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["error"]["reason"] == "cancelled"
        events = await _finish(http, job_id)
        assert events[-1]["event"] == "failed"
        assert events[-1]["data"]["reason"] == "cancelled"
        folder = tmp_path / "decks" / cancelled.json()["project"]
        assert temp_files(folder) == []
        assert not (folder / "build").exists()


async def test_a_failed_run_ends_with_a_typed_failure_event(tmp_path: Path) -> None:
    cfg = config(tmp_path, provider_options={"test-script": {"fail_outline": True}})
    async with client(cfg) as http:
        job_id = (await http.post("/v1/decks", json={"topic": "Broken"})).json()["id"]
        events = await _finish(http, job_id)
        assert [e["event"] for e in events] == ["failed"]
        failure = events[0]["data"]
        assert (failure["reason"], failure["stage"], failure["error_type"]) == (
            "error",
            "outline",
            "PipelineError",
        )
        view = (await http.get(f"/v1/decks/{job_id}")).json()
        assert view["status"] == "failed"
        assert "outline" in view["error"]["message"].lower()
        seed = await http.post("/generate_presentation", json={"topic": "Broken"})
        assert seed.status_code == 502
        assert seed.json()["error"]["type"] == "PipelineError"


async def test_large_bodies_are_refused(tmp_path: Path) -> None:
    async with client(config(tmp_path, max_request_bytes=4096)) as http:
        response = await http.post("/v1/decks", json={"topic": "x", "markdown": "#" * 10_000})
        assert response.status_code == 413


async def test_jobs_survive_a_restart(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    async with client(cfg) as http:
        job_id = (await http.post("/v1/decks", json={"topic": "Deserts", "slides": 2})).json()["id"]
        events = await _finish(http, job_id)
        project = (await http.get(f"/v1/decks/{job_id}")).json()["project"]
    # Records left "running" and "queued" by a crash, one of them no longer resumable:
    record_path = tmp_path / "decks" / project / "slidestream-job.json"
    crashed = json.loads(record_path.read_text())
    crashed.update(id="fedcba9876543210", project="crashed", status="running")
    stranded = dict(crashed, id="0123456789abcdef", project="stranded", status="queued")
    stranded["providers"] = dict(crashed["providers"], tts="edge-tts")
    for record in (crashed, stranded):
        folder = tmp_path / "decks" / record["project"]
        folder.mkdir()
        (folder / "slidestream-job.json").write_text(json.dumps(record))
        (folder / ".half.mp4.tmp").write_bytes(b"partial")

    async with client(cfg) as http:
        finished = (await http.get(f"/v1/decks/{job_id}")).json()
        assert finished["status"] == "complete"
        assert (await http.get(finished["downloads"]["pptx"]["url"])).status_code == 200
        assert await _finish(http, job_id) == events
        # The interrupted deck is made again, and completes.
        replay = await _finish(http, "fedcba9876543210")
        assert replay[0]["event"] == "resumed"
        assert replay[-1]["event"] == "deck"
        resumed = (await http.get("/v1/decks/fedcba9876543210")).json()
        assert (resumed["status"], resumed["resumed"]) == ("complete", 1)
        assert (await http.get(resumed["downloads"]["pptx"]["url"])).status_code == 200
        # One whose TTS provider this server no longer offers fails, saying why.
        failed = (await http.get("/v1/decks/0123456789abcdef")).json()
        assert failed["status"] == "failed"
        assert failed["error"]["reason"] == "interrupted"
        assert "cannot be resumed" in failed["error"]["message"]
        assert "edge-tts" in failed["error"]["message"]
        assert (await _finish(http, "0123456789abcdef"))[-1]["event"] == "failed"
        for name in ("crashed", "stranded"):
            assert temp_files(tmp_path / "decks" / name) == []

    # Without resume, an interrupted deck is marked failed with the reason.
    (tmp_path / "decks" / "crashed" / "slidestream-job.json").write_text(json.dumps(crashed))
    (tmp_path / "decks" / "crashed" / "events.jsonl").unlink()
    async with client(config(tmp_path, resume=False)) as http:
        interrupted = (await http.get("/v1/decks/fedcba9876543210")).json()
        assert interrupted["status"] == "failed"
        assert interrupted["error"]["reason"] == "interrupted"
        assert (await _finish(http, "fedcba9876543210"))[-1]["event"] == "failed"


async def test_every_job_shares_the_service_limits(tmp_path: Path) -> None:
    cfg = config(tmp_path, max_decks=3, max_concurrent_tts=5, service_limits={"test-tts": 2})
    async with client(cfg) as http:
        ids = [
            (await http.post("/v1/decks", json={"topic": f"Rivers {n}", "slides": 3})).json()["id"]
            for n in range(3)
        ]
        for job_id in ids:
            assert (await _finish(http, job_id))[-1]["event"] == "deck"
        limits = {item["service"]: item for item in (await http.get("/v1/limits")).json()["limits"]}
    tts = limits["test-tts"]
    assert (tts["cap"], tts["calls"]) == (2, 9)
    assert 1 <= tts["peak_in_flight"] <= 2
    assert tts["in_flight"] == tts["waiting"] == 0
    assert limits["cpu"]["local"] is True


def test_a_public_address_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--insecure-no-token"):
        serve(ServerConfig(output_dir=tmp_path), host="0.0.0.0")


@pytest.mark.parametrize("name", ["local", "markdown"])
def test_providers_that_read_server_files_cannot_be_allowed(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match="own files"):
        ServerConfig(output_dir=tmp_path, image_providers=(name,))


def test_service_limits_are_named_by_service() -> None:
    cfg = ServerConfig(
        service_limits={"edge-tts": 2, "openai-tts@http://127.0.0.1:8880/v1/": 4},
        max_concurrent_tts=3,
        adaptive_limits=False,
    )
    limits = cfg.make_limits()
    assert limits.cap(ServiceKey.from_url("edge-tts", "wss://speech.platform.bing.com")) == 2
    assert limits.cap(ServiceKey.from_url("openai-tts", "http://127.0.0.1:8880/v1")) == 4
    assert limits.cap(ServiceKey("piper"), "tts") == 3
    assert limits.adaptive is False
    with pytest.raises(ConfigurationError, match="name@URL"):
        ServerConfig(service_limits={"openai-tts@nowhere": 2})
    with pytest.raises(ConfigurationError, match="whole number"):
        ServerConfig(service_limits={"edge-tts": 0})


@pytest.mark.parametrize("value", ["edge-tts", "edge-tts=0", "=3", "edge-tts=two"])
def test_serve_refuses_a_malformed_limit(tmp_path: Path, value: str) -> None:
    assert cli.main(["serve", "--out", str(tmp_path), "--limit", value]) == 2


@pytest.mark.parametrize(
    "line",
    [
        "!![x](y)[pic]({path})",  # removing the inner image joins '!' and '[pic](...)'
        "![pic]<img src=x>({path})",  # removing the <img> joins '![pic]' and '(...)'
        "![pic]![a](b)![c](d)({path})",
    ],
)
async def test_image_references_rebuilt_by_stripping_are_stripped_too(
    tmp_path: Path, line: str
) -> None:
    secret = tmp_path / "secret.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(secret)
    for path in (secret, tmp_path / "missing.png"):
        outline = f"# Private files\n\n## Only slide\n- a point\n{line.format(path=path)}\n"
        async with client(config(tmp_path)) as http:
            created = await http.post("/v1/decks", json={"markdown": outline, "tts": "none"})
            assert created.status_code == 202, created.text  # no "not found" oracle either
            events = await _finish(http, created.json()["id"])
            assert str(path) not in json.dumps([event["data"] for event in events])
            images = next(e for e in events if e["event"] == "images")["data"]["images"]
            assert not any("file:" in (image["source_url"] or "") for image in images)


async def test_another_site_cannot_start_or_cancel_decks_through_a_browser(tmp_path: Path) -> None:
    body = json.dumps({"topic": "Made by another site", "slides": 1})
    plain = {"Content-Type": "text/plain", "Origin": "http://evil.example"}  # no pre-flight
    async with client(config(tmp_path, cors_origins=("http://app.example",))) as http:
        refused = await http.post("/v1/decks", content=body, headers=plain)
        assert refused.status_code == 403, refused.text
        assert "origin" in refused.json()["error"]["message"].lower()
        form = await http.post("/v1/decks", data={"topic": "x"}, headers={"Origin": "null"})
        assert form.status_code == 403
        seed = await http.post(
            "/generate_presentation", json={"topic": "x"}, headers={"Origin": "http://evil.example"}
        )
        assert seed.status_code == 403
        assert (await http.get("/v1/decks")).json()["decks"] == []

        for origin in ("http://testserver", "http://app.example"):  # the page, a CORS origin
            made = await http.post("/v1/decks", content=body, headers={"Origin": origin})
            assert made.status_code == 202, made.text
            cancel = await http.delete(
                made.headers["location"], headers={"Origin": "http://evil.example"}
            )
            assert cancel.status_code == 403
            await _finish(http, made.json()["id"])


async def test_a_loopback_server_without_a_token_answers_only_to_loopback_names(
    tmp_path: Path,
) -> None:
    rebound = {"Host": "rebind.example:8765"}  # a DNS-rebinding page's requests name its host
    async with client(config(tmp_path), base_url="http://127.0.0.1:8765") as http:
        refused = await http.get("/v1/decks", headers=rebound)
        assert refused.status_code == 403, refused.text
        assert "--token" in refused.json()["error"]["message"]
        posted = await http.post("/v1/decks", json={"topic": "x"}, headers=rebound)
        assert posted.status_code == 403
        for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "app.localhost"):
            assert (await http.get("/v1/decks", headers={"Host": host})).status_code == 200, host
    async with client(config(tmp_path, token=TOKEN), base_url="http://127.0.0.1:8765") as http:
        bearer = {"Authorization": f"Bearer {TOKEN}", **rebound}  # the token is the guard
        assert (await http.get("/v1/decks", headers=bearer)).status_code == 200


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data  # no Content-Length: the body is counted as it arrives


@pytest.mark.parametrize(
    ("method", "path", "content", "status"),
    [
        ("POST", "/generate_presentation", b"{bad json", 422),
        ("POST", "/generate_presentation", b'{"topic": 5}', 422),
        ("POST", "/generate_presentation_legacy", b'{"topic": "x", "slides": 0}', 422),
        ("POST", "/generate_presentation", None, 413),  # chunked, larger than the limit
        ("GET", "/v1/decks/0123456789abcdef/events?after=abc", None, 422),
        ("GET", "/no/such/path", None, 404),
        ("PUT", "/v1/decks", b"{}", 405),
    ],
)
async def test_every_error_has_the_one_json_shape(
    tmp_path: Path, method: str, path: str, content: bytes | None, status: int
) -> None:
    async with client(config(tmp_path, max_request_bytes=4096)) as http:
        if status == 413:
            body: bytes | AsyncIterator[bytes] = _chunks(b'{"topic": "%s"}' % (b"x" * 8000))
        else:
            body = content or b""
        headers = {"Content-Type": "application/json"}
        response = await http.request(method, path, content=body, headers=headers)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert list(response.json()) == ["error"]
        assert (error["status"], bool(error["type"])) == (status, True)
        assert len(error["message"]) > 20, error["message"]


async def test_an_interrupted_decks_playlist_ends_when_it_is_marked_failed(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    async with client(cfg) as http:
        job_id = (await http.post("/v1/decks", json={"topic": "Dunes", "slides": 2})).json()["id"]
        await _finish(http, job_id)
        project = (await http.get(f"/v1/decks/{job_id}")).json()["project"]
    # A crash (kill -9) left the deck running, its playlist growing and never ended.
    folder = tmp_path / "decks" / project
    record = json.loads((folder / "slidestream-job.json").read_text())
    (folder / "slidestream-job.json").write_text(json.dumps(dict(record, status="running")))
    playlist = folder / "live" / "live.m3u8"
    playlist.write_text(playlist.read_text().replace("#EXT-X-ENDLIST\n", ""))
    (folder / "events.jsonl").unlink()

    async with client(config(tmp_path, resume=False)) as http:
        assert (await http.get(f"/v1/decks/{job_id}")).json()["status"] == "failed"
        text = (await http.get(f"/v1/decks/{job_id}/live.m3u8")).text
    assert text.count("#EXTINF") == 2
    assert text.rstrip().endswith("#EXT-X-ENDLIST")  # players stop instead of polling forever


async def test_a_project_made_again_never_serves_the_previous_decks_preview(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path, max_decks=1, provider_options={"test-tts": {"latency": 30.0}})
    async with client(config(tmp_path)) as http:
        first = (await http.post("/v1/decks", json={"topic": "Old", "project": "again"})).json()
        await _finish(http, first["id"])
    async with client(cfg) as http:
        busy = (await http.post("/v1/decks", json={"topic": "Busy", "slides": 2})).json()
        again = (await http.post("/v1/decks", json={"topic": "New", "project": "again"})).json()
        assert (await http.get(f"/v1/decks/{again['id']}")).json()["status"] == "queued"
        text = (await http.get(f"/v1/decks/{again['id']}/live.m3u8")).text
        assert "#EXTINF" not in text  # the old deck's slides are not this deck's preview
        assert "#EXT-X-ENDLIST" not in text
        for job_id in (again["id"], busy["id"]):
            await http.delete(f"/v1/decks/{job_id}")
