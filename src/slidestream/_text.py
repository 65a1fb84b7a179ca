"""Text helpers shared by every layer: plain text from inline Markdown, narration from points.

A list read aloud sounds like a list ("Git. Commits. Branches."). This module turns the
title and bullets into full sentences a narrator can say::

    >>> compose_narration("Why branches are cheap", ["A branch is a pointer", "Switching is fast"])
    "Let's look at why branches are cheap. First, a branch is a pointer. \
Finally, switching is fast."
"""

from __future__ import annotations

import re

__all__ = ["compose_narration", "plain_text"]

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`|~~)(?=\S)(.+?)(?<=\S)\1")
_SPACES = re.compile(r"\s+")
_LEADS = frozenset(
    "why how what when where who which the a an our your their its this these those".split()  # noqa: SIM905
)
_ORDINALS = ("First", "Next", "Then", "After that", "On top of that", "Beyond that")


def plain_text(markdown: str) -> str:
    """Inline Markdown reduced to plain text: links keep their text, emphasis marks go."""
    text = _LINK.sub(r"\1", markdown)
    previous = None
    while previous != text:
        previous, text = text, _EMPHASIS.sub(r"\2", text)
    text = text.replace("\\", "")
    return _SPACES.sub(" ", text).strip()


def _keeps_capital(word: str) -> bool:
    """Acronyms, names with inner capitals, and "I" keep their capital mid-sentence."""
    letters = re.sub(r"[^A-Za-z]", "", word)
    return letters == "I" or (len(letters) > 1 and any(c.isupper() for c in letters[1:]))


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if not text or _keeps_capital(first):
        return text
    return text[0].lower() + text[1:]


def _sentence(text: str) -> str:
    """``text`` as one sentence: a spaced dash becomes a comma, one closing stop."""
    text = plain_text(text).strip()
    text = re.sub(r"\s+[-–—]\s+", ", ", text)
    text = text.rstrip(" ;,:")
    if not text:
        return ""
    return text if text[-1] in ".!?" else text + "."


def compose_narration(title: str, bullets: list[str]) -> str:
    """Full spoken sentences made from a slide's ``title`` and ``bullets``.

    The title becomes an opening sentence (a question is asked as it is); each bullet becomes
    a sentence led by an ordinal ("First, ...", "Next, ...", "Finally, ..."), so the narrator
    walks through the points instead of reading a list.
    """
    heading = plain_text(title).strip().rstrip(".:")
    points = [point for point in (_sentence(b) for b in bullets) if point]
    if heading.endswith("?"):
        opening = heading
    elif heading.split(" ", 1)[0].lower() in _LEADS:
        opening = f"Let's look at {_lower_first(heading)}."
    elif heading:
        opening = f"{heading}."
    else:
        opening = ""
    if not points:
        return opening or "This slide has no text."
    if len(points) == 1:
        return f"{opening} The key point is this: {_lower_first(points[0])}".strip()
    sentences = [opening] if opening else []
    for number, point in enumerate(points):
        if number == len(points) - 1:
            lead = "Finally"
        else:
            lead = _ORDINALS[min(number, len(_ORDINALS) - 1)]
        sentences.append(f"{lead}, {_lower_first(point)}")
    return " ".join(sentences)
