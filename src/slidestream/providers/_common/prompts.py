"""Prompts and JSON schemas for chat-completion script providers.

Each ``*_messages`` function returns the chat messages for one call; each ``*_schema`` function
(and ``SLIDE_SCHEMA``) is the JSON schema asked for through ``response_format`` (strict mode:
every property required, no extra properties; slide lists state the count wanted with
``minItems`` and ``maxItems``). The prompts also describe the JSON shape and the count in
words, so servers without structured output still get them right.
"""

from __future__ import annotations

from typing import Any

from ..._constants import DEFAULT_SLIDE_COUNT
from ..._models import DeckRequest, Outline

__all__ = [
    "MAX_SOURCE_CHARS",
    "SLIDE_SCHEMA",
    "more_outline_messages",
    "outline_messages",
    "outline_schema",
    "slide_messages",
    "slides_messages",
    "slides_schema",
]

MAX_SOURCE_CHARS = 24_000
"""How much of ``source_text`` goes into a prompt; longer documents are cut."""

Message = dict[str, str]

_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
_SLIDE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "bullets": _STRINGS,
        "narration": {"type": "string"},
        "image_query": {"type": "string"},
    },
    "required": ["title", "bullets", "narration", "image_query"],
    "additionalProperties": False,
}
_ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "key_points": _STRINGS},
    "required": ["title", "key_points"],
    "additionalProperties": False,
}
SLIDE_SCHEMA: dict[str, Any] = _SLIDE


def _list_of(item: dict[str, Any], count: int) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": count, "maxItems": count}


def outline_schema(count: int) -> dict[str, Any]:
    """A deck plan: a title and exactly ``count`` slide titles with their points."""
    return {
        "type": "object",
        "properties": {"title": {"type": "string"}, "slides": _list_of(_ITEM, count)},
        "required": ["title", "slides"],
        "additionalProperties": False,
    }


def slides_schema(count: int) -> dict[str, Any]:
    """Exactly ``count`` written slides."""
    return {
        "type": "object",
        "properties": {"slides": _list_of(_SLIDE, count)},
        "required": ["slides"],
        "additionalProperties": False,
    }


_SYSTEM = (
    "You write clear, accurate presentation decks with spoken narration. "
    "You answer with JSON only: no prose before or after it, no code fences."
)
_SLIDE_SHAPE = (
    '{"title": "short slide title", "bullets": ["3 to 5 short bullet points"], '
    '"narration": "what the presenter says for this slide, 60 to 120 words, in full '
    'sentences", "image_query": "a few words to search a photo for this slide"}'
)


def _count(request: DeckRequest) -> int:
    return request.slides or DEFAULT_SLIDE_COUNT


def _brief(request: DeckRequest) -> str:
    lines = [
        f"Topic: {request.topic}",
        f"Language: write every title, bullet and narration in the language with code "
        f"{request.language!r}.",
    ]
    if request.audience:
        lines.append(f"Audience: {request.audience}.")
    if request.tone:
        lines.append(f"Tone: {request.tone}.")
    if request.source_text:
        source = request.source_text.strip()
        if len(source) > MAX_SOURCE_CHARS:
            source = source[:MAX_SOURCE_CHARS] + "\n[... document cut ...]"
        lines.append(
            "Base the deck on this source document; do not invent facts it contradicts.\n"
            f"<document>\n{source}\n</document>"
        )
    return "\n".join(lines)


def _outline_text(outline: Outline) -> str:
    lines = [f"Deck title: {outline.title}"]
    for number, item in enumerate(outline.items, start=1):
        points = "; ".join(item.key_points)
        lines.append(f"{number}. {item.title}" + (f" ({points})" if points else ""))
    return "\n".join(lines)


def outline_messages(request: DeckRequest) -> list[Message]:
    """Ask for the deck plan: a title and exactly the wanted number of slides."""
    count = _count(request)
    user = (
        f"{_brief(request)}\n\n"
        f"Plan a presentation of exactly {count} slides. Answer with this JSON object: "
        '{"title": "deck title", "slides": [{"title": "slide title", '
        '"key_points": ["2 to 4 points the slide makes"]}]} '
        f'with exactly {count} entries in "slides".'
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def more_outline_messages(request: DeckRequest, outline: Outline, wanted: int) -> list[Message]:
    """Ask for the slides a short plan lacks: numbers ``len(outline.items) + 1`` to ``wanted``."""
    have = len(outline.items)
    user = (
        f"{_brief(request)}\n\nThe plan so far has {have} of the {wanted} slides:\n"
        f"{_outline_text(outline)}\n\n"
        f"Plan slides {have + 1} to {wanted} of the deck: continue the plan, without repeating "
        "a slide it already has. Answer with this JSON object: "
        '{"title": "deck title", "slides": [{"title": "slide title", '
        '"key_points": ["2 to 4 points the slide makes"]}]} '
        f'with exactly {wanted - have} entries in "slides".'
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def slides_messages(request: DeckRequest, outline: Outline) -> list[Message]:
    """Ask for every slide of ``outline`` in one reply, in order."""
    count = len(outline.items)
    user = (
        f"{_brief(request)}\n\nThe deck plan:\n{_outline_text(outline)}\n\n"
        f"Write all {count} slides, one per planned slide, in order. Answer with this JSON "
        f'object: {{"slides": [ ... ]}} where each of the {count} entries is {_SLIDE_SHAPE}'
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def slide_messages(request: DeckRequest, outline: Outline, index: int) -> list[Message]:
    """Ask for slide ``index`` (0-based) of ``outline`` alone."""
    item = outline.items[index]
    points = "; ".join(item.key_points) or "(choose them)"
    user = (
        f"{_brief(request)}\n\nThe deck plan:\n{_outline_text(outline)}\n\n"
        f"Write slide {index + 1} of {len(outline.items)}: {item.title!r}, making these "
        f"points: {points}. Answer with this JSON object: {_SLIDE_SHAPE}"
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]
