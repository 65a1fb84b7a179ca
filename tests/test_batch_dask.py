"""``slidestream.batch`` on a Dask cluster: limits across workers, lost workers, lost leases.

Decks on the workers run through the engine's usual path with one ``ss.Limits`` per worker
whose online limits are held cluster-wide (``ss.DaskLeases``).

One local cluster of two worker processes serves the module. Leases time out after 2 s here
(30 s by default) so a lost worker's lease comes back quickly.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

import slidestream as ss
from slidestream import PipelineError
from slidestream._batch._folders import STAGING_DIR
from slidestream.providers.tts.openai import OpenAITTSProvider
from slidestream.testing import FakeImageProvider, FakeStreamingScriptProvider
from tests.servers.speech_server import SpeechServer, running_speech_server

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

LEASE_TIMEOUT_S = 2.0


@dataclass
class Cluster:
    address: str
    client: distributed.Client

    def worker_pids(self) -> dict[str, int]:
        """Each worker's process id, once both workers are up (after a restart too)."""
        self.client.wait_for_workers(2, timeout=60)
        return dict(self.client.run(os.getpid))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    settings = {
        "distributed.scheduler.locks.lease-timeout": f"{LEASE_TIMEOUT_S}s",
        "distributed.scheduler.locks.lease-validation-interval": "100ms",
    }
    with (
        dask.config.set(settings),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address="127.0.0.1:0"
        ) as local,
        distributed.Client(local) as client,
    ):
        yield Cluster(local.scheduler_address, client)


@pytest.fixture
def speech() -> Iterator[SpeechServer]:
    with running_speech_server(latency_s=0.2) as server:
        yield server


class BrokenOutlines(FakeStreamingScriptProvider):
    """Fails the outline of topics that start with "Broken" (a deck's own failure)."""

    async def outline(self, request: ss.DeckRequest) -> ss.Outline:
        if request.topic.startswith("Broken"):
            raise PipelineError("the outline service refused this topic", stage="outline")
        return await super().outline(request)


def providers(server: SpeechServer) -> dict[str, object]:
    """The test doubles as factories, and OpenAI-protocol speech from the counting server."""
    return {
        "script_provider": functools.partial(BrokenOutlines, slides=3, script_latency=0.05),
        "image_provider": functools.partial(FakeImageProvider, latency=0.02, size=(160, 90)),
        "tts_provider": functools.partial(
            OpenAITTSProvider, base_url=server.url, api_key="test-key", response_format="wav"
        ),
    }


def assert_complete(result: ss.BatchItemResult, out: Path) -> None:
    assert result.ok, result.error
    assert result.deck is not None
    folder = out / result.project
    assert result.deck.project_dir == folder
    assert [slide.index for slide in result.deck.slides] == [0, 1, 2]
    assert not any(slide.errors for slide in result.deck.slides)
    assert sorted(result.deck.files) == ["mp3", "pptx", "srt", "vtt"]
    assert all(path.parent == folder and path.stat().st_size for path in result.deck.files.values())
    assert len(list((folder / "audio").iterdir())) == 3
    assert json.loads((folder / "slidestream.json").read_text())["status"] == "complete"


pytestmark = pytest.mark.anyio


async def test_six_decks_on_two_workers_hold_one_tts_limit_and_survive_a_lost_worker(
    cluster: Cluster, speech: SpeechServer, tmp_path: Path
) -> None:
    pids = cluster.worker_pids()
    killed: list[str] = []

    def on_event(event: ss.BatchEvent) -> None:
        # Kill the first worker that has a slide's narration done: its decks are mid-way.
        if killed or event.kind is not ss.BatchEventKind.PROGRESS or event.worker is None:
            return
        if event.data["kind"] == "audio":
            killed.append(event.worker)
            os.kill(pids[event.worker], signal.SIGKILL)

    out = tmp_path / "out"
    results = await ss.batch(
        [f"Topic {n}" for n in range(3)] + ["Broken topic"] + [f"Topic {n}" for n in range(3, 6)],
        **providers(speech),
        max_concurrent_tts=3,
        output_dir=out,
        render_options=ss.RenderOptions(video=False, pdf=False),
        cluster=cluster.address,
        on_event=on_event,
    )
    assert killed
    broken = results.pop(3)
    assert not broken.ok and broken.deck is None
    assert "refused this topic" in (broken.error or "") and broken.attempts == 1
    for result in results:
        assert_complete(result, out)
        assert result.deck is not None
        # Each deck took its slots from its worker's Limits, as any pipeline does.
        tts = [f for f in result.deck.limits if f.service.name == "openai-tts"]
        assert len(tts) == 1 and tts[0].cap == 3 and tts[0].peak_in_flight <= 3
    assert max(result.attempts for result in results) >= 2
    assert all(result.worker != killed[0] for result in results if result.attempts > 1)
    # Every TTS call of both workers (and of the lost one) went through one limit of 3; a
    # retried deck may take the lost attempt's narration from the cache the workers share.
    reused = sum(
        "cached_tts" in slide.timings
        for result in results
        if result.deck
        for slide in result.deck.slides
    )
    assert speech.calls + reused >= 18
    assert speech.peak_in_flight <= 3
    assert sorted(p.name for p in out.iterdir()) == [f"topic-{n}" for n in range(6)]
    assert not (out / STAGING_DIR).exists()


async def _hold_a_slot(limits: ss.Limits, flag: str) -> None:
    async with limits.slot("edge-tts", stage="tts"):
        await distributed.Event(flag).set()
        await anyio.sleep(600)


def test_a_lost_workers_lease_is_kept_until_it_times_out(cluster: Cluster) -> None:
    pids = cluster.worker_pids()
    victim = sorted(pids)[0]
    leases = ss.DaskLeases(lease_timeout=f"{LEASE_TIMEOUT_S}s")
    limits = ss.Limits(tts=1, leases=leases)
    flag = f"held-{leases.name}"
    future = cluster.client.submit(
        _hold_a_slot, limits, flag, workers=[victim], allow_other_workers=False, pure=False
    )
    assert distributed.Event(flag).wait(timeout=60)
    name = leases.semaphore_name(ss.ServiceKey("edge-tts"))
    semaphore = distributed.Semaphore(max_leases=1, name=name)
    assert semaphore.get_value() == 1
    os.kill(pids[victim], signal.SIGKILL)
    lost = time.monotonic()
    # The dead worker's lease still counts: the limit of 1 is not exceeded...
    assert semaphore.acquire(timeout=0) is False
    assert semaphore.get_value() == 1
    # ...until the scheduler frees it, a lease timeout after its last refresh.
    assert semaphore.acquire(timeout=60) is True
    assert time.monotonic() - lost >= LEASE_TIMEOUT_S / 2
    assert semaphore.get_value() == 1
    semaphore.release()
    semaphore.close()
    future.cancel()


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_decks_come_back_to_the_client_when_sent(
    cluster: Cluster, speech: SpeechServer, tmp_path: Path
) -> None:
    cluster.worker_pids()
    out = tmp_path / "out"
    results = await ss.batch(
        ["Tides", "Bees"],
        **providers(speech),
        output_dir=out,
        render_options=ss.RenderOptions(video=False, pdf=False),
        cluster=cluster.address,
        files="send",
    )
    for result in results:
        assert_complete(result, out)
        assert result.worker is not None
        manifest = json.loads((out / result.project / "slidestream.json").read_text())
        assert manifest["deck"]["project_dir"] == str(out / result.project)
    assert not (out / STAGING_DIR).exists()
