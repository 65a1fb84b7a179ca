"""The ``openai`` script provider inside the streaming pipeline and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from slidestream import StreamingPipeline, cli
from slidestream._models import SpeechClip
from slidestream.providers.openai import OpenAIScriptProvider
from slidestream.render import RenderOptions
from slidestream.testing import CallRecorder, FakeTTSProvider
from tests.servers.openai_server import Gate, OpenAIServer, Reply, running_openai_server


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with running_openai_server() as server:
        yield server


def _slide(n: int) -> str:
    return json.dumps(
        {"title": f"T{n}", "bullets": ["b"], "narration": f"Narration {n}.", "image_query": "q"}
    )


class _SignallingTTS(FakeTTSProvider):
    """A fake TTS that tells the test when its first call starts."""

    def __init__(self, recorder: CallRecorder) -> None:
        super().__init__(recorder=recorder)
        self.started = anyio.Event()

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        self.started.set()
        return await super().synthesize(text, voice=voice, language=language)


@pytest.mark.anyio
async def test_slide_one_is_spoken_before_the_model_has_written_slide_two(
    server: OpenAIServer, tmp_path: Path
) -> None:
    gate = Gate()
    outline = {
        "title": "Tides",
        "slides": [{"title": f"P{n}", "key_points": []} for n in (1, 2, 3)],
    }
    server.replies.append(Reply.text(json.dumps(outline)))
    first = '{"slides": [' + _slide(1) + ","
    server.replies.append(Reply([first, gate, _slide(2) + "," + _slide(3) + "]}"]))
    recorder = CallRecorder()
    tts = _SignallingTTS(recorder)
    script = OpenAIScriptProvider(base_url=server.url, model="local")
    pipeline = StreamingPipeline(
        script_provider=script,
        tts_provider=tts,
        output_dir=tmp_path,
        render_options=RenderOptions(video=False),
    )
    async with script, anyio.create_task_group() as group:
        results = []

        async def run() -> None:
            results.append(await pipeline.run("Tides", project="tides", slides=3))

        group.start_soon(run)
        with anyio.fail_after(10):
            await tts.started.wait()
        assert gate.reached.is_set()
        assert not gate.released.is_set()  # slide 2 is still unwritten on the server
        released_at = anyio.current_time()
        gate.release()
    assert recorder.first("tts", 0).start < released_at
    (deck,) = results
    assert [slide.script.title for slide in deck.slides] == ["T1", "T2", "T3"]
    assert all(slide.ok and slide.duration_s > 0 for slide in deck.slides)
    assert len(server.of("/v1/chat/completions")) == 2


def test_cli_uses_the_configured_endpoint_for_a_topic(
    server: OpenAIServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli")
    monkeypatch.setenv("SLIDESTREAM_MODEL", "llama3.1")
    server.api_key = "sk-cli"
    argv = ["make", "Tides", "--slides", "3", "--images", "none", "--tts", "none", "--no-video"]
    code = cli.main([*argv, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Outline: Tides (3 slides)" in out
    for n in (1, 2, 3):
        assert f"Slide {n}: Part {n} of Tides" in out
    assert "Deck ready" in out
    models = {r.body["model"] for r in server.of("/v1/chat/completions")}
    assert models == {"llama3.1"}


def test_cli_says_how_to_configure_an_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code = cli.main(["make", "Tides", "--tts", "none", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "OPENAI_BASE_URL=http://localhost:11434/v1 SLIDESTREAM_MODEL=llama3.1" in err
    assert "OPENAI_API_KEY" in err
    assert "Markdown" in err


def test_cli_gives_the_openai_provider_its_time_limits_and_output_mode(
    server: OpenAIServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    server.headers_delay_s = 1.0  # a model still loading, longer than the silence limit
    argv = ["make", "Tides", "--slides", "2", "--images", "none", "--tts", "none", "--no-video"]
    limits = ["--openai-timeout", "0.3", "--openai-first-token-timeout", "10"]
    code = cli.main([*argv, *limits, "--structured-output", "off", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Outline: Tides (2 slides)" in out
    assert all("response_format" not in r.body for r in server.of("/v1/chat/completions"))

    server.headers_delay_s = 2.0
    limits = ["--openai-first-token-timeout", "0.3", "--fresh"]  # not the outline just cached
    code = cli.main([*argv, *limits, "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert "--openai-first-token-timeout" in captured.out + captured.err
