"""The pure JSON layer of the chat-completion script provider."""

from __future__ import annotations

import json

import pytest

from slidestream import DeckRequest
from slidestream._models import Outline, OutlineItem
from slidestream.providers._common.slide_json import (
    MalformedJSONError,
    SlideNumbering,
    SlideObjectScanner,
    ThinkFilter,
    extract_json,
    normalize_slide,
    parse_outline,
    slides_from_document,
)

SLIDES = [
    {"title": 'Braces {in} "text"', "bullets": ["a [b] c", "\\ back"], "narration": "One {"},
    {"title": "Nested", "bullets": [], "narration": "Two", "extra": {"deep": [{"x": 1}]}},
    {"title": "Ünïcode 🎉", "bullets": ["日本"], "narration": "Three ]}"},
]
DOCUMENT = json.dumps({"slides": SLIDES}, ensure_ascii=False)


def _scan(pieces: list[str]) -> list[dict[str, object]]:
    scanner = SlideObjectScanner()
    found = [json.loads(raw) for piece in pieces for raw in scanner.feed(piece)]
    return found


def test_scanner_finds_every_slide_whole() -> None:
    assert _scan([DOCUMENT]) == SLIDES


def test_scanner_finds_the_same_slides_at_every_split() -> None:
    for cut in range(len(DOCUMENT) + 1):
        assert _scan([DOCUMENT[:cut], DOCUMENT[cut:]]) == SLIDES, cut
    assert _scan(list(DOCUMENT)) == SLIDES


def test_scanner_yields_a_slide_as_soon_as_it_closes() -> None:
    scanner = SlideObjectScanner()
    first_end = DOCUMENT.index(', {"title": "Nested"')
    assert [json.loads(raw) for raw in scanner.feed(DOCUMENT[:first_end])] == SLIDES[:1]
    assert scanner.feed(DOCUMENT[first_end : first_end + 12]) == []  # slide 2 has begun
    assert [json.loads(raw) for raw in scanner.feed(DOCUMENT[first_end + 12 :])] == SLIDES[1:]


@pytest.mark.parametrize(
    "text",
    [
        "Sure! Here are your slides:\n```json\n" + DOCUMENT + "\n```\nEnjoy [really].",
        json.dumps(SLIDES, ensure_ascii=False),
        "Intro [1] (ok).\n" + json.dumps(SLIDES, ensure_ascii=False),
    ],
)
def test_scanner_ignores_prose_and_accepts_a_bare_array(text: str) -> None:
    assert _scan(list(text)) == SLIDES


def test_think_filter_drops_reasoning_at_every_split() -> None:
    text = "<think>I could use {braces} here</think>" + DOCUMENT + "<think>more</think>"
    for cut in range(len(text) + 1):
        think = ThinkFilter()
        out = think.feed(text[:cut]) + think.feed(text[cut:]) + think.flush()
        assert out == DOCUMENT, cut


def test_think_filter_passes_text_through_at_once() -> None:
    think = ThinkFilter()
    assert think.feed('{"a": 1 <') == '{"a": 1 '
    assert think.feed("b}") == "<b}"
    assert think.flush() == ""


@pytest.mark.parametrize(
    ("text", "repaired"),
    [
        (DOCUMENT, False),
        ("Here you go:\n```json\n" + DOCUMENT + "\n```", False),
        ("Of course! " + DOCUMENT + " Let me know if you need more.", False),
        ("<think>hmm {</think>" + DOCUMENT, False),
        (DOCUMENT[:-2], True),  # cut off: the repair closes it
    ],
)
def test_extract_json(text: str, repaired: bool) -> None:
    value, was_repaired = extract_json(text)
    assert was_repaired is repaired
    assert slides_from_document(value)[0] == SLIDES[0]


@pytest.mark.parametrize("text", ["", "I cannot help with that.", "```\nplain\n```"])
def test_extract_json_gives_up_clearly(text: str) -> None:
    with pytest.raises(MalformedJSONError):
        extract_json(text)


OUTLINE = Outline(title="Deck", items=[OutlineItem("Planned title", ["p1", "p2"])])


def test_a_slide_missing_fields_gets_defaults() -> None:
    slide = normalize_slide({}, index=0, outline=OUTLINE)
    assert slide.title == "Planned title"
    assert slide.bullets == []
    assert slide.narration == "Planned title."
    assert slide.image_query == "Planned title"
    unplanned = normalize_slide({"bullets": ["x.", "y"]}, index=4, outline=OUTLINE)
    assert unplanned.title == "Slide 5"
    assert unplanned.index == 4
    assert unplanned.narration == "Slide 5. First, x. Finally, y."


def test_a_slide_with_other_shapes_is_read() -> None:
    slide = normalize_slide(
        {"heading": " T ", "points": "- one\n- two", "notes": ["Say", "this"], "image": 3},
        index=0,
    )
    assert (slide.title, slide.bullets, slide.narration, slide.image_query) == (
        "T",
        ["one", "two"],
        "Say this",
        "3",
    )


def test_a_malformed_slide_object_is_repaired_once() -> None:
    value, repaired = extract_json('{"title": "A", "narration": "B",}')
    assert repaired
    slide = normalize_slide(value, index=2)
    assert (slide.index, slide.title, slide.narration) == (2, "A", "B")


def test_parse_outline_validates_and_defaults() -> None:
    request = DeckRequest(topic="Tides", project="t", slides=2)
    outline = parse_outline(
        {"slides": [{"title": "One", "key_points": ["a"]}, "Two", {"points": ["b"]}]}, request
    )
    assert outline.title == "Tides"
    assert [(i.title, i.key_points) for i in outline.items] == [("One", ["a"]), ("Two", [])]
    with pytest.raises(MalformedJSONError):
        parse_outline({"title": "No slides"}, request)
    bare = parse_outline([{"title": "X"}], DeckRequest(topic="T", project="t"))
    assert bare.items[0].title == "X"


def test_markdown_and_html_entities_a_model_writes_are_read_as_plain_text() -> None:
    slide = normalize_slide(
        {
            "title": "## **Salt &amp; pepper**",
            "bullets": ["*Fast* and `cheap`", "See [the docs](https://example.com)"],
            "narration": "**Hello** &mdash; read [our site](https://x.org) &#39;now&#39;.",
        },
        index=0,
    )
    assert slide.title == "Salt & pepper"
    assert slide.bullets == ["Fast and cheap", "See the docs"]
    assert slide.narration == "Hello \u2014 read our site 'now'."


def test_plain_text_keeps_names_with_underscores_and_lone_stars() -> None:
    slide = normalize_slide({"title": "snake_case_name", "narration": "2 * 3 * 4 = 24"}, index=0)
    assert (slide.title, slide.narration) == ("snake_case_name", "2 * 3 * 4 = 24")


def test_bullets_as_objects_or_one_line_of_dots_are_each_a_bullet() -> None:
    as_objects = normalize_slide(
        {"bullets": [{"point": "one"}, {"text": "two"}, {"content": "three"}, {"x": 4}]}, index=0
    )
    assert as_objects.bullets == ["one", "two", "three", "4"]
    one_line = normalize_slide({"bullets": "• one • two • three"}, index=0)
    assert one_line.bullets == ["one", "two", "three"]


def test_slides_nested_under_another_key_are_found() -> None:
    nested = {"presentation": {"title": "Deck", "slides": SLIDES}}
    assert slides_from_document(nested) == SLIDES
    outline = parse_outline(nested, DeckRequest(topic="T", project="t"))
    assert [item.title for item in outline.items] == [slide["title"] for slide in SLIDES]


def test_a_slide_body_written_as_content_becomes_its_narration_or_bullets() -> None:
    prose = normalize_slide({"title": "A", "content": "Real body text."}, index=0)
    assert (prose.bullets, prose.narration) == ([], "Real body text.")
    listed = normalize_slide({"title": "A", "content": ["x", "y"]}, index=0)
    assert listed.bullets == ["x", "y"]


def test_a_slide_wrapped_in_a_slide_key_is_read() -> None:
    wrapped = {"slides": [{"slide": {"title": "A", "narration": "n"}}]}
    (slide,) = [normalize_slide(d, index=0) for d in slides_from_document(wrapped)]
    assert (slide.title, slide.narration) == ("A", "n")
    outline = parse_outline(wrapped, DeckRequest(topic="T", project="t"))
    assert outline.items[0].title == "A"


@pytest.mark.parametrize(
    ("key", "stated", "placed"),
    [
        ("index", [0, 1, 2], [0, 1, 2]),
        ("index", [1, 2, 3], [0, 1, 2]),  # in order from 1, though the key usually counts from 0
        ("slide_number", [1, 2, 3], [0, 1, 2]),
        ("slide_number", [0, 1, 2], [0, 1, 2]),
        ("index", [2, 0, 1], [2, 0, 1]),
        ("slide_number", [3, 1, 2], [2, 0, 1]),
        ("number", [2, 2, 3], [1, 1, 2]),  # a place already taken: where it arrived
        ("index", [7, 0, 1], [0, 1, 2]),  # outside the deck: where it arrived
    ],
)
def test_slide_numbers_place_slides_whichever_way_the_model_counts(
    key: str, stated: list[int], placed: list[int]
) -> None:
    numbering = SlideNumbering(3)
    got = [numbering.index({key: number}, position) for position, number in enumerate(stated)]
    assert got == placed
