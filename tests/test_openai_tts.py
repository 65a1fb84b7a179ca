"""The ``openai-tts`` provider against a local ``/v1/audio/speech`` server."""

from __future__ import annotations

import io
import subprocess
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import imageio_ffmpeg
import pytest

from slidestream._exceptions import InvalidInputError, ProviderError, ProviderResponseError
from slidestream._media import check_clip
from slidestream._text import chunk_text
from slidestream.providers import get
from slidestream.providers.openai import OpenAITTSProvider, RetryPolicy
from slidestream.providers.tts.openai import MAX_INPUT_CHARS
from tests.servers.openai_server import Failure, OpenAIServer, make_mp3, running_openai_server

FAST = RetryPolicy(max_retries=2, initial_delay_s=0.01, max_delay_s=0.02)
SPEECH = "/v1/audio/speech"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with running_openai_server() as server:
        server.api_key = "sk-tts"
        yield server


@pytest.fixture
async def tts(server: OpenAIServer) -> AsyncIterator[OpenAITTSProvider]:
    server.requests.clear()
    server.always_fail = None
    server.speech_answer = "asked"
    async with OpenAITTSProvider(
        base_url=server.url, api_key="sk-tts", model="tts-1", retry=FAST
    ) as provider:
        yield provider


def _probe_duration(audio: bytes, tmp_path: Path) -> float:
    """Decode with ffmpeg (independently of the provider) and count the samples."""
    path = tmp_path / "clip.mp3"
    path.write_bytes(audio)
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path)]
    command += ["-f", "s16le", "-ac", "1", "-ar", "8000", "-"]
    pcm = subprocess.run(command, check=True, capture_output=True).stdout
    return len(pcm) / 2 / 8000


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_synthesize_returns_mp3_with_its_real_duration(
    server: OpenAIServer, tts: OpenAITTSProvider, tmp_path: Path
) -> None:
    clip = await tts.synthesize("Hello there, tides.", voice=None, language="en")
    assert clip.format == "mp3"
    assert clip.words == []
    assert clip.duration_s == pytest.approx(_probe_duration(clip.audio, tmp_path), abs=0.1)
    assert clip.duration_s == pytest.approx(1.5, abs=0.15)
    (sent,) = server.of(SPEECH)
    assert sent.body == {
        "model": "tts-1",
        "input": "Hello there, tides.",
        "voice": "alloy",
        "response_format": "mp3",
    }
    assert sent.headers["Authorization"] == "Bearer sk-tts"


@pytest.mark.anyio
async def test_voice_speed_instructions_and_wav(server: OpenAIServer) -> None:
    async with OpenAITTSProvider(
        base_url=server.url,
        api_key="sk-tts",
        response_format="wav",
        speed=1.25,
        instructions="Speak warmly.",
    ) as tts:
        clip = await tts.synthesize("Hi.", voice="nova", language="de")
    with wave.open(io.BytesIO(clip.audio)) as reader:
        assert reader.getnframes() / reader.getframerate() == pytest.approx(clip.duration_s)
    sent = server.of(SPEECH)[-1].body
    assert (sent["voice"], sent["speed"], sent["instructions"]) == ("nova", 1.25, "Speak warmly.")
    assert sent["model"] == "gpt-4o-mini-tts"


@pytest.mark.anyio
async def test_long_text_is_spoken_in_pieces_and_joined(
    server: OpenAIServer, tts: OpenAITTSProvider, tmp_path: Path
) -> None:
    sentence = "This sentence is part of a very long narration. "
    text = sentence * (MAX_INPUT_CHARS // len(sentence) + 10)
    clip = await tts.synthesize(text, voice=None, language="en")
    pieces = [r.body["input"] for r in server.of(SPEECH)]
    assert len(pieces) == 2
    assert all(len(p) <= MAX_INPUT_CHARS for p in pieces)
    assert " ".join(pieces) == text.strip()
    assert clip.duration_s == pytest.approx(2 * check_clip(make_mp3(1.5), "mp3")[1])
    assert _probe_duration(clip.audio, tmp_path) == pytest.approx(clip.duration_s, abs=0.2)


@pytest.mark.anyio
async def test_streamed_wav_pieces_with_unknown_lengths_are_joined(
    server: OpenAIServer, tmp_path: Path
) -> None:
    server.requests.clear()
    server.speech_answer = "streamed-wav"
    sentence = "This sentence is part of a very long narration. "
    text = sentence * (MAX_INPUT_CHARS // len(sentence) + 10)
    async with OpenAITTSProvider(
        base_url=server.url, api_key="sk-tts", response_format="wav", retry=FAST
    ) as tts:
        clip = await tts.synthesize(text, voice=None, language="en")
    assert len(server.of(SPEECH)) == 2
    with wave.open(io.BytesIO(clip.audio)) as reader:
        assert reader.getnframes() / reader.getframerate() == pytest.approx(3.0)
    assert clip.duration_s == pytest.approx(3.0)


@pytest.mark.anyio
@pytest.mark.parametrize(("asked", "sent"), [("mp3", "wav"), ("wav", "mp3")])
async def test_audio_in_another_format_than_asked_is_kept_in_the_format_sent(
    server: OpenAIServer, asked: str, sent: str
) -> None:
    server.requests.clear()
    server.speech_answer = "wav" if sent == "wav" else "mp3"
    async with OpenAITTSProvider(
        base_url=server.url, api_key="sk-tts", response_format=asked, retry=FAST
    ) as tts:
        clip = await tts.synthesize("Hello there, tides.", voice=None, language="en")
    server.speech_answer = "asked"
    assert server.of(SPEECH)[-1].body["response_format"] == asked
    assert clip.format == sent
    assert clip.duration_s == pytest.approx(check_clip(clip.audio, sent)[1])
    assert clip.duration_s == pytest.approx(1.5, abs=0.1)


@pytest.mark.anyio
async def test_an_html_page_instead_of_audio_is_reported_with_its_text(
    server: OpenAIServer, tts: OpenAITTSProvider
) -> None:
    server.speech_answer = "html"
    with pytest.raises(
        ProviderResponseError, match=r"text/html instead of audio.*Voice not loaded"
    ):
        await tts.synthesize("Hello.", voice=None, language="en")
    assert len(server.of(SPEECH)) == 1


@pytest.mark.anyio
async def test_a_500_storm_names_the_provider_and_call(
    server: OpenAIServer, tts: OpenAITTSProvider
) -> None:
    server.always_fail = Failure(503, "Service unavailable")
    with pytest.raises(ProviderError) as caught:
        await tts.synthesize("Hello.", voice=None, language="en")
    assert (caught.value.provider, caught.value.stage, caught.value.status_code) == (
        "openai-tts",
        "tts",
        503,
    )
    assert "POST /audio/speech" in str(caught.value)
    assert len(server.of(SPEECH)) == FAST.max_retries + 1


@pytest.mark.anyio
async def test_a_refused_voice_is_a_clear_error(
    server: OpenAIServer, tts: OpenAITTSProvider
) -> None:
    server.failures.append(Failure(400, "Invalid voice 'en-US-AriaNeural'.", type="invalid"))
    with pytest.raises(ProviderResponseError, match="Invalid voice"):
        await tts.synthesize("Hello.", voice="en-US-AriaNeural", language="en")
    assert len(server.of(SPEECH)) == 1


@pytest.mark.anyio
async def test_empty_text_is_refused_before_any_request(
    server: OpenAIServer, tts: OpenAITTSProvider
) -> None:
    with pytest.raises(InvalidInputError):
        await tts.synthesize("  \n ", voice=None, language="en")
    assert server.of(SPEECH) == []


def test_options_are_checked_and_the_registry_builds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SLIDESTREAM_TTS_MODEL", "kokoro")
    provider = get("openai-tts", voice="af_bella")
    assert isinstance(provider, OpenAITTSProvider)
    assert (provider.config.model, provider.voice) == ("kokoro", "af_bella")
    with pytest.raises(InvalidInputError):
        OpenAITTSProvider(response_format="ogg")
    with pytest.raises(InvalidInputError):
        OpenAITTSProvider(speed=9)


def test_chunk_text_cuts_between_sentences() -> None:
    assert chunk_text("One. Two! Three?", 9) == ["One. Two!", "Three?"]
    assert chunk_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert chunk_text("   ", 10) == []
