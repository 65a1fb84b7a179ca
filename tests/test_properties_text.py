"""Property-based tests of the parsers that read outside text: the Markdown outline parser,
partial slide JSON as an LLM streams it, and whole replies.

Arbitrary Unicode, sizes and splits: the only errors allowed are our typed ones.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from slidestream import DeckRequest, InvalidInputError
from slidestream._text import clean_text
from slidestream.providers._common.slide_json import (
    MalformedJSONError,
    SlideObjectScanner,
    extract_json,
    normalize_slide,
    parse_outline,
    slides_from_document,
)
from slidestream.providers.script.markdown import parse_outline as parse_markdown

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REQUEST = DeckRequest(topic="Topic", project="p")

# Lines that look like outline syntax, mixed with anything at all.
_LINE = st.one_of(
    st.text(max_size=60),
    st.builds(lambda t: "# " + t, st.text(max_size=40)),
    st.builds(lambda t: "## " + t, st.text(max_size=40)),
    st.builds(lambda t: "- " + t, st.text(max_size=60)),
    st.builds(lambda t: "> " + t, st.text(max_size=60)),
    st.builds(lambda a, p: f"![{a}]({p})", st.text(max_size=10), st.text(max_size=20)),
    st.sampled_from(["---", "language: en", "voice: x", "```", "", "  ", "\t- nested", "***"]),
)
MARKDOWN = st.one_of(st.text(), st.lists(_LINE, max_size=30).map("\n".join))


@SETTINGS
@given(MARKDOWN)
@example("---\nlanguage: en\n")
@example("# T\n## \n- \n")
@example("## S\n" + "- x\n" * 3000)
@example("\ufeff# Title\r\n## One\r\n- a\r\n")
@example("## 0\r![](\x00)")  # a NUL in an image path
@example("## 0\n![](a\x1bb.png)")
@example("## 0\r![](~0)")  # a home folder of a user who does not exist
def test_the_markdown_parser_gives_a_deck_or_says_which_line_is_wrong(text: str) -> None:
    try:
        deck = parse_markdown(text)
    except InvalidInputError as error:
        message = str(error)
    else:
        message = ""
    if message:
        assert "line" in message or "outline" in message.lower()
        return
    assert deck.slides
    for slide in deck.slides:
        assert isinstance(slide.title, str) and slide.title.strip()
        assert all(isinstance(b, str) for b in slide.bullets)
        assert isinstance(slide.spoken(), str)


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40
)  # JSON cannot carry lone surrogates
SLIDE = st.fixed_dictionaries(
    {"title": _TEXT, "bullets": st.lists(_TEXT, max_size=4), "narration": _TEXT},
    optional={"image_query": _TEXT, "notes": st.one_of(st.none(), st.integers(), _TEXT)},
)


def _splits(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(max(0, c), len(text)) for c in cuts})
    pieces, start = [], 0
    for point in [*points, len(text)]:
        pieces.append(text[start:point])
        start = point
    return pieces


@SETTINGS
@given(
    st.lists(SLIDE, min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=4000), max_size=40),
    st.sampled_from(["{}", "Sure! ```json\n{}\n```", "[]", "<think>{{ no }}</think>{}"]),
    st.booleans(),
)
def test_slide_objects_are_found_however_the_stream_is_split(
    slides: list[dict[str, Any]], cuts: list[int], wrapper: str, ascii_only: bool
) -> None:
    if wrapper == "[]":
        document = json.dumps(slides, ensure_ascii=ascii_only)
    else:
        body = json.dumps({"slides": slides}, ensure_ascii=ascii_only)
        document = wrapper.replace("{}", body, 1) if "{{" not in wrapper else body
    scanner = SlideObjectScanner()
    found = []
    for piece in _splits(document, cuts):
        found += scanner.feed(piece)
    assert [json.loads(obj) for obj in found] == slides
    value, repaired = extract_json(document)
    assert not repaired
    assert slides_from_document(value) == slides


@SETTINGS
@given(st.text(), st.lists(st.integers(min_value=0, max_value=500), max_size=20))
@example("[" * 50_000, [])
@example('{"slides": [' + '{"title": ' * 20_000, [5, 17])
@example('```json\n{"slides": [{"title": "cut off', [])
def test_any_text_is_read_or_refused_with_a_typed_error(text: str, cuts: list[int]) -> None:
    scanner = SlideObjectScanner()
    for piece in _splits(text, cuts):
        assert all(isinstance(obj, str) for obj in scanner.feed(piece))
    try:
        value, _ = extract_json(text)
    except MalformedJSONError:
        return
    assert isinstance(value, (dict, list))
    try:
        outline = parse_outline(value, REQUEST)
    except MalformedJSONError:
        pass
    else:
        assert outline.items and all(item.title for item in outline.items)
    for number, slide in enumerate(slides_from_document(value)):
        script = normalize_slide(slide, index=number)
        assert script.title and isinstance(script.narration, str)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@SETTINGS
@given(JSON_VALUES, st.integers(min_value=0, max_value=30))
def test_any_json_a_model_writes_becomes_a_slide(value: object, index: int) -> None:
    script = normalize_slide(value, index=index)
    assert script.index == index and script.title
    assert isinstance(script.narration, str) and all(isinstance(b, str) for b in script.bullets)


@SETTINGS
@given(st.text())
@example("\x1b[31mred\x1b[0m\x1b]0;title\x07\r\n\x9b2J")
def test_clean_text_leaves_no_control_character(text: str) -> None:
    cleaned = clean_text(text)
    assert all(c in "\n\t" or not (ord(c) < 32 or 0x7F <= ord(c) <= 0x9F) for c in cleaned)
    cleaned.encode("utf-8")  # no lone surrogates left: this would raise
    assert clean_text(cleaned) == cleaned
