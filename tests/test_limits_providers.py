"""The built-in providers under service limits: the keys they declare, and throttling heard.

Every online provider names the service it calls (``limit_key``), so providers of one service
share one limit; the one retry loop reports 429/503/``Retry-After`` to that limit and waits
for the retry without its slot. End to end: a local OpenAI speech server that refuses calls
above N in flight makes the adaptive limit drop, with a ``LimitChanged`` event in the run's
events and no slide failing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import slidestream as ss
from slidestream import LimitChanged, Limits, ServiceKey
from slidestream.providers.images.generated import GeneratedImageProvider
from slidestream.providers.images.openverse import OpenverseImages
from slidestream.providers.images.pexels import PexelsImages
from slidestream.providers.images.unsplash import UnsplashImages
from slidestream.providers.images.wikimedia import WikimediaImages
from slidestream.providers.openai import OpenAIScriptProvider, OpenAITTSProvider, RetryPolicy
from slidestream.providers.tts.edge import EdgeTTSProvider
from slidestream.testing import FakeStreamingScriptProvider
from tests.servers.edge_server import EdgeServerState
from tests.servers.speech_server import running_speech_server

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(max_retries=2, initial_delay_s=0.01, max_delay_s=0.02)


def test_online_providers_key_their_service() -> None:
    edge = [EdgeTTSProvider(), EdgeTTSProvider(voice="en-GB-SoniaNeural")]
    assert ServiceKey.of(edge[0]) == ServiceKey.of(edge[1])
    assert ServiceKey.of(edge[0]) == ServiceKey("edge-tts", "wss://speech.platform.bing.com")

    chat = [
        OpenAIScriptProvider(base_url="http://LOCALHOST:80/v1/", api_key="k", model="a"),
        OpenAIScriptProvider(base_url="http://localhost/v1", api_key="k", model="b"),
    ]
    assert ServiceKey.of(chat[0]) == ServiceKey.of(chat[1])
    assert str(ServiceKey.of(chat[0])) == "openai@http://localhost/v1"
    other = OpenAIScriptProvider(base_url="http://127.0.0.1:9000/v1", api_key="k", model="a")
    assert ServiceKey.of(other) != ServiceKey.of(chat[0])

    speech = OpenAITTSProvider(base_url="http://127.0.0.1:8000/v1", api_key="k", model="tts-1")
    assert str(ServiceKey.of(speech)) == "openai-tts@http://127.0.0.1:8000/v1"
    assert not ServiceKey.of(speech).local

    images = {
        str(ServiceKey.of(provider))
        for provider in (
            OpenverseImages(),
            OpenverseImages(license_type="commercial"),
            WikimediaImages(),
            PexelsImages(api_key="key"),
            UnsplashImages(access_key="key"),
        )
    }
    assert images == {
        "openverse@https://api.openverse.org",
        "wikimedia@https://commons.wikimedia.org",
        "pexels@https://api.pexels.com",
        "unsplash@https://api.unsplash.com",
    }


def test_local_providers_are_keyed_as_local_work() -> None:
    pytest.importorskip("piper")
    from slidestream.providers.tts.piper import PiperTTSProvider

    for provider in (PiperTTSProvider(), GeneratedImageProvider()):
        key = ServiceKey.of(provider)
        assert key.local, key
    assert ServiceKey.of(PiperTTSProvider()) == ServiceKey("piper")


async def test_an_edge_429_lowers_the_edge_limit(edge_service: EdgeServerState) -> None:
    edge_service.handshake_statuses = [429]
    edge_service.retry_after = "0"
    tts = EdgeTTSProvider(voice="en-US-AriaNeural", retry=FAST)
    limits = Limits(services={ServiceKey.of(tts): 4})
    changes: list[LimitChanged] = []
    limits.watch(changes.append)
    async with limits.slot(ServiceKey.of(tts), index=0):
        clip = await tts.synthesize("Tides rise twice a day.", voice=None, language="en")
    assert clip.audio
    assert len(edge_service.handshakes) == 2
    figures = limits.statistics(ServiceKey.of(tts))
    assert figures.throttled == 1
    assert figures.lowest_limit < 4
    assert [change.reason for change in changes] == ["throttled"]
    assert changes[0].service == str(ServiceKey.of(tts))


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_throttling_speech_server_lowers_the_limit_and_no_slide_fails(
    tmp_path: Path,
) -> None:
    with running_speech_server(0.05, throttle_above=2, retry_ms=20) as server:
        tts = OpenAITTSProvider(
            base_url=server.url,
            api_key="sk-test",
            model="tts-1",
            response_format="wav",
            retry=RetryPolicy(max_retries=20, initial_delay_s=0.01, max_delay_s=0.05),
        )
        limits = Limits(tts=6)
        pipeline = ss.StreamingPipeline(
            script_provider=FakeStreamingScriptProvider(slides=8),
            tts_provider=tts,
            output_dir=tmp_path,
            assembler=ss.render.NullAssembler,
            limits=limits,
            cache_dir=None,
        )
        events: list[ss.Event] = []
        async with tts, pipeline.stream("Tides", project="tides") as stream:
            async for event in stream:
                events.append(event)
        stats = server.stats()

    key = ServiceKey.of(tts)
    slides = [event for event in events if isinstance(event, ss.SlideResult)]
    assert len(slides) == 8
    assert all(not slide.errors and slide.audio_path is not None for slide in slides)
    assert stats["throttled"] > 0
    assert stats["peak_in_flight"] <= 2
    changes = [event for event in events if isinstance(event, LimitChanged)]
    assert changes and changes[0].reason == "throttled"
    assert changes[0].service == str(key)
    assert changes[0].retry_after_s == pytest.approx(0.02)
    figures = limits.statistics(key)
    assert figures.throttled == stats["throttled"]
    assert figures.lowest_limit <= 2 < figures.cap
