"""Quickstart: make a narrated deck from a Markdown outline, offline, with the library.

pip install "slidestream[offline]"
python examples/quickstart.py                       # the Git deck, all slides
python examples/quickstart.py --slides 3 --out /tmp/decks
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anyio

import slidestream as ss
from slidestream.providers.offline import (
    GeneratedImageProvider,
    MarkdownScriptProvider,
    PiperTTSProvider,
)

HERE = Path(__file__).parent


async def main(outline: Path, out: Path, slides: int | None) -> ss.DeckResult:
    script = MarkdownScriptProvider(outline)
    pipeline = ss.StreamingPipeline(
        script_provider=script,
        image_provider=GeneratedImageProvider(),
        tts_provider=PiperTTSProvider(),
        max_concurrent_tts=2,
        output_dir=out,
    )
    deck = await pipeline.run(script.deck.title, slides=slides)
    for slide in deck.slides:
        print(f"slide {slide.index + 1}: {slide.script.title} ({slide.duration_s:.1f} s)")
    print(deck.report())
    return deck


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outline", nargs="?", type=Path, default=HERE / "git-in-ten-minutes.md")
    parser.add_argument("--out", type=Path, default=Path("outputs"))
    parser.add_argument("--slides", type=int)
    args = parser.parse_args()
    anyio.run(main, args.outline, args.out, args.slides)
