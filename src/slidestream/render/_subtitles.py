"""Subtitle cues for the whole deck, written as SRT and WebVTT.

Pure functions. Cues come from the TTS engine's word timings when it gives them, grouped
into readable cues (at most two lines of about 42 characters, at most about 6 seconds, cut
at sentence ends and, when a cue is well filled, at commas); otherwise each sentence of the
narration becomes a cue (long ones split), timed by its share of the characters. A slide's
cues are then moved by the slide's start in the merged narration track.

Cue text is written safely: control characters and terminal escapes are dropped, a ``-->``
inside the text cannot be read as a timing line, and WebVTT's markup characters (``&``,
``<``, ``>``) are escaped.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from .._models import WordTiming
from .._text import clean_text

__all__ = [
    "MAX_CUE_S",
    "MAX_LINES",
    "MAX_LINE_CHARS",
    "Cue",
    "deck_cues",
    "format_srt",
    "format_vtt",
    "group_words",
    "sentence_cues",
    "slide_cues",
    "wrap",
]

MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_S = 6.0
_SOFT_BREAK_CHARS = 50
_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*$")
_CLAUSE_END = re.compile(r"[,;:—–][\"')\]]*$")
_SENTENCES = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")


@dataclass(frozen=True)
class Cue:
    """One subtitle: its text and when it shows, in seconds."""

    start_s: float
    end_s: float
    text: str


def wrap(text: str, width: int = MAX_LINE_CHARS) -> list[str]:
    """``text`` broken into lines of at most ``width`` characters (longer words stay whole)."""
    return textwrap.wrap(" ".join(text.split()), width=width, break_long_words=False) or [""]


def _fits(text: str) -> bool:
    return len(wrap(text)) <= MAX_LINES


def _explode(words: Iterable[WordTiming]) -> list[WordTiming]:
    """Split multi-word timings (engines that time sentences) into words by character share."""
    out: list[WordTiming] = []
    for item in words:
        parts = item.text.split()
        if len(parts) <= 1:
            if parts:
                out.append(WordTiming(parts[0], item.start_s, max(item.end_s, item.start_s)))
            continue
        total = sum(len(p) + 1 for p in parts)
        span = max(item.end_s - item.start_s, 0.0)
        at = item.start_s
        for part in parts:
            end = at + span * (len(part) + 1) / total
            out.append(WordTiming(part, at, end))
            at = end
    return out


def group_words(
    words: Sequence[WordTiming],
    *,
    max_duration_s: float = MAX_CUE_S,
) -> list[Cue]:
    """Group timed words into readable cues (times relative to the clip's start)."""
    cues: list[Cue] = []
    current: list[WordTiming] = []

    def close() -> None:
        if current:
            cues.append(
                Cue(current[0].start_s, current[-1].end_s, " ".join(w.text for w in current))
            )
            current.clear()

    for word in _explode(words):
        if current:
            text = " ".join(w.text for w in [*current, word])
            if not _fits(text) or word.end_s - current[0].start_s > max_duration_s:
                close()
        current.append(word)
        filled = len(" ".join(w.text for w in current))
        if _SENTENCE_END.search(word.text) or (
            _CLAUSE_END.search(word.text) and filled >= _SOFT_BREAK_CHARS
        ):
            close()
    close()
    return _tidy(cues)


def _split_long(sentence: str) -> list[str]:
    """Split a sentence into chunks that fit one cue, preferring clause breaks."""
    chunks: list[str] = []
    current: list[str] = []
    for word in sentence.split():
        if current and not _fits(" ".join([*current, word])):
            chunks.append(" ".join(current))
            current = []
        current.append(word)
        if _CLAUSE_END.search(word) and len(" ".join(current)) >= _SOFT_BREAK_CHARS:
            chunks.append(" ".join(current))
            current = []
    if current:
        chunks.append(" ".join(current))
    return chunks


def sentence_cues(text: str, duration_s: float) -> list[Cue]:
    """Cues for ``text`` spoken over ``duration_s``, one per sentence (long ones split),
    each timed by its share of the characters."""
    sentences = [s for s in _SENTENCES.split(" ".join(text.split())) if s.strip()]
    chunks = [chunk for sentence in sentences for chunk in _split_long(sentence)]
    total = sum(len(chunk) for chunk in chunks)
    if not chunks or duration_s <= 0:
        return []
    cues, at = [], 0.0
    for chunk in chunks:
        end = at + duration_s * len(chunk) / total
        cues.append(Cue(at, end, chunk))
        at = end
    return _tidy(cues)


def slide_cues(words: Sequence[WordTiming], narration: str, duration_s: float) -> list[Cue]:
    """A slide's cues, from word timings when there are any, else from its sentences.

    Times are relative to the start of the slide's clip and end within ``duration_s``.
    """
    cues = group_words(words) if words else sentence_cues(narration, duration_s)
    clamped = [
        replace(cue, start_s=min(cue.start_s, duration_s), end_s=min(cue.end_s, duration_s))
        for cue in cues
    ]
    return [cue for cue in clamped if cue.end_s > cue.start_s]


def _tidy(cues: list[Cue]) -> list[Cue]:
    """Order cues and drop empty ones; a cue that overlaps the next one ends where it starts."""
    out: list[Cue] = []
    for cue in sorted(cues, key=lambda c: c.start_s):
        if not cue.text.strip() or cue.end_s <= cue.start_s:
            continue
        if out and out[-1].end_s > cue.start_s:
            previous = out.pop()
            if cue.start_s > previous.start_s:
                out.append(replace(previous, end_s=cue.start_s))
        out.append(Cue(cue.start_s, cue.end_s, cue.text.strip()))
    return out


def deck_cues(slides: Iterable[tuple[float, Sequence[Cue]]]) -> list[Cue]:
    """Every slide's cues on the deck's timeline: ``(slide start in seconds, cues)`` pairs."""
    moved = [
        Cue(offset + cue.start_s, offset + cue.end_s, cue.text)
        for offset, cues in slides
        for cue in cues
    ]
    return _tidy(moved)


def _millis(cues: Sequence[Cue]) -> list[tuple[int, int, str]]:
    """Cues in whole milliseconds, still ordered and non-overlapping after rounding."""
    out: list[tuple[int, int, str]] = []
    for cue in cues:
        start = max(round(cue.start_s * 1000), out[-1][1] if out else 0)
        end = round(cue.end_s * 1000)
        if end > start:
            out.append((start, end, cue.text))
    return out


def _stamp(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _printable(cues: Sequence[Cue]) -> list[Cue]:
    """The cues with their text cleaned; cues left without text are dropped."""
    cleaned = (replace(cue, text=" ".join(clean_text(cue.text).split())) for cue in cues)
    return [cue for cue in cleaned if cue.text]


def _lines(text: str, *, vtt: bool) -> str:
    """A cue's (cleaned) text as the lines of a subtitle block, safe for the format."""
    lines = wrap(text.replace("-->", "->"))
    if vtt:
        lines = [
            line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for line in lines
        ]
    return "\n".join(lines)


def format_srt(cues: Sequence[Cue]) -> str:
    """The cues as an SRT document."""
    blocks = [
        f"{n}\n{_stamp(start, ',')} --> {_stamp(end, ',')}\n" + _lines(text, vtt=False) + "\n"
        for n, (start, end, text) in enumerate(_millis(_printable(cues)), start=1)
    ]
    return "\n".join(blocks)


def format_vtt(cues: Sequence[Cue]) -> str:
    """The cues as a WebVTT document."""
    blocks = [
        f"{_stamp(start, '.')} --> {_stamp(end, '.')}\n" + _lines(text, vtt=True) + "\n"
        for start, end, text in _millis(_printable(cues))
    ]
    return "\n".join(["WEBVTT\n", *blocks])
