"""Runs that reuse the cache: what is asked of the providers again, and what is not."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import slidestream as ss
from slidestream._cache import CacheStore, Entry, usage
from slidestream._types import CacheKind
from slidestream.providers.script.markdown import MarkdownScriptProvider
from slidestream.testing import (
    CallRecorder,
    FakeImageProvider,
    FakeStreamingScriptProvider,
    FakeTTSProvider,
    FunctionTTSProvider,
)

pytestmark = pytest.mark.anyio


def calls(recorder: CallRecorder, stage: str) -> list[int]:
    return sorted(call.index for call in recorder.of(stage))


def topic_pipeline(
    tmp_path: Path, recorder: CallRecorder, *, cache_dir: Path | None, sequential: bool = False
) -> ss.StreamingPipeline:
    pipeline_class = ss.SequentialPipeline if sequential else ss.StreamingPipeline
    return pipeline_class(
        script_provider=FakeStreamingScriptProvider(slides=4, recorder=recorder, cacheable=True),
        image_provider=FakeImageProvider(size=(64, 36), recorder=recorder, cacheable=True),
        tts_provider=FakeTTSProvider(recorder=recorder, cacheable=True),
        output_dir=tmp_path / "out",
        assembler=ss.render.NullAssembler,
        cache_dir=cache_dir,
    )


def write_deck(
    path: Path, narrations: Sequence[str], *, titles: Sequence[str] = (), images: Sequence[str] = ()
) -> Path:
    parts = ["---\ntitle: Tides\n---\n# Tides\n"]
    for number, narration in enumerate(narrations):
        title = titles[number] if titles else f"Part {number + 1} of the tides"
        picture = f"\n![a picture]({images[number]})\n" if images else ""
        parts.append(f"## {title}\n\n- A first point\n- A second point\n{picture}\n{narration}\n")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


NARRATIONS = [
    "The moon pulls the sea towards it, and the water rises.",
    "Twice a day the water comes in, and twice a day it goes out again.",
    "Spring tides come with the full and the new moon.",
]


def markdown_pipeline(
    tmp_path: Path, deck: Path, recorder: CallRecorder, **options: object
) -> ss.StreamingPipeline:
    return ss.StreamingPipeline(
        script_provider=MarkdownScriptProvider(deck),
        image_provider=FakeImageProvider(size=(64, 36), recorder=recorder, cacheable=True),
        tts_provider=FakeTTSProvider(recorder=recorder, cacheable=True),
        output_dir=tmp_path / "out",
        assembler=ss.render.NullAssembler,
        cache_dir=tmp_path / "cache",
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_the_same_deck_again_asks_no_provider_anything(tmp_path: Path) -> None:
    first = CallRecorder()
    deck = await topic_pipeline(tmp_path, first, cache_dir=tmp_path / "cache").run("Tides")
    assert calls(first, "tts") == [0, 1, 2, 3] and calls(first, "outline") == [-1]
    assert not any(key.startswith("cached_") for key in deck.timings)

    again = CallRecorder()
    second = await topic_pipeline(tmp_path, again, cache_dir=tmp_path / "cache").run("Tides")
    assert again.calls == []
    assert [s.script for s in second.slides] == [s.script for s in deck.slides]
    for old, new in zip(deck.slides, second.slides, strict=True):
        assert new.audio_path is not None and old.audio_path is not None
        assert new.audio_path.read_bytes() == old.audio_path.read_bytes()
        assert new.duration_s == old.duration_s and new.words == old.words
        assert [i.data for i in new.images] == [i.data for i in old.images]
        assert new.images[0].license == "CC0-1.0" and new.providers == old.providers
        assert {"cached_script", "cached_images", "cached_tts"} <= set(new.timings)
        assert new.timings["cached_tts"] > 0 or new.timings["cached_tts"] == pytest.approx(0)
    assert "cached_outline" in second.timings
    assert (
        "from the cache: outline, slide scripts 4/4, images 4/4, narration clips 4/4"
        in second.report()
    )
    manifest = json.loads((second.project_dir / "slidestream.json").read_text())  # type: ignore[operator]
    assert manifest["cache"]["reused"] == {"outline": 1, "script": 4, "images": 4, "tts": 4}
    assert manifest["cache"]["problems"] == []


async def test_the_sequential_pipeline_shares_the_cache(tmp_path: Path) -> None:
    await topic_pipeline(tmp_path, CallRecorder(), cache_dir=tmp_path / "cache").run("Tides")
    again = CallRecorder()
    pipeline = topic_pipeline(tmp_path, again, cache_dir=tmp_path / "cache", sequential=True)
    deck = await pipeline.run("Tides")
    assert again.calls == [] and all("cached_tts" in s.timings for s in deck.slides)


async def test_editing_one_slides_narration_speaks_that_slide_only(tmp_path: Path) -> None:
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS)
    await markdown_pipeline(tmp_path, deck_file, CallRecorder()).run("Tides")
    edited = [NARRATIONS[0], "Twice a day the sea comes in and goes out.", NARRATIONS[2]]
    write_deck(deck_file, edited)
    recorder = CallRecorder()
    deck = await markdown_pipeline(tmp_path, deck_file, recorder).run("Tides")
    assert calls(recorder, "tts") == [1]
    assert calls(recorder, "images") == []
    assert deck.slides[1].script.narration == edited[1]
    assert "cached_tts" not in deck.slides[1].timings
    assert [("cached_tts" in s.timings) for s in deck.slides] == [True, False, True]
    assert all("cached_images" in s.timings for s in deck.slides)


async def test_retitling_a_slide_finds_its_images_again_but_keeps_its_narration(
    tmp_path: Path,
) -> None:
    titles = ["The moon pulls", "In and out", "Spring tides"]
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS, titles=titles)
    await markdown_pipeline(tmp_path, deck_file, CallRecorder()).run("Tides")
    write_deck(deck_file, NARRATIONS, titles=[titles[0], "High water, low water", titles[2]])
    recorder = CallRecorder()
    await markdown_pipeline(tmp_path, deck_file, recorder).run("Tides")
    assert calls(recorder, "images") == [1]
    assert calls(recorder, "tts") == []


async def test_swapping_one_slides_picture_speaks_nothing(tmp_path: Path) -> None:
    for name, colour in (("a.png", "red"), ("b.png", "blue"), ("c.png", "green")):
        Image.new("RGB", (80, 60), colour).save(tmp_path / name)
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS, images=["a.png", "b.png", "b.png"])
    first = await markdown_pipeline(tmp_path, deck_file, CallRecorder()).run("Tides")
    write_deck(deck_file, NARRATIONS, images=["a.png", "c.png", "b.png"])
    recorder = CallRecorder()
    deck = await markdown_pipeline(tmp_path, deck_file, recorder).run("Tides")
    assert recorder.calls == []
    assert deck.slides[1].images[0].data != first.slides[1].images[0].data
    assert deck.slides[0].images[0].data == first.slides[0].images[0].data


async def test_a_new_voice_speaks_every_slide_again_and_nothing_else(tmp_path: Path) -> None:
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS)
    await markdown_pipeline(tmp_path, deck_file, CallRecorder()).run("Tides")
    recorder = CallRecorder()
    await markdown_pipeline(tmp_path, deck_file, recorder).run("Tides", voice="another")
    assert calls(recorder, "tts") == [0, 1, 2]
    assert calls(recorder, "images") == []
    again = CallRecorder()
    await markdown_pipeline(tmp_path, deck_file, again).run("Tides", voice="another")
    assert again.calls == []


async def test_no_cache_computes_everything_and_writes_nothing(tmp_path: Path) -> None:
    env_cache = Path(ss.StreamingPipeline(script_provider="test-script").cache_dir or "")
    for _ in range(2):
        recorder = CallRecorder()
        deck = await topic_pipeline(tmp_path, recorder, cache_dir=None).run("Tides")
        assert calls(recorder, "tts") == [0, 1, 2, 3] and calls(recorder, "outline") == [-1]
        assert not any(key.startswith("cached_") for s in deck.slides for key in s.timings)
    assert usage(CacheStore(env_cache)).entries == 0
    manifest = json.loads((deck.project_dir / "slidestream.json").read_text())  # type: ignore[operator]
    assert "cache" not in manifest


async def test_fresh_asks_for_new_scripts_and_reuses_narration_of_the_same_text(
    tmp_path: Path,
) -> None:
    await topic_pipeline(tmp_path, CallRecorder(), cache_dir=tmp_path / "cache").run("Tides")
    recorder = CallRecorder()
    pipeline = topic_pipeline(tmp_path, recorder, cache_dir=tmp_path / "cache")
    deck = await pipeline.run("Tides", fresh=True)
    assert calls(recorder, "outline") == [-1] and calls(recorder, "script") == [0, 1, 2, 3]
    # The test script provider writes the same text again, so nothing else is redone.
    assert calls(recorder, "tts") == [] and calls(recorder, "images") == []
    assert all("cached_script" not in s.timings for s in deck.slides)


def _entries(cache: Path, kind: CacheKind) -> list[Path]:
    return sorted((cache / "v1" / kind.value).glob("*/*.json"))


async def test_a_damaged_clip_is_spoken_again_and_reported(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    await topic_pipeline(tmp_path, CallRecorder(), cache_dir=cache).run("Tides")
    entry = _entries(cache, CacheKind.TTS)[0]
    key = entry.name.removesuffix(".json")
    (blob,) = entry.parent.glob(f"{key}.audio.*")
    blob.write_bytes(blob.read_bytes()[:100])  # truncated, as by a power cut
    recorder = CallRecorder()
    deck = await topic_pipeline(tmp_path, recorder, cache_dir=cache).run("Tides")
    assert len(calls(recorder, "tts")) == 1
    assert all(slide.ok and slide.duration_s > 0 for slide in deck.slides)
    manifest = json.loads((deck.project_dir / "slidestream.json").read_text())  # type: ignore[operator]
    assert "damaged audio file" in manifest["cache"]["problems"][0]
    again = CallRecorder()
    await topic_pipeline(tmp_path, again, cache_dir=cache).run("Tides")
    assert again.calls == [], "the clip made again was kept"


async def test_a_provider_that_does_not_name_its_settings_is_always_asked(tmp_path: Path) -> None:
    for uncached in (FakeTTSProvider(), FakeImageProvider(), FakeStreamingScriptProvider()):
        assert uncached.cache_identity() is None, "test doubles are cached only when asked"
    clip = await FakeTTSProvider().synthesize("one two three", voice=None, language="en")

    def speak(text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
        return clip

    for identity, expected in ((None, [3, 3]), ({"engine": "fixed clip"}, [3, 0])):
        counts = []
        for _ in range(2):
            tts = FunctionTTSProvider(speak, cache_identity=identity)
            pipeline = ss.StreamingPipeline(
                script_provider=FakeStreamingScriptProvider(slides=3, cacheable=True),
                tts_provider=tts,
                output_dir=tmp_path / "out",
                assembler=ss.render.NullAssembler,
                cache_dir=tmp_path / f"cache-{identity is None}",
            )
            await pipeline.run("Tides")
            counts.append(len(tts.calls))
        assert counts == expected


async def test_a_partly_cached_deck_writes_only_the_missing_slides(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    await topic_pipeline(tmp_path, CallRecorder(), cache_dir=cache).run("Tides")
    for entry in _entries(cache, CacheKind.SCRIPT):
        if json.loads(entry.read_text())["data"]["index"] == 2:
            entry.unlink()
    recorder = CallRecorder()
    deck = await topic_pipeline(tmp_path, recorder, cache_dir=cache).run("Tides")
    assert calls(recorder, "script") == [2]
    assert calls(recorder, "tts") == [], "the same script speaks the same cached clip"
    assert [("cached_script" in s.timings) for s in deck.slides] == [True, True, False, True]


async def test_changed_provider_code_makes_new_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await topic_pipeline(tmp_path, CallRecorder(), cache_dir=tmp_path / "cache").run("Tides")
    monkeypatch.setattr("slidestream._cache.identity.code_version_of", lambda cls: "changed")
    recorder = CallRecorder()
    await topic_pipeline(tmp_path, recorder, cache_dir=tmp_path / "cache").run("Tides")
    assert calls(recorder, "tts") == [0, 1, 2, 3] and calls(recorder, "outline") == [-1]


async def test_a_full_cache_is_pruned_to_its_cap_after_a_run(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pipeline = topic_pipeline(tmp_path, CallRecorder(), cache_dir=cache)
    pipeline.cache_max_bytes = 1_200_000  # the deck's four clips are 2 MB
    await pipeline.run("Tides")
    left = usage(CacheStore(cache))
    assert 0 < left.bytes <= 1_200_000
    assert 0 < left.kinds[CacheKind.TTS].entries < 4


def _rewrite(
    cache: Path, kind: CacheKind, change: Callable[[Entry], tuple[dict[str, Any], dict[str, bytes]]]
) -> None:
    """Rewrite every ``kind`` entry whole (its checksums right) with ``change``'s data and blobs."""
    store = CacheStore(cache)
    for path in _entries(cache, kind):
        entry = store.get(kind, path.name.removesuffix(".json")).entry
        assert entry is not None
        data, blobs = change(entry)
        store.put(kind, entry.key, data=data, blobs=blobs, made_s=entry.made_s)


async def test_a_whole_entry_holding_no_image_or_no_audio_is_made_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = await topic_pipeline(tmp_path, CallRecorder(), cache_dir=cache).run("Tides")
    _rewrite(cache, CacheKind.IMAGES, lambda e: (e.data, {"image-0": b"not a picture" * 20}))
    _rewrite(cache, CacheKind.TTS, lambda e: (e.data, {"audio": b"RIFF and then nothing" * 20}))
    recorder = CallRecorder()
    deck = await topic_pipeline(tmp_path, recorder, cache_dir=cache).run("Tides")
    assert calls(recorder, "images") == [0, 1, 2, 3] and calls(recorder, "tts") == [0, 1, 2, 3]
    assert all(slide.ok for slide in deck.slides)
    assert [s.images[0].data for s in deck.slides] == [s.images[0].data for s in first.slides]
    manifest = json.loads((deck.project_dir / "slidestream.json").read_text())  # type: ignore[operator]
    assert len(manifest["cache"]["problems"]) == 8


async def test_a_clip_whose_length_is_not_the_one_kept_is_spoken_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = await topic_pipeline(tmp_path, CallRecorder(), cache_dir=cache).run("Tides")
    _rewrite(cache, CacheKind.TTS, lambda e: ({**e.data, "duration_s": 99.0}, e.blobs))
    recorder = CallRecorder()
    deck = await topic_pipeline(tmp_path, recorder, cache_dir=cache).run("Tides")
    assert calls(recorder, "tts") == [0, 1, 2, 3]
    assert [s.duration_s for s in deck.slides] == [s.duration_s for s in first.slides]


async def test_a_cache_that_cannot_be_written_is_named_in_the_report(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache's parent folder should be")
    recorder = CallRecorder()
    deck = await topic_pipeline(tmp_path, recorder, cache_dir=blocker / "cache").run("Tides")
    assert all(slide.ok for slide in deck.slides) and calls(recorder, "tts") == [0, 1, 2, 3]
    assert any("could not store a tts entry" in problem for problem in deck.cache_problems)
    report = deck.report()
    assert f"warning: the cache was not fully used: {deck.cache_problems[0]}" in report
    assert f"and {len(deck.cache_problems) - 1} more, in slidestream.json" in report

    clean = await topic_pipeline(tmp_path, CallRecorder(), cache_dir=tmp_path / "c").run("Tides")
    assert clean.cache_problems == [] and "warning" not in clean.report()
