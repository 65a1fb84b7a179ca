"""FallbackTTS and FallbackImages: a deck still gets a voice and images when a service is down."""

from __future__ import annotations

from pathlib import Path

import pytest

import slidestream as ss
from slidestream import ConfigurationError, DeckRequest, ProviderError, SlideScript, SpeechClip
from slidestream.providers import FallbackImages, FallbackTTS, RetryPolicy
from slidestream.providers.edge import EdgeTTSProvider
from slidestream.providers.images import OpenverseImages
from slidestream.testing import (
    FakeImageProvider,
    FakeStreamingScriptProvider,
    FakeTTSProvider,
    FunctionTTSProvider,
)
from tests.servers.edge_server import EdgeServerState
from tests.servers.image_servers import BASE_PATHS, ImageServerState, serve_images

FAST = RetryPolicy(max_retries=1, initial_delay_s=0.01, max_delay_s=0.02)
REQUEST = DeckRequest(topic="Tides", project="tides")
SLIDE = SlideScript(index=0, title="The moon", image_query="moon tide")


class PickyTTS:
    """A TTS double that knows no voice by name."""

    name = "picky"

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        if voice is not None:
            raise ConfigurationError(f"picky has no voice {voice!r}")
        return await FakeTTSProvider().synthesize(text, voice=None, language=language)


@pytest.mark.anyio
async def test_tts_falls_back_when_the_network_is_down(edge_service: EdgeServerState) -> None:
    edge_service.drop_connections = 100  # Edge never finishes a turn
    chain = FallbackTTS([EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST), PickyTTS()])
    assert chain.name == "fallback(edge-tts,picky)"

    clip = await chain.synthesize("Still spoken.", voice="en-US-AriaNeural", language="en")
    assert clip.format == "wav"
    assert [w.text for w in clip.words] == ["Still", "spoken."]
    assert edge_service.connections == 2  # one try and one retry

    await chain.synthesize("Again.", voice=None, language="en")
    assert edge_service.connections == 2  # Edge rests for the cool-down
    await chain.aclose()


@pytest.mark.anyio
async def test_tts_uses_the_first_member_that_works(edge_service: EdgeServerState) -> None:
    chain = FallbackTTS([EdgeTTSProvider(retry=FAST), FakeTTSProvider()])
    clip = await chain.synthesize("Edge speaks.", voice=None, language="en")
    assert clip.format == "mp3"


@pytest.mark.anyio
async def test_a_later_member_may_choose_its_own_voice() -> None:
    chain = FallbackTTS([FakeTTSProvider(fail_every=1), PickyTTS()])
    clip = await chain.synthesize("Spoken anyway.", voice="en-US-AriaNeural", language="en")
    assert clip.duration_s > 0


@pytest.mark.anyio
async def test_every_failure_is_named() -> None:
    chain = FallbackTTS([FakeTTSProvider(fail_every=1), FakeTTSProvider(fail_every=1)])
    with pytest.raises(ProviderError, match="every provider failed") as caught:
        await chain.synthesize("Nope.", voice=None, language="en")
    assert caught.value.stage == "tts"
    assert str(caught.value).count("test-tts: ") == 2  # both failures are listed


@pytest.mark.anyio
async def test_images_fall_back_and_empty_results_pass_on() -> None:
    with serve_images(ImageServerState(results=["photo.jpg"])) as server:
        refused = OpenverseImages(base_url=server.base_url + BASE_PATHS["openverse"], retry=FAST)
        chain = FallbackImages([refused, FakeImageProvider()])
        [image] = await chain.find_images(REQUEST, SLIDE, limit=1)
        assert image.license == "CC0-1.0"  # from the second member
        await chain.aclose()

        server.results = []
        empty = OpenverseImages(
            base_url=server.base_url + BASE_PATHS["openverse"],
            allow_private_addresses=True,
            retry=FAST,
        )
        chain = FallbackImages([empty, FakeImageProvider()])
        assert len(await chain.find_images(REQUEST, SLIDE, limit=1)) == 1
        assert await FallbackImages([empty]).find_images(REQUEST, SLIDE, limit=1) == []
        await chain.aclose()


def test_chains_are_public_and_need_members() -> None:
    assert ss.providers.FallbackTTS is FallbackTTS
    with pytest.raises(ConfigurationError):
        FallbackImages([])


def _clip(audio: bytes, audio_format: str) -> SpeechClip:
    return SpeechClip(audio=audio, format=audio_format, duration_s=9.0)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("audio", "audio_format", "problem"),
    [
        (b"\x00garbage, not audio" * 10, "mp3", "cannot be decoded"),
        (b"RIFF....WAVE", "../../elsewhere/x", "unknown audio format"),
        (b"", "wav", "no audio"),
    ],
    ids=["undecodable", "unknown-format", "empty"],
)
async def test_a_voice_whose_clip_does_not_decode_passes_the_call_on(
    audio: bytes, audio_format: str, problem: str
) -> None:
    broken = FunctionTTSProvider(lambda text, **_: _clip(audio, audio_format), name="broken")
    good = FakeTTSProvider(words_per_second=2.0)
    chain = FallbackTTS([broken, good])

    clip = await chain.synthesize("Two words.", voice=None, language="en")
    assert clip.provider == "test-tts"  # the voice that answered
    assert clip.format == "wav"
    assert clip.duration_s == pytest.approx(1.0, abs=0.01)  # measured from the audio
    assert broken.calls == ["Two words."]

    # The service answered, so the broken voice is asked again next time (no cool-down).
    await chain.synthesize("Again.", voice=None, language="en")
    assert len(broken.calls) == 2

    with pytest.raises(ProviderError, match=problem) as caught:
        await FallbackTTS([broken]).synthesize("Only broken.", voice=None, language="en")
    assert caught.value.stage == "tts"


@pytest.mark.anyio
async def test_the_first_voice_that_answers_is_named_on_its_clip() -> None:
    chain = FallbackTTS([FakeTTSProvider(), PickyTTS()])
    clip = await chain.synthesize("Spoken first.", voice=None, language="en")
    assert clip.provider == "test-tts"
    assert clip.to_dict(include_data=False)["provider"] == "test-tts"


@pytest.mark.anyio
async def test_the_slide_records_which_voice_of_a_chain_spoke_it(tmp_path: Path) -> None:
    broken = FunctionTTSProvider(
        lambda text, **_: _clip(b"\x00not audio" * 20, "mp3"), name="broken"
    )
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(),
        tts_provider=FallbackTTS([broken, FakeTTSProvider()]),
        output_dir=tmp_path,
        render_options=ss.RenderOptions(pptx=False, audio=False, subtitles=False, video=False),
    )
    deck = await pipeline.run("Tides", slides=2)
    assert [slide.providers["tts"] for slide in deck.slides] == ["test-tts", "test-tts"]
    assert all(slide.ok for slide in deck.slides)
    assert deck.to_dict()["slides"][0]["providers"] == {"tts": "test-tts"}


OUTLINE_WITH_A_SILENT_SLIDE = """# Tides

## The Moon

The Moon pulls the oceans toward it.

## The Sun

SILENTMARKER The Sun pulls the oceans as well, less strongly.

## Coasts

Coasts see two high tides a day.
"""


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_slide_whose_edge_call_gives_up_is_spoken_by_piper_and_says_so(
    edge_service: EdgeServerState, tmp_path: Path
) -> None:
    pytest.importorskip("piper")
    from slidestream.providers.script.markdown import MarkdownScriptProvider
    from slidestream.providers.tts.piper import PiperTTSProvider

    edge_service.silent_markers = {"SILENTMARKER"}  # that slide's turns never carry audio
    chain = FallbackTTS([EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST), PiperTTSProvider()])
    pipeline = ss.StreamingPipeline(
        script_provider=MarkdownScriptProvider(text=OUTLINE_WITH_A_SILENT_SLIDE),
        tts_provider=chain,
        output_dir=tmp_path,
        render_options=ss.RenderOptions(pptx=False, subtitles=False, video=False),
    )
    async with chain:
        deck = await pipeline.run("Tides")
    assert [slide.providers["tts"] for slide in deck.slides] == ["edge-tts", "piper", "edge-tts"]
    assert all(slide.ok for slide in deck.slides)
    assert deck.slides[1].audio_path is not None and deck.slides[1].audio_path.suffix == ".wav"
    assert deck.to_dict()["slides"][1]["providers"] == {"tts": "piper"}
