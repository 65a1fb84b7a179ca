"""A provider of your own: a script provider that builds the deck from Python data.

Any object with the protocol's methods is a provider; no base class is needed. Register it
under a name to use it from the registry (and, through an entry point, from the CLI)::

    [project.entry-points."slidestream.providers"]
    recipe = "my_package.recipes:RecipeScriptProvider"

Run it:  python examples/custom_provider.py [--tts piper|test-tts|none] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anyio

import slidestream as ss
from slidestream.providers.offline import compose_narration

PANCAKES = {
    "title": "Pancakes for four",
    "steps": [
        ("Gather the ingredients", ["200 g flour", "2 eggs", "300 ml milk", "A pinch of salt"]),
        ("Make the batter", ["Whisk the eggs and milk", "Fold in the flour", "Rest it 10 minutes"]),
        ("Cook", ["Heat a buttered pan", "Pour a thin layer", "Flip when bubbles appear"]),
        ("Serve", ["Lemon and sugar", "Or maple syrup", "Eat them while warm"]),
    ],
}


class RecipeScriptProvider:
    """Turns a recipe (a title and steps with ingredients) into slides."""

    name = "recipe"

    def __init__(self, recipe: dict[str, object] | None = None) -> None:
        self.recipe = recipe or PANCAKES

    def _steps(self) -> list[tuple[str, list[str]]]:
        steps = self.recipe["steps"]
        assert isinstance(steps, list)
        return steps

    async def outline(self, request: ss.DeckRequest) -> ss.Outline:
        return ss.Outline(
            title=str(self.recipe["title"]),
            items=[ss.OutlineItem(title, list(points)) for title, points in self._steps()],
        )

    async def write_slide(
        self, request: ss.DeckRequest, outline: ss.Outline, index: int
    ) -> ss.SlideScript:
        item = outline.items[index]
        return ss.SlideScript(
            index=index,
            title=f"Step {index + 1}: {item.title}",
            bullets=item.key_points,
            narration=compose_narration(item.title, item.key_points),
            image_query=item.title,
        )


async def main(tts: str, out: Path) -> ss.DeckResult:
    ss.providers.register("recipe", RecipeScriptProvider)
    pipeline = ss.StreamingPipeline(
        script_provider="recipe",  # resolved through the registry, like any built-in
        image_provider="generated",
        tts_provider=None if tts == "none" else tts,
        output_dir=out,
    )
    async with pipeline.stream("Pancakes", project="pancakes") as events:
        async for event in events:
            if isinstance(event, ss.SlideResult):
                print(f"slide {event.index + 1} ready: {event.script.title}")
            elif isinstance(event, ss.DeckReady):
                deck = event.deck
    print(f"{len(deck.slides)} slides in {deck.project_dir}")
    return deck


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A deck from a user-written script provider.")
    parser.add_argument("--tts", default="piper", help="TTS provider name, or 'none'")
    parser.add_argument("--out", type=Path, default=Path("outputs"))
    args = parser.parse_args()
    anyio.run(main, args.tts, args.out)
