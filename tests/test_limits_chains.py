"""Fallback chains under service limits: each call to a member takes the member's own limit.

A chain (``--tts edge-tts,piper``) has no limit of its own. An Edge call made through it
shares the Edge limit with every run calling Edge directly, throttling it hears lowers that
limit, and a local member (Piper) takes its share of the CPU budget.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import slidestream as ss
from slidestream import Limits, ServiceKey, member_slot, report_throttled
from slidestream._limits import member_keys
from slidestream._models import SpeechClip
from slidestream.providers import FallbackTTS
from slidestream.testing import CallRecorder, FakeStreamingScriptProvider, FakeTTSProvider

pytestmark = pytest.mark.anyio

SHARED = ServiceKey("shared-speech")
LOCAL = ServiceKey("local-speech", local=True)


class SharedSpeech(FakeTTSProvider):
    """A speech service several providers call: it is limited under one key."""

    limit_key = SHARED


class LocalSpeech(FakeTTSProvider):
    """Speech made on this machine: each call also takes a share of the CPU budget."""

    limit_key = LOCAL


class Refusing(FakeTTSProvider):
    """A member that always fails, so every call goes on to the next member."""

    name = "refusing"

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        raise ss.ProviderError("refused", provider=self.name, stage="tts")


def _pipeline(tmp_path: Path, name: str, tts: object, limits: Limits) -> ss.StreamingPipeline:
    return ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=6),
        tts_provider=tts,  # type: ignore[arg-type]
        output_dir=tmp_path / name,
        assembler=ss.render.NullAssembler,
        limits=limits,
        cache_dir=None,
    )


def test_a_chain_names_its_members_services() -> None:
    chain = FallbackTTS([SharedSpeech(), FallbackTTS([Refusing(), LocalSpeech()])])
    assert member_keys(chain) == (SHARED, ServiceKey("refusing"), LOCAL)
    assert member_keys(SharedSpeech()) == ()


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_chain_and_a_direct_caller_share_the_members_limit(tmp_path: Path) -> None:
    recorder = CallRecorder()
    direct = SharedSpeech(latency=0.02, recorder=recorder)
    chained = FallbackTTS([SharedSpeech(latency=0.02, recorder=recorder), LocalSpeech()])
    limits = Limits(tts=4, services={SHARED: 2})
    runs = [
        _pipeline(tmp_path, "direct", direct, limits),
        _pipeline(tmp_path, "chained", chained, limits),
    ]
    decks: list[ss.DeckResult] = []

    async def make(pipeline: ss.StreamingPipeline) -> None:
        decks.append(await pipeline.run("Tides"))

    async with anyio.create_task_group() as group:
        for pipeline in runs:
            group.start_soon(make, pipeline)

    assert [len(deck.slides) for deck in decks] == [6, 6]
    assert all(slide.audio_path is not None for deck in decks for slide in deck.slides)
    assert len(recorder.of("tts")) == 12
    assert recorder.max_in_flight["tts"] == 2  # both runs' calls, under the one limit of 2
    figures = limits.statistics(SHARED)
    assert figures.calls == 12
    assert figures.peak_in_flight == 2
    assert ServiceKey("fallback(shared-speech,local-speech)") not in limits.statistics()


async def test_a_local_member_takes_a_share_of_the_cpu_budget(tmp_path: Path) -> None:
    chained = FallbackTTS([Refusing(), LocalSpeech(latency=0.01)])
    limits = Limits(tts=4, cpu=1)
    deck = await _pipeline(tmp_path, "local", chained, limits).run("Tides")

    assert all(slide.audio_path is not None for slide in deck.slides)
    assert limits.statistics(LOCAL).calls == 6
    # It never answered, so it rests after its first failure: later slides skip it.
    assert limits.statistics(ServiceKey("refusing")).calls == 1
    assert limits.statistics(ServiceKey.CPU).peak_in_flight == 1


async def test_throttling_heard_through_a_chain_lowers_the_members_limit(tmp_path: Path) -> None:
    class Throttled(SharedSpeech):
        async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
            report_throttled(0.0)
            return await super().synthesize(text, voice=voice, language=language)

    limits = Limits(tts=4)
    events = []
    pipeline = _pipeline(tmp_path, "throttled", FallbackTTS([Throttled(), LocalSpeech()]), limits)
    async with pipeline.stream("Tides") as stream:
        events = [event async for event in stream]

    changes = [event for event in events if isinstance(event, ss.LimitChanged)]
    assert changes and changes[0].service == str(SHARED)
    assert limits.statistics(SHARED).throttled == 6


async def test_member_slot_outside_a_pipeline_is_a_plain_block() -> None:
    async with member_slot(SharedSpeech()) as held:
        assert held is None
