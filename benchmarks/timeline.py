"""Draw per-slide stage timelines (from ``DeckResult.spans``) as a PNG, one panel per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from slidestream.render._fonts import load_font

COLOURS = {
    "outline": (120, 120, 120),
    "script": (66, 133, 244),
    "images": (52, 168, 83),
    "tts": (234, 134, 0),
    "assemble": (171, 71, 188),
}
WIDTH, ROW, LEFT, TOP, GAP = 1600, 22, 150, 60, 50


def draw_timeline(runs: dict[str, dict[str, Any]], path: Path) -> Path:
    """Draw each run's spans on a shared time axis; returns ``path``."""
    longest = max(run["makespan_s"] for run in runs.values())
    rows = {label: 2 + max(s["index"] or 0 for s in run["spans"]) for label, run in runs.items()}
    height = TOP + sum(rows[label] * ROW + GAP + 30 for label in runs) + 40
    image = Image.new("RGB", (WIDTH, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font, bold = load_font(16), load_font(20, bold=True)
    scale = (WIDTH - LEFT - 40) / longest
    x_of = lambda t: LEFT + t * scale  # noqa: E731
    legend_x = LEFT
    for stage, colour in COLOURS.items():
        draw.rectangle((legend_x, 20, legend_x + 18, 38), fill=colour)
        draw.text((legend_x + 24, 19), stage, fill=(30, 30, 30), font=font)
        legend_x += 130
    y = TOP
    for label, run in runs.items():
        draw.text((10, y), f"{label}: {run['makespan_s']:.1f} s", fill=(0, 0, 0), font=bold)
        y += 30
        for span in run["spans"]:
            row = 0 if span["index"] is None else span["index"] + 1
            top = y + row * ROW
            x0, x1 = x_of(span["start_s"]), max(x_of(span["end_s"]), x_of(span["start_s"]) + 2)
            # Images and narration run side by side: top and bottom half of the slide's row.
            y0, y1 = {"images": (3, ROW // 2), "tts": (ROW // 2, ROW - 3)}.get(
                span["stage"], (3, ROW - 3)
            )
            colour = COLOURS.get(span["stage"], (0, 0, 0))
            draw.rectangle((x0, top + y0, x1, top + y1), fill=colour)
        for row in range(rows[label]):
            name = "deck" if row == 0 else f"slide {row}"
            draw.text((10, y + row * ROW + 2), name, fill=(90, 90, 90), font=font)
        y += rows[label] * ROW + GAP
    step = max(1, round(longest / 12))
    for second in range(0, int(longest) + 1, step):
        x = x_of(second)
        draw.line((x, TOP + 25, x, height - 35), fill=(225, 225, 225))
        draw.text((x - 8, height - 30), f"{second}s", fill=(90, 90, 90), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)
    return path
