"""Breaking a word wider than a line into pieces that fit, for every text drawn or laid out.

Frames, PPTX pages and the ``generated`` illustrations all measure text with real font
metrics; a word longer than a line (a long name, a run of letters, Thai written without
spaces) is cut between characters, keeping combining marks with their letter.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence

__all__ = ["broken", "clusters", "fitting_prefix"]

Measure = Callable[[str], float]
"""The width of a piece of text, in the caller's units."""


def clusters(word: str) -> list[str]:
    """``word`` as characters each with the combining marks that follow it (Thai vowels and
    tone marks, accents): the smallest pieces a word may be cut into."""
    found: list[str] = []
    for char in word:
        if found and unicodedata.category(char).startswith("M"):
            found[-1] += char
        else:
            found.append(char)
    return found


def fitting_prefix(pieces: Sequence[str], limit: float, measured: Measure) -> int:
    """How many leading ``pieces``, joined, fit in ``limit`` (at least one, maybe all).

    Found by doubling, then halving the step, so a word of thousands of characters is
    measured a few dozen times, each time no longer than about two lines.
    """

    def fits(count: int) -> bool:
        return count <= len(pieces) and measured("".join(pieces[:count])) <= limit

    count, step = 1, 1
    while fits(count + step):
        count += step
        step *= 2
    while step > 1:
        step //= 2
        if fits(count + step):
            count += step
    return count


def broken(word: str, limit: float, measured: Measure) -> Iterator[str]:
    """``word`` in chunks that each fit ``limit`` (a chunk of one character may not); the
    word itself when it fits. Chunks come as they are found, so a caller that needs only
    the first lines of a very long word stops there."""
    if not word or measured(word) <= limit:
        yield word
        return
    rest = clusters(word)
    while rest:
        cut = fitting_prefix(rest, limit, measured)
        yield "".join(rest[:cut])
        rest = rest[cut:]
