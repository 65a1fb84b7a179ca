"""Subtitle cues for the whole deck, written as SRT and WebVTT.

Pure functions. Cues come from the TTS engine's word timings when it gives them, grouped
into readable cues (at most two lines of about 42 characters, at most about 6 seconds, cut
at sentence ends and, when a cue is well filled, at commas); otherwise each sentence of the
narration becomes a cue (long ones split), timed by its share of the characters. A slide's
cues are then moved by the slide's start in the merged narration track.

Chinese and Japanese are written without spaces: their lines may break between any two
characters (never before closing punctuation), a wide character counts as two columns of a
line, and word timings in them are joined without spaces.

Cue text is written safely: control characters and terminal escapes are dropped, a ``-->``
inside the text cannot be read as a timing line, and WebVTT's markup characters (``&``,
``<``, ``>``) are escaped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from .._models import WordTiming
from .._text import clean_text, split_sentences

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
_SENTENCE_END = re.compile(r"[.!?…。！？][\"')\]”’」』）]*$")
_CLAUSE_END = re.compile(r"[,;:—–，、；：][\"')\]”’」』）]*$")
_UNSPACED = (
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x31F0, 0x31FF),  # katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width and half-width forms
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)
_NO_LINE_START = frozenset("。，、；：！？）」』】》〉〕］｝・ー…‥々ゝゞヽヾ")
_NO_LINE_END = frozenset("（「『【《〈〔［｛")
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}…") | _NO_LINE_START
_ARROW = re.compile(r"-{2,}>")
"""Two or more hyphens then ``>``: once shortened to ``->``, never a timing line's arrow."""


@dataclass(frozen=True)
class Cue:
    """One subtitle: its text and when it shows, in seconds."""

    start_s: float
    end_s: float
    text: str


def _unspaced(char: str) -> bool:
    """True for a character of a script written without spaces between words (Chinese,
    Japanese) or its full-width punctuation."""
    code = ord(char)
    return any(low <= code <= high for low, high in _UNSPACED)


def _width(text: str) -> int:
    """How many columns ``text`` takes: a wide (CJK) character counts as two."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def _breaks_between(before: str, char: str) -> bool:
    """True when a line may break between ``before`` and ``char`` that no space separates."""
    if char in _NO_SPACE_BEFORE or before in _NO_LINE_END:
        return False
    return _unspaced(before) or _unspaced(char)


def _tokens(text: str) -> list[str]:
    """``text`` cut where a line may break, each piece with the one space before it, if any:
    at white space, and between the characters of scripts written without spaces."""
    tokens: list[str] = []
    spaced = False
    for char in text:
        if char.isspace():
            spaced = bool(tokens)
            continue
        if tokens and not spaced and not _breaks_between(tokens[-1][-1], char):
            tokens[-1] += char
        else:
            tokens.append(" " + char if spaced else char)
        spaced = False
    return tokens


def _join(tokens: Iterable[str]) -> str:
    """Pieces from :func:`_tokens` (or timed words) back into one text."""
    return "".join(tokens).strip()


def wrap(text: str, width: int = MAX_LINE_CHARS) -> list[str]:
    """``text`` broken into lines at most ``width`` columns wide (see :func:`_width`).

    Lines break at spaces, and anywhere in Chinese and Japanese; a longer word stays whole.
    """
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if line and _width(line + token) > width:
            lines.append(line)
            line = token.lstrip()
        else:
            line = (line + token) if line else token.lstrip()
    if line:
        lines.append(line)
    return lines or [""]


def _fits(text: str) -> bool:
    return len(wrap(text)) <= MAX_LINES


def _spaced_word(previous: str | None, word: str) -> str:
    """``word`` as it follows ``previous`` in running text: after a space, except between
    two characters of a script written without spaces and before closing punctuation."""
    if previous is None or word[0] in _NO_SPACE_BEFORE:
        return word
    if _unspaced(previous[-1]) and _unspaced(word[0]):
        return word
    return " " + word


def _explode(words: Iterable[WordTiming]) -> list[WordTiming]:
    """Timed words as line-breakable pieces, each with the space before it: multi-word
    timings (engines that time sentences) are split by their share of the characters."""
    out: list[WordTiming] = []
    for item in words:
        parts = _tokens(item.text)
        if not parts:
            continue
        previous = out[-1].text if out else None
        parts[0] = _spaced_word(previous, parts[0])
        if len(parts) == 1:
            out.append(WordTiming(parts[0], item.start_s, max(item.end_s, item.start_s)))
            continue
        total = sum(_width(p) for p in parts)
        span = max(item.end_s - item.start_s, 0.0)
        at = item.start_s
        for part in parts:
            end = at + span * _width(part) / total
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
            cues.append(Cue(current[0].start_s, current[-1].end_s, _join(w.text for w in current)))
            current.clear()

    for word in _explode(words):
        if current:
            text = _join(w.text for w in [*current, word])
            if not _fits(text) or word.end_s - current[0].start_s > max_duration_s:
                close()
        current.append(word)
        filled = _width(_join(w.text for w in current))
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
    for token in _tokens(sentence):
        if current and not _fits(_join([*current, token])):
            chunks.append(_join(current))
            current = []
        current.append(token)
        if _CLAUSE_END.search(token) and _width(_join(current)) >= _SOFT_BREAK_CHARS:
            chunks.append(_join(current))
            current = []
    if current:
        chunks.append(_join(current))
    return chunks


def sentence_cues(text: str, duration_s: float) -> list[Cue]:
    """Cues for ``text`` spoken over ``duration_s``, one per sentence (long ones split),
    each timed by its share of the characters."""
    chunks = [chunk for sentence in split_sentences(text) for chunk in _split_long(sentence)]
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
    """A slide's cues, from word timings when they give any, else from its sentences.

    Times are relative to the start of the slide's clip and end within ``duration_s``.
    Word timings that leave no cue inside the clip (every word of no length, or all of them
    past its end) count as none: the narration is still subtitled.
    """
    cues = _within(group_words(words), duration_s) if words else []
    return cues or _within(sentence_cues(narration, duration_s), duration_s)


def _within(cues: list[Cue], duration_s: float) -> list[Cue]:
    """``cues`` cut off at ``duration_s``; those left without length are dropped."""
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
    lines = wrap(_ARROW.sub("->", text))
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
