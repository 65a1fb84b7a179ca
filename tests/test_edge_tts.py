"""EdgeTTSProvider against a local server that speaks the Edge TTS websocket exchange.

The real ``edge-tts`` client runs unchanged; only its service URLs (module constants of
the library) point at 127.0.0.1.
"""

from __future__ import annotations

import email.utils
import subprocess
import threading
import time
from pathlib import Path

import anyio
import edge_tts
import imageio_ffmpeg
import pytest

from slidestream import ConfigurationError, ProviderError
from slidestream._exceptions import (
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from slidestream._text import chunk_text
from slidestream.providers import RetryPolicy, get
from slidestream.providers._common.audio import mp3_duration
from slidestream.providers.edge import EdgeTTSProvider
from slidestream.providers.tts.edge import pick_voice
from tests.servers.edge_server import (
    FRAME_TICKS,
    LEAD_FRAMES,
    VOICES,
    EdgeServerState,
    client_urls,
    mp3_frames,
    serve_edge,
)


def decoded_seconds(path: Path) -> float:
    """Decode an audio file to 16-bit mono PCM with ffmpeg and measure it."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path)]
    command += ["-f", "s16le", "-ac", "1", "-ar", "24000", "-"]
    pcm = subprocess.run(command, capture_output=True, check=True, timeout=60).stdout
    return len(pcm) / 2 / 24000


FAST = RetryPolicy(max_retries=2, initial_delay_s=0.01, max_delay_s=0.02)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_audio_and_word_timings(edge_service: EdgeServerState, tmp_path: Path) -> None:
    tts = EdgeTTSProvider(retry=FAST)
    clip = await tts.synthesize("Hello streaming world.", voice=None, language="en")

    assert clip.format == "mp3"
    assert [w.text for w in clip.words] == ["Hello", "streaming", "world"]
    assert clip.words[0].start_s == pytest.approx(LEAD_FRAMES * FRAME_TICKS / 1e7)
    assert all(a.end_s <= b.start_s for a, b in zip(clip.words, clip.words[1:], strict=False))
    # The audio is real MP3 that ffmpeg decodes, as long as the provider says.
    path = tmp_path / "clip.mp3"
    path.write_bytes(clip.audio)
    assert clip.duration_s == pytest.approx(decoded_seconds(path), abs=0.05)
    assert clip.duration_s >= clip.words[-1].end_s
    # It asked for word boundaries and got the voice picked for "en".
    options = edge_service.configs[0]["context"]["synthesis"]["audio"]["metadataoptions"]
    assert options["wordBoundaryEnabled"] == "true"
    assert edge_service.requests[0][0].endswith("(en-US, AriaNeural)")
    await tts.aclose()


@pytest.mark.anyio
async def test_voice_from_language_and_list_fetched_once(edge_service: EdgeServerState) -> None:
    tts = EdgeTTSProvider(retry=FAST)
    await tts.synthesize("Guten Tag.", voice=None, language="de")
    await tts.synthesize("Bonjour.", voice=None, language="fr-FR")
    await tts.synthesize("Hello.", voice="en-GB-SoniaNeural", language="de")
    voices = [voice for voice, _ in edge_service.requests]
    assert voices[0].endswith("(de-DE, KatjaNeural)")
    assert voices[1].endswith("(fr-FR, DeniseNeural)")
    assert voices[2].endswith("(en-GB, SoniaNeural)")
    assert edge_service.voice_list_requests == 1
    await EdgeTTSProvider(retry=FAST).synthesize("Hi.", voice=None, language="en")
    assert edge_service.voice_list_requests == 1  # cached per process

    with pytest.raises(ConfigurationError, match="no voice for language 'xx'"):
        await tts.synthesize("Hi.", voice=None, language="xx")


@pytest.mark.anyio
async def test_long_narration_is_split_between_sentences(edge_service: EdgeServerState) -> None:
    sentences = [f"Sentence number {n} talks about streaming pipelines." for n in range(6)]
    tts = EdgeTTSProvider(voice="en-US-GuyNeural", max_chars=120, retry=FAST)
    clip = await tts.synthesize(" ".join(sentences), voice=None, language="en")

    texts = [text for _, text in edge_service.requests]
    assert len(texts) == 3
    assert " ".join(texts) == " ".join(sentences)
    assert len(clip.words) == 6 * 7
    starts = [w.start_s for w in clip.words]
    assert starts == sorted(starts)
    assert clip.duration_s == pytest.approx(mp3_duration(clip.audio))
    assert clip.words[-1].end_s <= clip.duration_s


@pytest.mark.anyio
async def test_dropped_connection_is_retried(edge_service: EdgeServerState) -> None:
    edge_service.drop_connections = 1
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    clip = await tts.synthesize("One two three four five six.", voice=None, language="en")
    assert edge_service.connections == 2
    assert [w.text for w in clip.words] == ["One", "two", "three", "four", "five", "six"]


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_connection_dropped_every_time_gives_provider_error(
    edge_service: EdgeServerState,
) -> None:
    edge_service.drop_connections = 10
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    with pytest.raises(ProviderError) as caught:
        await tts.synthesize("One two three four five six.", voice=None, language="en")
    assert caught.value.provider == "edge-tts"
    assert caught.value.stage == "tts"
    assert "synthesize failed after 3 attempt(s)" in str(caught.value)
    assert "mid-stream" in str(caught.value)
    assert edge_service.connections == 3


@pytest.mark.anyio
async def test_handshake_statuses_are_retried_and_reported(
    edge_service: EdgeServerState,
) -> None:
    edge_service.handshake_statuses = [503]
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    clip = await tts.synthesize("Back again.", voice=None, language="en")
    assert len(clip.words) == 2

    edge_service.handshake_statuses = [429, 429, 429]
    with pytest.raises(ProviderRateLimitError) as caught:
        await tts.synthesize("Busy.", voice=None, language="en")
    assert caught.value.status_code == 429
    assert "last status 429" in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_a_handshake_retry_after_is_honoured(
    edge_service: EdgeServerState, form: str
) -> None:
    # The same retry loop as the HTTP providers: the service's wait is honoured in either form.
    edge_service.handshake_statuses = [503]
    if form == "seconds":
        edge_service.retry_after = "1"
    else:  # whole seconds only: wait until the next second begins, then ask for one more
        edge_service.retry_after = email.utils.formatdate(time.time() + 2, usegmt=True)
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    clip = await tts.synthesize("Back again.", voice=None, language="en")
    assert len(clip.words) == 2
    first, second = edge_service.handshakes
    assert second - first >= 0.9  # FAST alone would have waited 0.02 s at most


@pytest.mark.anyio
async def test_a_retry_after_beyond_the_limit_gives_up_at_once(
    edge_service: EdgeServerState,
) -> None:
    edge_service.handshake_statuses = [503]
    edge_service.retry_after = "3600"
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    with pytest.raises(ProviderError, match=r"after 1 attempt\(s\); last status 503") as caught:
        await tts.synthesize("Later.", voice=None, language="en")
    assert caught.value.status_code == 503
    assert len(edge_service.handshakes) == 1


@pytest.mark.anyio
async def test_unreachable_service(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_edge() as (base_url, _):
        wss_url, _ = client_urls(base_url)
    monkeypatch.setattr(edge_tts.communicate, "WSS_URL", wss_url)  # server now stopped
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    with pytest.raises(ProviderError, match="edge-tts: synthesize failed after 3") as caught:
        await tts.synthesize("Nobody home.", voice=None, language="en")
    assert caught.value.status_code is None


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.anyio
async def test_cancelling_under_trio_stops_the_request(edge_service: EdgeServerState) -> None:
    edge_service.word_delay_s = 0.2  # ten words: two seconds of streaming
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    with anyio.move_on_after(0.5) as scope:
        await tts.synthesize(
            "one two three four five six seven eight nine ten", voice=None, language="en"
        )
    assert scope.cancelled_caught
    # The asyncio loop thread is gone by the time the cancelled call returns.
    assert not any(t.name == "slidestream-asyncio" for t in threading.enumerate())
    assert edge_service.connections == 1


def test_options_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="rate='fast'"):
        EdgeTTSProvider(rate="fast")
    with pytest.raises(ConfigurationError, match="pitch"):
        EdgeTTSProvider(pitch="+5%")
    assert EdgeTTSProvider(rate="+10%", pitch="-5Hz", volume="+0%").rate == "+10%"


@pytest.mark.anyio
async def test_bad_voice_is_a_configuration_error() -> None:
    tts = EdgeTTSProvider(voice="not a voice")
    with pytest.raises(ConfigurationError, match="en-US-AriaNeural"):
        await tts.synthesize("Hello.", voice=None, language="en")


def test_registered_under_its_name() -> None:
    assert isinstance(get("edge-tts", voice="en-US-AriaNeural"), EdgeTTSProvider)


def test_pick_voice() -> None:
    assert pick_voice(VOICES, "en") == "en-US-AriaNeural"
    assert pick_voice(VOICES, "en-GB") == "en-GB-SoniaNeural"
    assert pick_voice(VOICES, "de_AT") == "de-AT-IngridNeural"
    assert pick_voice(VOICES, "fr") == "fr-FR-DeniseNeural"
    assert pick_voice(VOICES, "en-AU") == "en-GB-SoniaNeural"  # any voice of the language
    assert pick_voice(VOICES, "ja") is None


def test_long_narrations_are_chunked_between_sentences() -> None:
    assert chunk_text("  One.  Two!\nThree?  ", 1500) == ["One. Two! Three?"]
    assert chunk_text("One. Two. Three.", 9) == ["One. Two.", "Three."]
    assert chunk_text("", 1500) == []
    long = ("word " * 50).strip()  # one 249-character sentence is cut at a space
    assert chunk_text(long, 100) == [("word " * 20).strip()] * 2 + [("word " * 10).strip()]


def test_mp3_duration_counts_frames() -> None:
    frames = mp3_frames()
    assert mp3_duration(b"".join(frames[:50])) == pytest.approx(50 * 0.024)
    assert mp3_duration(b"ID3\x03\x00\x00\x00\x00\x00\x05hello" + frames[0]) == 0.024
    assert mp3_duration(b"not audio") == 0.0


@pytest.mark.anyio
async def test_a_403_is_retried_once_by_edge_tts_after_correcting_its_clock(
    edge_service: EdgeServerState,
) -> None:
    # The real service answers 403 to a stale Sec-MS-GEC token; edge-tts corrects its clock
    # from the answer's Date header and tries once more by itself.
    edge_service.handshake_statuses = [403]
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    clip = await tts.synthesize("Back again.", voice=None, language="en")
    assert len(clip.words) == 2
    assert len(edge_service.handshakes) == 2

    edge_service.handshake_statuses = [403, 403]  # still refused: no use trying again
    with pytest.raises(ProviderResponseError, match=r"after 1 attempt\(s\); last status 403"):
        await tts.synthesize("Refused.", voice=None, language="en")
    assert len(edge_service.handshakes) == 4


@pytest.mark.anyio
async def test_a_turn_without_audio_is_asked_again_then_reported(
    edge_service: EdgeServerState,
) -> None:
    edge_service.no_audio_turns = 1
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    clip = await tts.synthesize("One two three.", voice=None, language="en")
    assert [w.text for w in clip.words] == ["One", "two", "three"]
    assert edge_service.connections == 2

    edge_service.no_audio_turns = 10
    with pytest.raises(ProviderResponseError, match="No audio was received") as caught:
        await tts.synthesize("Nothing.", voice=None, language="en")
    assert caught.value.status_code is None
    assert edge_service.connections == 2 + FAST.max_retries + 1


@pytest.mark.anyio
async def test_a_websocket_closed_mid_audio_is_asked_again(edge_service: EdgeServerState) -> None:
    edge_service.close_mid_audio = 1  # a close frame after half the words, before turn.end
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    clip = await tts.synthesize("One two three four five six.", voice=None, language="en")
    assert [w.text for w in clip.words] == ["One", "two", "three", "four", "five", "six"]
    assert clip.duration_s == pytest.approx(mp3_duration(clip.audio))
    assert edge_service.connections == 2

    edge_service.close_mid_audio = 10
    with pytest.raises(ProviderError, match="closed mid-stream"):
        await tts.synthesize("One two three four five six.", voice=None, language="en")


@pytest.mark.anyio
async def test_a_silent_service_is_asked_once_more_then_reported(
    edge_service: EdgeServerState,
) -> None:
    edge_service.word_delay_s = 1.0
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST, timeout_s=0.4)
    with pytest.raises(ProviderTimeoutError, match=r"after 2 attempt\(s\)"):
        await tts.synthesize("Slowly spoken words.", voice=None, language="en")
    assert edge_service.connections == 2  # FAST would allow three attempts


@pytest.mark.anyio
async def test_a_voice_the_service_does_not_offer_is_named_at_once(
    edge_service: EdgeServerState,
) -> None:
    # A withdrawn or misspelt voice gets no audio from the real service, ever: no use asking
    # again; the user needs to hear which voice, not "verify that your parameters are correct".
    tts = EdgeTTSProvider(voice="zh-CN-XiaochenNeural", retry=FAST)
    with pytest.raises(ConfigurationError, match=r"'zh-CN-XiaochenNeural'.*--list-voices"):
        await tts.synthesize("Hello.", voice=None, language="en")
    assert len(edge_service.requests) == 1
    assert edge_service.voice_list_requests == 1

    # A voice the service offers that still gets no audio is asked again, as before.
    edge_service.no_audio_turns = 1
    clip = await tts.synthesize("Hello there.", voice="en-GB-SoniaNeural", language="en")
    assert [w.text for w in clip.words] == ["Hello", "there"]
    assert edge_service.voice_list_requests == 1


@pytest.mark.anyio
async def test_a_chain_speaks_with_the_next_member_when_edge_lacks_the_voice(
    edge_service: EdgeServerState,
) -> None:
    from slidestream.providers import FallbackTTS
    from slidestream.testing import FakeTTSProvider

    chain = FallbackTTS([EdgeTTSProvider(voice="en-US-NopeNeural", retry=FAST), FakeTTSProvider()])
    for text in ("First slide.", "Second slide."):
        clip = await chain.synthesize(text, voice=None, language="en")
        assert clip.provider == FakeTTSProvider().name
    assert len(edge_service.requests) == 1  # Edge rests after naming the voice


@pytest.mark.parametrize("max_chars", [2000, 120])
@pytest.mark.anyio
async def test_word_timings_stay_in_order_and_inside_the_audio(
    edge_service: EdgeServerState, max_chars: int
) -> None:
    # Offsets that run backwards, or a last word said to end long after the audio: subtitles
    # must still show the words in the order spoken, and the clip last as long as its audio.
    edge_service.backwards_word = 2
    edge_service.overrun_last_word_ticks = 50 * 10_000_000
    sentences = [f"Sentence number {n} talks about streaming pipelines." for n in range(6)]
    tts = EdgeTTSProvider(voice="en-US-GuyNeural", max_chars=max_chars, retry=FAST)
    clip = await tts.synthesize(" ".join(sentences), voice=None, language="en")

    spoken = [word for sentence in sentences for word in sentence.rstrip(".").split()]
    assert [w.text for w in clip.words] == spoken
    assert all(w.start_s <= w.end_s for w in clip.words)
    assert all(a.end_s <= b.start_s for a, b in zip(clip.words, clip.words[1:], strict=False))
    assert clip.duration_s == pytest.approx(mp3_duration(clip.audio))
    assert clip.words[-1].end_s <= clip.duration_s


@pytest.mark.anyio
async def test_a_stalled_voice_list_gives_up_within_the_time_limit(
    edge_service: EdgeServerState,
) -> None:
    # The voice is picked from the service's list; a list that never comes must not hold every
    # slide for aiohttp's five minutes.
    edge_service.voice_list_delay_s = 30.0
    tts = EdgeTTSProvider(retry=FAST, timeout_s=0.4)
    began = time.monotonic()
    with pytest.raises(ProviderTimeoutError, match=r"list_voices failed after 2 attempt\(s\)"):
        await tts.synthesize("Hello.", voice=None, language="en")
    assert time.monotonic() - began < 5
    assert edge_service.voice_list_requests == 2


@pytest.mark.anyio
async def test_sentence_timings_stand_in_when_the_service_sends_no_word_timings(
    edge_service: EdgeServerState,
) -> None:
    # The service may answer with sentence boundaries only (edge-tts 7.2 made them the
    # default); subtitles then follow the sentences rather than vanish.
    edge_service.sentence_boundaries_only = True
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", max_chars=100, retry=FAST)
    text = "The first sentence is here. " * 3 + "The last one & its end."
    clip = await tts.synthesize(text, voice=None, language="en")
    assert [w.text for w in clip.words] == chunk_text(text, 100)
    assert clip.words[0].start_s == pytest.approx(LEAD_FRAMES * FRAME_TICKS / 1e7)
    assert all(a.end_s <= b.start_s for a, b in zip(clip.words, clip.words[1:], strict=False))
    assert clip.words[-1].end_s <= clip.duration_s
