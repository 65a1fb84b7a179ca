"""The examples/ folder runs, and its decks are worth watching."""

from __future__ import annotations

import runpy
import wave
from pathlib import Path
from typing import Any

import pytest

import slidestream as ss
from slidestream import _registry
from slidestream.cli import DEMO_DECK
from slidestream.providers.offline import load_outline

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DECKS = sorted(EXAMPLES.glob("*.md"))


def load(name: str) -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / name), run_name="example")


def test_there_are_at_least_two_example_decks() -> None:
    assert len(DECKS) >= 2


@pytest.mark.parametrize("path", DECKS, ids=lambda p: p.name)
def test_example_decks_are_real_decks(path: Path) -> None:
    deck = load_outline(path)
    assert 6 <= len(deck.slides) <= 10
    assert deck.language == "en"
    written = [slide for slide in deck.slides if slide.narration]
    assert len(written) >= len(deck.slides) - 1
    for slide in written:
        assert 40 <= len(slide.narration.split()) <= 90, slide.title
        assert len(slide.bullets) >= 2
    assert any(slide.image_path is not None for slide in deck.slides)
    for slide in deck.slides:
        if slide.image_path is not None:
            assert slide.image_path.is_relative_to(EXAMPLES / "images")
            assert slide.image_path.stat().st_size < 200_000


def test_bundled_demo_deck_matches_the_example() -> None:
    example = EXAMPLES / DEMO_DECK.name
    assert DEMO_DECK.read_bytes() == example.read_bytes()
    for slide in load_outline(DEMO_DECK).slides:
        if slide.image_path is not None:
            shipped = EXAMPLES / "images" / slide.image_path.name
            assert slide.image_path.read_bytes() == shipped.read_bytes()


@pytest.mark.anyio
async def test_custom_provider_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "_runtime", {})
    example = load("custom_provider.py")
    deck: ss.DeckResult = await example["main"]("test-tts", tmp_path)
    assert deck.title == "Pancakes for four"
    assert [slide.script.title for slide in deck.slides] == [
        "Step 1: Gather the ingredients",
        "Step 2: Make the batter",
        "Step 3: Cook",
        "Step 4: Serve",
    ]
    assert all(slide.ok for slide in deck.slides)
    assert all(slide.images[0].attribution for slide in deck.slides)
    assert deck.slides[0].script.narration.startswith("Gather the ingredients. First, 200 g flour.")
    assert isinstance(example["RecipeScriptProvider"](), ss.ScriptProvider)


@pytest.mark.slow
@pytest.mark.anyio
async def test_quickstart_example_speaks(tmp_path: Path) -> None:
    example = load("quickstart.py")
    deck: ss.DeckResult = await example["main"](EXAMPLES / "git-in-ten-minutes.md", tmp_path, 2)
    assert deck.title == "Git in ten minutes"
    assert [slide.script.title for slide in deck.slides] == [
        "Why version control",
        "Three places your files live",
    ]
    for slide in deck.slides:
        assert slide.ok
        assert slide.audio_path is not None
        with wave.open(str(slide.audio_path)) as reader:
            seconds = reader.getnframes() / reader.getframerate()
        assert seconds == pytest.approx(slide.duration_s, abs=0.01)
        assert seconds > 10
    own_image = deck.slides[1].images[0]
    assert own_image.path is not None
    assert own_image.path.read_bytes() == (EXAMPLES / "images/git-three-areas.png").read_bytes()
