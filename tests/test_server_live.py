"""The live preview's assembler on its own: a preview that cannot be made never costs the deck."""

from __future__ import annotations

from pathlib import Path

import pytest

import slidestream as ss
from slidestream.testing import FakeImageProvider, FakeStreamingScriptProvider, FakeTTSProvider

pytest.importorskip("fastapi")

from slidestream.server._live import live_assembler

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("blocked", ["slide-002.png", "slide-002.ts"])
async def test_a_slide_whose_preview_fails_ends_the_preview_not_the_deck(
    tmp_path: Path, blocked: str
) -> None:
    # A directory where the preview's frame or segment goes makes writing it fail.
    (tmp_path / "tides" / "live" / blocked).mkdir(parents=True)
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(words_per_slide=4),
        image_provider=FakeImageProvider(),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path,
        render_options=ss.RenderOptions(video=False),
        assembler=live_assembler(),
    )
    async with pipeline.stream("Tides", project="tides", slides=3) as events:
        kinds = [event.kind async for event in events]
    assert kinds[-1] == "deck"
    playlist = (tmp_path / "tides" / "live" / "live.m3u8").read_text()
    assert playlist.count("#EXTINF") == 1  # slide 1; the preview stops at the gap
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
