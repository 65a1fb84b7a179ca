"""The ``generated`` image provider: a designed illustration per slide, drawn offline.

Each image is a 1600x900 PNG: a themed gradient, the slide's title and keywords set in Lato,
and a diagram-like motif chosen from the slide's words (a network, bars, a cycle, layers, a
shield, a timeline, branches, cells). Characters Lato lacks (CJK, Arabic, Hebrew, ...) are
drawn with an installed font that has them, right-to-left words in display order. The deck's
topic picks the colour theme, so a deck's slides belong together; the slide's content picks
the rest, so the same slide always gets the same picture.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import random
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from ..._exceptions import ConfigurationError
from ..._fonts.breaking import broken
from ..._fonts.draw import Anchor, draw_line
from ..._fonts.faces import fonts_fingerprint
from ..._fonts.fallback import measure
from ..._limits import ServiceKey
from ..._models import DeckRequest, ImageAsset, SlideScript
from ..._text import plain_text
from .._protocols import Provider

__all__ = ["GeneratedImageProvider", "Theme", "keywords", "render_illustration"]

WIDTH, HEIGHT = 1600, 900
_SCALE = 2  # drawn at twice the size, then scaled down: smooth edges without a vector library
_PNG_LEVEL = 3
"""zlib level of the PNGs: level 6 makes files a few per cent smaller at twice the time."""

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Theme:
    """A colour theme: a background gradient, two accents, and the text colours."""

    name: str
    top: RGB
    bottom: RGB
    accent: RGB
    accent2: RGB
    ink: RGB
    muted: RGB


THEMES = (
    Theme("ocean", (12, 30, 62), (24, 86, 128), (255, 184, 77), (94, 234, 212), (255, 255, 255),
          (180, 208, 232)),
    Theme("forest", (16, 46, 38), (36, 110, 78), (250, 204, 92), (167, 243, 208), (255, 255, 255),
          (190, 226, 206)),
    Theme("sunset", (72, 22, 60), (196, 76, 70), (255, 214, 102), (255, 160, 122),
          (255, 255, 255), (250, 210, 200)),
    Theme("plum", (34, 20, 70), (92, 52, 150), (244, 114, 182), (129, 230, 217),
          (255, 255, 255), (214, 200, 240)),
    Theme("slate", (24, 30, 44), (58, 72, 98), (56, 189, 248), (251, 146, 60), (255, 255, 255),
          (196, 206, 222)),
    Theme("paper", (246, 241, 232), (226, 216, 198), (220, 80, 60), (38, 110, 140), (30, 34, 44),
          (96, 92, 86)),
)  # fmt: skip

_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each even every few for
    from further get gets got had has have having he her here hers him his how i if in into is
    it its itself just let lets like made make makes many may me more most much must my never
    new no nor not now of off often on once one only or other our out over own same she should
    so some such than that the their them then there these they this those through to too two
    under until up us use used uses using very was way ways we well were what when where which
    while who whom why will with without would you your yours slide slides key different help
    helps work works show shows thing things good better best important really first next last
    three four five start starts keep keeps""".split()  # noqa: SIM905
)

_MOTIF_WORDS: dict[str, tuple[str, ...]] = {
    "branches": ("git", "branch", "merge", "commit", "rebase", "repositor", "version", "history",
                 "checkout", "fork", "pull", "push", "clone"),
    "cells": ("vaccin", "virus", "cell", "immun", "antibod", "germ", "pathogen", "bacteri",
              "infect", "protein", "mrna", "dna", "gene", "biolog", "molecul", "spike"),
    "shield": ("protect", "secur", "safe", "defen", "risk", "privacy", "guard", "herd",
               "trust", "shield"),
    "bars": ("data", "growth", "percent", "number", "measur", "statist", "chart", "cost",
             "price", "result", "performance", "speed", "rate", "metric", "trend"),
    "network": ("network", "connect", "internet", "web", "graph", "social", "link", "server",
                "remote", "share", "collaborat", "team", "distribut"),
    "cycle": ("cycle", "loop", "process", "workflow", "step", "routine", "iterat", "repeat",
              "feedback", "stage"),
    "timeline": ("history", "time", "year", "future", "past", "timeline", "decade", "centur",
                 "next", "plan", "roadmap", "schedule"),
    "layers": ("layer", "stack", "architecture", "structure", "system", "level", "model",
               "stage", "staging", "index", "tree", "foundation"),
}  # fmt: skip


def _words(text: str) -> list[str]:
    """The words of ``text``: a letter of any script, then letters, marks, digits, ``'+-``.

    Scripts written without spaces (Chinese, Japanese) have no word breaks to find, so their
    characters are left out.
    """
    words: list[str] = []
    current = ""
    for char in f"{text} ":
        kind = "W" if _breaks_anywhere(char) else unicodedata.category(char)[0]
        if kind == "L" if not current else (kind in "LMN" or char in "'+-"):
            current += char
            continue
        if current:
            words.append(current)
        current = char if kind == "L" else ""
    return words


def keywords(slide: SlideScript, count: int = 3) -> list[str]:
    """The slide's most telling words: image query and title first, then the bullets."""
    weighted: Counter[str] = Counter()
    order: dict[str, int] = {}
    shown: dict[str, str] = {}
    sources = [(slide.image_query or "", 3), (slide.title, 3), (" ".join(slide.bullets), 1)]
    for text, weight in sources:
        for word in _words(plain_text(text)):
            key = word.lower().strip("'-")
            if len(key) < 3 or key in _STOPWORDS:
                continue
            if any(ch.isupper() for ch in word[1:]):
                shown.setdefault(key, word)
            weighted[key] += weight
            order.setdefault(key, len(order))
    ranked = sorted(weighted, key=lambda w: (-weighted[w], order[w]))
    picked: list[str] = []
    for word in ranked:
        if not any(word.startswith(p[:5]) or p.startswith(word[:5]) for p in picked):
            picked.append(word)
        if len(picked) == count:
            break
    return [shown.get(word, word) for word in picked]


def _motif_for(slide: SlideScript, rng: random.Random) -> str:
    """The motif the title and image query call for; a seeded choice when they call for none.

    Bullets are left out on purpose: they repeat the deck's vocabulary, and every slide of a
    deck about vaccines would otherwise show cells.
    """
    text = f"{slide.image_query or ''} {slide.title}".lower()
    scores = {
        motif: sum(text.count(stem) for stem in stems) for motif, stems in _MOTIF_WORDS.items()
    }
    best = max(scores.values())
    if best == 0:
        return rng.choice(sorted(_MOTIF_WORDS))
    return min(motif for motif, score in scores.items() if score == best)


def _seed(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _rgba(colour: RGB, alpha: int) -> tuple[int, int, int, int]:
    return (colour[0], colour[1], colour[2], alpha)


@functools.lru_cache(maxsize=2)
def _gradient_mask(size: tuple[int, int]) -> Image.Image:
    """The background's diagonal blend mask (top-left to bottom-right), ``size`` pixels
    (made once per size and shared: only ever read)."""
    down = Image.linear_gradient("L").resize(size)
    across = ImageChops.invert(
        Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize(size)
    )
    return Image.blend(down, across, 0.5)


_BAND_ROWS = 120
"""Rows scaled at a time: Pillow scales an RGBA picture through a premultiplied copy."""


def _shrunk_in_bands(
    image: Image.Image, factor: int, box: tuple[int, int, int, int] | None = None
) -> Image.Image:
    """``image`` (or its ``box``) scaled down ``factor`` times (each pixel the mean of a
    ``factor`` x ``factor`` block), in bands of rows.

    Pillow scales an RGBA picture through a premultiplied copy of what it scales; bands
    keep that copy small. Bands start on multiples of ``factor`` from the top of ``box``, so
    each small pixel averages the same block it would in one pass.
    """
    left, top, right, bottom = box or (0, 0, image.width, image.height)
    width, height = (right - left) // factor, (bottom - top) // factor
    small = Image.new(image.mode, (width, height))
    rows = _BAND_ROWS - _BAND_ROWS % factor
    for row in range(0, height * factor, rows):
        end = min(row + rows, height * factor)
        band = image.crop((left, top + row, left + width * factor, top + end))
        shrunk = band.reduce(factor)  # a box filter, faster than resize's
        small.paste(shrunk, (0, row // factor))
    return small


def _drawn_box(layer: Image.Image, factor: int) -> tuple[int, int, int, int] | None:
    """The part of ``layer`` something was drawn on, widened to multiples of ``factor``."""
    box = layer.getbbox()
    if box is None:
        return None
    left, top, right, bottom = box
    return (
        left - left % factor,
        top - top % factor,
        min(layer.width - layer.width % factor, -(-right // factor) * factor),
        min(layer.height - layer.height % factor, -(-bottom // factor) * factor),
    )


def _background(theme: Theme, size: tuple[int, int]) -> Image.Image:
    """The theme's diagonal gradient, top colour to bottom colour, at ``size`` (a new copy
    of the one drawn for the theme: every slide of a deck starts from it)."""
    return _drawn_background(theme, size).copy()


@functools.lru_cache(maxsize=2)
def _drawn_background(theme: Theme, size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGBA", size, _rgba(theme.top, 255))
    image.paste(_rgba(theme.bottom, 255), mask=_gradient_mask(size))
    return image


class _Canvas:
    """Drawing in 1600x900 coordinates on a layer ``_SCALE`` times larger.

    What is drawn on the layer is scaled down (which smooths its edges) and blended onto
    the 1600x900 picture at each :meth:`flush`; only the part drawn on is touched.
    """

    def __init__(self, theme: Theme, rng: random.Random) -> None:
        self.theme = theme
        self.rng = rng
        self.image = _background(theme, (WIDTH, HEIGHT))
        self.layer = Image.new("RGBA", (WIDTH * _SCALE, HEIGHT * _SCALE), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.layer)

    def flush(self) -> None:
        """Blend what was drawn so far onto the picture and clear the layer."""
        box = _drawn_box(self.layer, _SCALE)
        if box is None:
            return
        drawn = _shrunk_in_bands(self.layer, _SCALE, box)
        self.image.alpha_composite(drawn, dest=(box[0] // _SCALE, box[1] // _SCALE))
        self.layer.paste((0, 0, 0, 0), box)

    def soft_circles(self, circles: list[tuple[float, float, float, RGB, int]]) -> None:
        """Blend circles (centre, radius, colour, alpha) onto the picture, blurred: drawn at
        a quarter of its size, where the blur is cheap, then scaled up."""
        quarter = Image.new("RGBA", (WIDTH // 4, HEIGHT // 4), (0, 0, 0, 0))
        draw = ImageDraw.Draw(quarter)
        for x, y, r, colour, alpha in circles:
            box = [(x - r) / 4, (y - r) / 4, (x + r) / 4, (y + r) / 4]
            draw.ellipse(box, fill=_rgba(colour, alpha))
        soft = quarter.filter(ImageFilter.GaussianBlur(1.5))
        self.image.alpha_composite(soft.resize(self.image.size, Image.Resampling.BILINEAR))

    @staticmethod
    def s(*values: float) -> list[float]:
        return [v * _SCALE for v in values]

    def circle(self, x: float, y: float, r: float, fill: tuple[int, ...] | None = None,
               outline: tuple[int, ...] | None = None, width: float = 0) -> None:  # fmt: skip
        self.draw.ellipse(
            self.s(x - r, y - r, x + r, y + r),
            fill=fill,
            outline=outline,
            width=round(width * _SCALE),
        )

    def line(self, points: list[tuple[float, float]], fill: tuple[int, ...], width: float) -> None:
        flat = [(x * _SCALE, y * _SCALE) for x, y in points]
        self.draw.line(flat, fill=fill, width=round(width * _SCALE), joint="curve")

    def rect(self, box: tuple[float, float, float, float], radius: float,
             fill: tuple[int, ...] | None = None, outline: tuple[int, ...] | None = None,
             width: float = 0) -> None:  # fmt: skip
        self.draw.rounded_rectangle(
            self.s(*box),
            radius=radius * _SCALE,
            fill=fill,
            outline=outline,
            width=round(width * _SCALE),
        )

    def polygon(self, points: list[tuple[float, float]], fill: tuple[int, ...]) -> None:
        self.draw.polygon([(x * _SCALE, y * _SCALE) for x, y in points], fill=fill)

    def text(self, xy: tuple[float, float], text: str, size: int, fill: tuple[int, ...],
             bold: bool = False, anchor: Anchor = "la",
             rtl: bool | None = None) -> None:  # fmt: skip
        """Draw one line, run by run with fallback fonts, in visual order.

        ``rtl`` is the line's direction; ``None`` takes it from its first strong character.
        """
        origin = (xy[0] * _SCALE, xy[1] * _SCALE)
        draw_line(self.draw, origin, text, size=size * _SCALE, fill=fill, bold=bold, rtl=rtl,
                  anchor=anchor)  # fmt: skip

    def text_width(self, text: str, size: int, bold: bool = False) -> float:
        return measure(text, size * _SCALE, bold=bold, rtl=None) / _SCALE

    def png(self) -> bytes:
        self.flush()
        out = io.BytesIO()
        self.image.convert("RGB").save(out, format="PNG", compress_level=_PNG_LEVEL)
        return out.getvalue()


# -- background and text -------------------------------------------------------------------


def _decorate(c: _Canvas) -> None:
    theme, rng = c.theme, c.rng
    circles = []
    for _ in range(3):
        x, y = rng.uniform(0, WIDTH), rng.choice([rng.uniform(-150, 200), rng.uniform(700, 1050)])
        circles.append((x, y, rng.uniform(160, 340), theme.accent2, rng.randint(14, 26)))
    c.soft_circles(circles)
    gx, gy = rng.choice([(70, 650), (1280, 60), (70, 60)])
    for row in range(5):
        for col in range(8):
            c.circle(gx + col * 28, gy + row * 28, 3.2, fill=_rgba(theme.muted, 70))
    c.flush()


def _breaks_anywhere(char: str) -> bool:
    """True for wide (CJK) characters: a line may break before and after each of them."""
    return unicodedata.east_asian_width(char) in ("W", "F") and not char.isspace()


def _pieces(text: str) -> list[tuple[str, str]]:
    """``text`` as (glue, piece) pairs a line may break between: words after a space, and wide
    characters one by one (closing punctuation stays with the character before it)."""
    out: list[tuple[str, str]] = []
    for word in text.split():
        glue, chunk = " ", ""
        for char in word:
            if not _breaks_anywhere(char):
                chunk += char
                continue
            if chunk:
                out.append((glue, chunk))
                glue, chunk = "", ""
            if unicodedata.category(char) in ("Pe", "Po") and out and not glue:
                out[-1] = (out[-1][0], out[-1][1] + char)
            else:
                out.append((glue, char))
            glue = ""
        if chunk:
            out.append((glue, chunk))
    return out


def _bold_width(c: _Canvas, size: int, text: str) -> float:
    return c.text_width(text, size, bold=True)


def _wrap(
    c: _Canvas, text: str, size: int, width: float, max_lines: int | None = None
) -> list[str]:
    """``text`` in lines at most ``width`` wide: broken between words and wide characters,
    and inside a word only when the word alone is wider than a line; once there are more
    than ``max_lines`` lines (when given), the rest is left out."""
    measured = functools.partial(_bold_width, c, size)
    lines: list[str] = []
    for glue, piece in _pieces(text):
        for n, chunk in enumerate(broken(piece, width, measured)):
            joined = f"{lines[-1]}{glue if n == 0 else ''}{chunk}" if lines else chunk
            if lines and measured(joined) <= width:
                lines[-1] = joined
            elif max_lines is not None and len(lines) > max_lines:
                return lines
            else:
                lines.append(chunk)
    return lines


def _title_block(c: _Canvas, title: str, words: list[str], number: int, deck: str) -> None:
    theme = c.theme
    left, width = 96.0, 640.0
    size = 76
    lines = _wrap(c, title, size, width, max_lines=5)
    while (len(lines) > 4 or any(c.text_width(x, size, True) > width for x in lines)) and size > 36:
        size -= 4
        lines = _wrap(c, title, size, width, max_lines=5)
    lines = lines[:5]
    line_height = size * 1.16
    block = len(lines) * line_height
    top = max(150.0, (HEIGHT - block) / 2 - 40)
    deck = deck if c.text_width(deck.upper(), 26, True) < width - 80 else ""
    kicker = f"{number:02d}" + (f"  ·  {deck.upper()}" if deck else "")
    c.text((left, top - 64), kicker, 26, _rgba(theme.accent, 255), bold=True, rtl=False)
    for i, text in enumerate(lines):
        c.text((left, top + i * line_height), text, size, _rgba(theme.ink, 255), bold=True)
    y = top + block + 28
    c.rect((left, y, left + 120, y + 10), 5, fill=_rgba(theme.accent, 255))
    x, y = left, y + 48
    for word in words:
        w = c.text_width(word, 26) + 44
        if x + w > left + width + 40:
            break
        c.rect((x, y, x + w, y + 50), 25, fill=_rgba(theme.ink, 34), outline=_rgba(theme.ink, 90),
               width=2)  # fmt: skip
        c.text((x + w / 2, y + 25), word, 26, _rgba(theme.ink, 240), anchor="mm")
        x += w + 16


# -- motifs: each draws inside the box (x0, y0, x1, y1) ---------------------------------------

Box = tuple[float, float, float, float]


def _network(c: _Canvas, box: Box) -> None:
    theme, rng = c.theme, c.rng
    x0, y0, x1, y1 = box
    cols, rows = 4, 4
    step_x, step_y = (x1 - x0 - 120) / (cols - 1), (y1 - y0 - 120) / (rows - 1)
    nodes = [
        (
            x0 + 60 + col * step_x + rng.uniform(-40, 40),
            y0 + 60 + row * step_y + rng.uniform(-35, 35),
        )
        for row in range(rows)
        for col in range(cols)
        if rng.random() > 0.15
    ]
    for ax, ay in nodes:
        near = sorted(nodes, key=lambda p: (p[0] - ax) ** 2 + (p[1] - ay) ** 2)[1:4]
        for bx, by in near:
            c.line([(ax, ay), (bx, by)], _rgba(theme.muted, 150), 3)
    for i, (x, y) in enumerate(nodes):
        big = i % 4 == 0
        colour = theme.accent if big else theme.accent2
        c.circle(x, y, 26 if big else 14, fill=_rgba(colour, 255), outline=_rgba(theme.ink, 200),
                 width=3)  # fmt: skip


def _bars(c: _Canvas, box: Box) -> None:
    theme, rng = c.theme, c.rng
    x0, y0, x1, y1 = box
    count = 6
    gap = (x1 - x0 - 80) / count
    base = y1 - 50
    c.line([(x0 + 30, y0 + 30), (x0 + 30, base), (x1 - 20, base)], _rgba(theme.muted, 200), 4)
    tops = []
    for i in range(count):
        h = (base - y0 - 80) * (0.25 + 0.75 * (i + rng.uniform(0.2, 1.0)) / (count + 0.5))
        x = x0 + 60 + i * gap
        colour = theme.accent if i == count - 1 else _mix(theme.accent2, theme.bottom, 0.25)
        c.rect((x, base - h, x + gap * 0.62, base), 10, fill=_rgba(colour, 255))
        tops.append((x + gap * 0.31, base - h - 36))
    c.line(tops, _rgba(theme.ink, 230), 5)
    for x, y in tops:
        c.circle(x, y, 9, fill=_rgba(theme.ink, 255))


def _cycle(c: _Canvas, box: Box) -> None:
    theme, rng = c.theme, c.rng
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    r = min(x1 - x0, y1 - y0) / 2 - 70
    steps = rng.choice([4, 5, 6])
    start = rng.uniform(0, 360)
    c.circle(cx, cy, r, outline=_rgba(theme.muted, 170), width=6)
    for i in range(steps):
        angle = math.radians(start + i * 360 / steps)
        x, y = cx + r * math.cos(angle), cy + r * math.sin(angle)
        head = angle + math.radians(180 / steps)
        hx, hy = cx + r * math.cos(head), cy + r * math.sin(head)
        tangent = head + math.pi / 2
        c.polygon(
            [
                (hx + 22 * math.cos(tangent), hy + 22 * math.sin(tangent)),
                (hx + 16 * math.cos(tangent + 2.3), hy + 16 * math.sin(tangent + 2.3)),
                (hx + 16 * math.cos(tangent - 2.3), hy + 16 * math.sin(tangent - 2.3)),
            ],
            _rgba(theme.accent2, 255),
        )
        colour = theme.accent if i == 0 else _mix(theme.accent2, theme.top, 0.15)
        c.circle(x, y, 46, fill=_rgba(colour, 255), outline=_rgba(theme.ink, 220), width=4)
        c.text((x, y), str(i + 1), 34, _rgba(theme.top, 255), bold=True, anchor="mm")
    c.circle(cx, cy, r * 0.42, fill=_rgba(theme.ink, 36))


def _layers(c: _Canvas, box: Box) -> None:
    theme = c.theme
    x0, _, x1, y1 = box
    cx = (x0 + x1) / 2
    count = 4
    for i in range(count):
        y = y1 - 90 - i * 118
        half = (x1 - x0) / 2 - 60 - i * 18
        colour = _mix(theme.accent2, theme.accent, i / (count - 1))
        c.polygon(
            [(cx - half, y), (cx, y - 70), (cx + half, y), (cx, y + 70)],
            _rgba(_mix(colour, theme.top, 0.35), 255),
        )
        c.polygon(
            [(cx - half, y - 14), (cx, y - 84), (cx + half, y - 14), (cx, y + 56)],
            _rgba(colour, 255),
        )


def _shield(c: _Canvas, box: Box) -> None:
    theme, rng = c.theme, c.rng
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = 220.0, 270.0
    outline = [(cx - w, cy - h + 40), (cx, cy - h), (cx + w, cy - h + 40), (cx + w, cy + 10)]
    outline += [(cx + w * 0.55, cy + h * 0.7), (cx, cy + h), (cx - w * 0.55, cy + h * 0.7)]
    outline += [(cx - w, cy + 10)]
    c.polygon(outline, _rgba(theme.accent, 255))
    inner = [(cx + (x - cx) * 0.82, cy + (y - cy) * 0.82) for x, y in outline]
    c.polygon(inner, _rgba(_mix(theme.accent, theme.top, 0.3), 255))
    c.line([(cx - 90, cy + 5), (cx - 20, cy + 80), (cx + 110, cy - 80)], _rgba(theme.ink, 255), 30)
    for _ in range(9):
        angle = rng.uniform(0, 2 * math.pi)
        dist = rng.uniform(w + 70, w + 150)
        x, y = cx + dist * math.cos(angle), cy + dist * math.sin(angle) * 0.8
        c.circle(x, y, rng.uniform(8, 18), fill=_rgba(theme.accent2, 200))


def _timeline(c: _Canvas, box: Box) -> None:
    theme, rng = c.theme, c.rng
    x0, y0, x1, y1 = box
    y = (y0 + y1) / 2
    c.line([(x0 + 20, y), (x1 - 20, y)], _rgba(theme.muted, 220), 6)
    stops = 5
    for i in range(stops):
        x = x0 + 60 + i * (x1 - x0 - 120) / (stops - 1)
        up = i % 2 == 0
        length = rng.uniform(90, 170)
        end = y - length if up else y + length
        c.line([(x, y), (x, end)], _rgba(theme.muted, 160), 3)
        colour = theme.accent if i == stops - 1 else theme.accent2
        c.rect((x - 60, end - 22, x + 60, end + 22), 22, fill=_rgba(colour, 255))
        c.circle(x, y, 16, fill=_rgba(theme.ink, 255), outline=_rgba(colour, 255), width=5)


def _branches(c: _Canvas, box: Box) -> None:
    theme, rng = c.theme, c.rng
    x0, y0, x1, y1 = box
    main_y, side_y = y0 + (y1 - y0) * 0.62, y0 + (y1 - y0) * 0.3
    xs = [x0 + 50 + i * (x1 - x0 - 100) / 6 for i in range(7)]
    fork, merge = rng.choice([(1, 5), (1, 4), (2, 5)])
    c.line([(xs[0], main_y), (xs[-1], main_y)], _rgba(theme.accent2, 255), 12)
    side = [(xs[fork], main_y), (xs[fork + 1], side_y)]
    side += [(xs[i], side_y) for i in range(fork + 1, merge)] + [(xs[merge], main_y)]
    c.line(side, _rgba(theme.accent, 255), 12)
    for i, x in enumerate(xs):
        c.circle(x, main_y, 24, fill=_rgba(theme.top, 255), outline=_rgba(theme.accent2, 255),
                 width=8)  # fmt: skip
        if fork < i < merge:
            c.circle(x, side_y, 24, fill=_rgba(theme.top, 255), outline=_rgba(theme.accent, 255),
                     width=8)  # fmt: skip
    tag_x = xs[-1]
    c.rect((tag_x - 70, main_y + 50, tag_x + 70, main_y + 100), 14, fill=_rgba(theme.accent2, 255))
    c.text((tag_x, main_y + 75), "main", 28, _rgba(theme.top, 255), bold=True, anchor="mm")


def _cells(c: _Canvas, box: Box) -> None:
    theme, rng = c.theme, c.rng
    x0, y0, x1, y1 = box
    placed: list[tuple[float, float, float]] = []
    for attempt in range(60):
        r = rng.uniform(40, 95) if attempt else 120
        x, y = rng.uniform(x0 + r + 20, x1 - r - 20), rng.uniform(y0 + r + 20, y1 - r - 20)
        if all((x - px) ** 2 + (y - py) ** 2 > (r + pr + 30) ** 2 for px, py, pr in placed):
            placed.append((x, y, r))
        if len(placed) == 6:
            break
    for n, (x, y, r) in enumerate(placed):
        colour = theme.accent if n == 0 else theme.accent2
        spikes = 12 if n == 0 else 9
        for k in range(spikes):
            a = 2 * math.pi * k / spikes + rng.uniform(0, 0.2)
            sx, sy = x + (r + 22) * math.cos(a), y + (r + 22) * math.sin(a)
            c.line([(x + r * math.cos(a), y + r * math.sin(a)), (sx, sy)], _rgba(colour, 255), 6)
            c.circle(sx, sy, 9, fill=_rgba(colour, 255))
        c.circle(x, y, r, fill=_rgba(_mix(colour, theme.top, 0.25), 255),
                 outline=_rgba(colour, 255), width=6)  # fmt: skip
        c.circle(x - r * 0.3, y - r * 0.3, r * 0.22, fill=_rgba(theme.ink, 70))


_MOTIFS: dict[str, Callable[[_Canvas, Box], None]] = {
    "bars": _bars,
    "branches": _branches,
    "cells": _cells,
    "cycle": _cycle,
    "layers": _layers,
    "network": _network,
    "shield": _shield,
    "timeline": _timeline,
}


def render_illustration(
    slide: SlideScript,
    *,
    theme: Theme,
    variant: int = 0,
    motif: str | None = None,
    deck_title: str = "",
) -> bytes:
    """Draw the illustration for ``slide`` (blocking; a 1600x900 PNG).

    The same slide, theme, variant and deck title always give the same picture.
    """
    content = "\x1e".join([slide.title, *slide.bullets, slide.image_query or "", deck_title])
    rng = random.Random(_seed(content, theme.name, str(variant)))
    canvas = _Canvas(theme, rng)
    _decorate(canvas)
    words = keywords(slide)
    chosen = motif or _motif_for(slide, rng)
    if variant:
        others = sorted(m for m in _MOTIFS if m != chosen)
        chosen = others[(variant - 1) % len(others)]
    panel: Box = (860, 110, 1530, 790)
    canvas.rect(panel, 36, fill=_rgba(theme.ink, 22), outline=_rgba(theme.ink, 46), width=2)
    canvas.flush()
    _MOTIFS[chosen](canvas, (panel[0] + 30, panel[1] + 30, panel[2] - 30, panel[3] - 30))
    canvas.flush()
    _title_block(canvas, plain_text(slide.title), words, slide.index + 1, deck_title)
    return canvas.png()


class GeneratedImageProvider(Provider):
    """Draws an illustration for each slide, offline, from its title and keywords.

    Args:
        theme: a theme name (``"ocean"``, ``"forest"``, ``"sunset"``, ``"plum"``, ``"slate"``,
            ``"paper"``); by default the deck's topic picks one.

    Images are 1600x900 PNGs, the same for the same slide every time, credited as
    "Illustration generated by slidestream" under CC0-1.0.
    """

    name = "generated"
    limit_key = ServiceKey("generated", local=True)
    """Drawing runs on this machine: each call also takes a share of the CPU budget."""
    attribution = "Illustration generated by slidestream"
    license = "CC0-1.0"

    def __init__(self, *, theme: str | None = None) -> None:
        names = {t.name: t for t in THEMES}
        if theme is not None and theme not in names:
            raise ConfigurationError(
                f"Unknown theme {theme!r}: use one of {', '.join(sorted(names))}."
            )
        self.theme = names[theme] if theme is not None else None

    def cache_identity(self) -> dict[str, str | None]:
        """What changes the pictures: the theme chosen and the fonts installed (the drawing
        code is in the version)."""
        return {
            "theme": self.theme.name if self.theme is not None else None,
            "fonts": fonts_fingerprint(),
        }

    def theme_for(self, request: DeckRequest) -> Theme:
        """The theme for a deck: the one chosen, else one picked by the topic."""
        if self.theme is not None:
            return self.theme
        return THEMES[_seed(request.topic) % len(THEMES)]

    async def find_images(
        self, request: DeckRequest, slide: SlideScript, *, limit: int
    ) -> list[ImageAsset]:
        """``limit`` illustrations for ``slide`` (each a different composition)."""
        theme = self.theme_for(request)
        images = []
        for variant in range(limit):
            draw = functools.partial(
                render_illustration,
                slide,
                theme=theme,
                variant=variant,
                deck_title=request.topic if len(request.topic) <= 60 else "",
            )
            data = await anyio.to_thread.run_sync(draw)
            images.append(
                ImageAsset(
                    data=data,
                    mime_type="image/png",
                    width=WIDTH,
                    height=HEIGHT,
                    source_url=None,
                    attribution=self.attribution,
                    license=self.license,
                )
            )
        return images
