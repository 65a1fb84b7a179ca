"""Text helpers shared by every layer: plain text, narration from points, sentences.

- :func:`plain_text`: inline Markdown reduced to plain text;
- :func:`compose_narration`: full spoken sentences from a slide's title and bullets;
- :func:`split_sentences`: narration cut into sentences (TTS engines speak and time them one
  by one; subtitles break at them);
- :func:`chunk_text`: narration in pieces no longer than a service accepts, cut between
  sentences;
- :func:`clean_text`: text from outside (files, providers) without terminal escape sequences,
  control characters or unpaired surrogates.

A list read aloud sounds like a list ("Git. Commits. Branches."). This module turns the
title and bullets into full sentences a narrator can say::

    >>> compose_narration("Why branches are cheap", ["A branch is a pointer", "Switching is fast"])
    "Let's look at why branches are cheap. First, a branch is a pointer. \
Finally, switching is fast."
"""

from __future__ import annotations

import re

__all__ = ["chunk_text", "clean_text", "compose_narration", "plain_text", "split_sentences"]

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`|~~)(?=\S)(.+?)(?<=\S)\1")
_SPACES = re.compile(r"\s+")
_LEADS = frozenset(
    "why how what when where who which the a an our your their its this these those".split()  # noqa: SIM905
)
_ORDINALS = ("First", "Next", "Then", "After that", "On top of that", "Beyond that")
# A stop, then any closing quotes or brackets, then white space: a sentence may end here.
_SENTENCE_BREAK = re.compile(r"[.!?…。！？][\"'”’»)\]]*(\s+)")
_CJK_STOPS = "。！？"
_OPENERS = "\"'“‘«([¿¡"
_ABBREVIATIONS = frozenset(
    "dr. mr. mrs. ms. prof. st. vs. etc. e.g. i.e. no. fig. approx. cf. jr. sr.".split()  # noqa: SIM905
)


# Terminal escape sequences: CSI (ESC [ ... final; also its one-character form U+009B), OSC
# (ESC ] ... BEL or ESC \\), and the short ones (ESC, intermediates, one final character).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?"
)
# C0 controls but tab and newline, DEL and C1 controls; unpaired surrogates.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (tab, newline and
    carriage return stay, as newline); unpaired surrogates become U+FFFD.

    Text from files and providers goes through this before it reaches a terminal, a deck file
    or a subtitle file.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", _ESCAPES.sub("", text))
    return _SURROGATES.sub("\ufffd", text)


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


def split_sentences(text: str) -> list[str]:
    """``text`` cut into sentences, white space collapsed.

    A sentence ends at ``.``, ``!``, ``?`` or ``…`` (with any closing quotes or brackets)
    followed by white space and a word that does not start in lower case, unless the stop
    belongs to a common abbreviation (``Dr.``, ``e.g.``). Chinese and Japanese full stops end
    a sentence even without a space after them.
    """
    text = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(text):
        end, following = match.start(1), match.end(1)
        rest = text[following:].lstrip(_OPENERS)
        last_word = text[start:end].rsplit(" ", 1)[-1].lower()
        if (rest[:1].islower()) or last_word in _ABBREVIATIONS:
            continue
        sentences.append(text[start:end])
        start = following
    tail = text[start:]
    pieces = [*sentences, tail] if tail else sentences
    return [part for piece in pieces for part in _split_cjk(piece) if part]


def _split_cjk(sentence: str) -> list[str]:
    """A sentence cut after each Chinese or Japanese stop that has no space after it."""
    parts = re.split(f"(?<=[{_CJK_STOPS}])(?=[^\\s{_CJK_STOPS}])", sentence)
    return [part.strip() for part in parts]


def chunk_text(text: str, max_chars: int) -> list[str]:
    """``text`` in pieces of at most ``max_chars`` characters, cut between sentences.

    Sentences are packed into each piece while they fit; a single sentence longer than
    ``max_chars`` is cut at the last space before the limit (mid-word only when it has no
    space at all).
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars + 1)
            cut = cut if cut > 0 else max_chars
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces
