"""Bidirectional text: a small part of the Unicode Bidirectional Algorithm (UAX #9).

Characters are strong left-to-right (L), strong right-to-left (R), numbers (EN), or neutral
(N). Numbers and neutrals between digits follow rules W4-W5 and W7, neutrals between two strong
characters of one direction take that direction and all others the paragraph's (N1-N2);
levels follow I1-I2 and lines are reordered by L2. Embeddings and mirroring are left out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Protocol, TypeVar

__all__ = ["Leveled", "bidi_levels", "is_rtl", "paragraph_rtl", "visual_order"]

_L, _R, _EN, _N = "L", "R", "EN", "N"


class Leveled(Protocol):
    """Anything with a bidirectional embedding level (even: left to right, odd: right to left)."""

    @property
    def level(self) -> int:
        """The embedding level."""
        ...


RunT = TypeVar("RunT", bound=Leveled)


def is_rtl(char: str) -> bool:
    """True for characters of right-to-left scripts (Arabic, Hebrew, ...)."""
    return unicodedata.bidirectional(char) in ("R", "AL")


def _classes(text: str) -> list[str]:
    out: list[str] = []
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            out.append(_R)
        elif kind == "L":
            out.append(_L)
        elif kind in ("EN", "AN"):
            out.append(_EN)
        elif kind == "NSM" and out:
            out.append(out[-1])  # W1: a combining mark takes the class of its base
        else:
            out.append(_N)
    for i, char in enumerate(text):
        kind = unicodedata.bidirectional(char)
        before = out[i - 1] if i else None
        after = out[i + 1] if i + 1 < len(out) else None
        if kind in ("CS", "ES") and before == _EN and after == _EN:
            out[i] = _EN  # W4: "1,000" and "2+2" stay one number
        elif kind == "ET" and _EN in (before, after):
            out[i] = _EN  # W5: "50%" and "$5"
    return out


def _numbers_after_l(classes: list[str], base: int) -> list[str]:
    """Rule W7: a number whose nearest strong character before it is L (or, with none, a
    left-to-right paragraph) is L: "page 1 / 3" stays in order."""
    out = list(classes)
    last = _R if base else _L
    for i, kind in enumerate(classes):
        if kind in (_L, _R):
            last = kind
        elif kind == _EN and last == _L:
            out[i] = _L
    return out


def paragraph_rtl(text: str) -> bool:
    """True when the first strong character of ``text`` is right-to-left (rules P2-P3)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def bidi_levels(text: str, *, rtl: bool | None = None) -> list[int]:
    """The embedding level of each character of one line: even left-to-right, odd right-to-left.

    ``rtl`` is the paragraph's direction; ``None`` takes it from the first strong character.
    """
    base = (1 if paragraph_rtl(text) else 0) if rtl is None else int(rtl)
    classes = _numbers_after_l(_classes(text), base)
    embedding = _R if base else _L
    strong = [(_R if c == _EN else c) for c in classes]  # N1: numbers count as R
    resolved = list(classes)
    i = 0
    while i < len(classes):
        if classes[i] != _N:
            i += 1
            continue
        end = i
        while end < len(classes) and classes[end] == _N:
            end += 1
        before = strong[i - 1] if i else embedding
        after = strong[end] if end < len(classes) else embedding
        side = before if before == after else embedding
        resolved[i:end] = [side] * (end - i)
        i = end
    levels = []
    for kind in resolved:
        if base == 0:
            levels.append({_L: 0, _R: 1, _EN: 2}[kind])
        else:
            levels.append({_L: 2, _R: 1, _EN: 2}[kind])
    return levels


def visual_order(runs: Sequence[RunT]) -> list[RunT]:
    """One line's runs in drawing order, left to right (rule L2 of UAX #9).

    From the highest level down to the lowest odd one, every stretch of runs at that level
    or above is reversed; each right-to-left run is then drawn right-to-left by Pillow.
    """
    order = list(runs)
    if not order:
        return order
    highest = max(run.level for run in order)
    lowest_odd = min((run.level for run in order if run.level % 2), default=highest + 1)
    for level in range(highest, lowest_odd - 1, -1):
        i = 0
        while i < len(order):
            if order[i].level < level:
                i += 1
                continue
            end = i
            while end < len(order) and order[end].level >= level:
                end += 1
            order[i:end] = order[i:end][::-1]
            i = end
    return order
