"""The Markdown outline parser and the markdown script provider."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

import slidestream as ss
from slidestream.providers.offline import (
    MarkdownScriptProvider,
    compose_narration,
    load_outline,
    parse_outline,
)
from slidestream.testing import FakeTTSProvider

GOOD = """\
---
title: Front matter title
language: de
voice: joe
author: Ada
---
# Heading title

An introduction that is not a slide.

## What is a commit?

- A *snapshot* of the project
- Points to its **parent**
  and forms a history
1. Numbered items are bullets too

A commit is a snapshot of your whole project.

It has a parent, and that is how history forms.

## Branches
* Cheap pointers
Notes: Branches are pointers to commits.
- Creating one is instant
Switching is fast too.

## Only a title

<!-- a comment
over lines -->
```
code is not narration
```
"""


def write(tmp_path: Path, text: str | bytes, name: str = "deck.md") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 36), (20, 120, 200)).save(path)
    return path


def test_good_outline() -> None:
    deck = parse_outline(GOOD)
    assert deck.title == "Front matter title"
    assert (deck.language, deck.voice) == ("de", "joe")
    assert deck.metadata == {"author": "Ada"}
    assert deck.description == "An introduction that is not a slide."
    assert [s.title for s in deck.slides] == ["What is a commit?", "Branches", "Only a title"]
    first, second, third = deck.slides
    assert first.bullets == [
        "A snapshot of the project",
        "Points to its parent and forms a history",
        "Numbered items are bullets too",
    ]
    assert first.narration == (
        "A commit is a snapshot of your whole project. "
        "It has a parent, and that is how history forms."
    )
    assert first.line == 11
    assert second.bullets == ["Cheap pointers"]
    assert second.narration == (
        "Branches are pointers to commits. Creating one is instant. Switching is fast too."
    )
    assert third.bullets == []
    assert third.narration == ""
    assert third.spoken() == "Only a title."


def test_heading_title_without_front_matter(tmp_path: Path) -> None:
    assert parse_outline("# Deck\n## One\n").title == "Deck"
    assert load_outline(write(tmp_path, "## One\n", "my-first_deck.md")).title == "My first deck"
    assert parse_outline("## One\n").title == "One"


def test_image_resolves_relative_to_the_file(tmp_path: Path) -> None:
    picture = png(tmp_path / "pics" / "diagram.png")
    path = write(tmp_path, "# D\n## Slide\n![A clear diagram](pics/diagram.png)\nSay this.\n")
    slide = load_outline(path).slides[0]
    assert slide.image_path == picture.resolve()
    assert slide.image_alt == "A clear diagram"
    assert slide.narration == "Say this."


def test_images_off_leaves_image_lines_out_unread(tmp_path: Path) -> None:
    picture = png(tmp_path / "diagram.png")
    text = f"# D\n## Slide\n![A diagram]({picture})\nSay this.\n## Two\n![x](/no/such.png)\n"
    deck = parse_outline(text, images=False)
    assert [slide.image_path for slide in deck.slides] == [None, None]
    assert deck.slides[0].narration == "Say this."
    assert MarkdownScriptProvider(text=text, images=False).deck.slides[1].image_path is None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "empty"),
        ("\n  \n", 1, "empty"),
        ("# Title\n\nJust text.\n", 1, "no '## ' heading"),
        ("\n\n# Title\n- a bullet\n", 3, "no '## ' heading"),
        ("# T\n## \n", 2, "has no title"),
        ("# T\n##Slide\n", 2, "needs a space"),
        ("---\ntitle: x\n## Slide\n", 1, "never closed"),
        ("---\nthis is not a pair\n---\n## S\n", 2, "key: value"),
        ("---\ntitle:\n---\n## S\n", 2, "empty"),
        ("# T\n## A\ntext\n# Again\n", 4, "second '# '"),
        ("# T\n# U\n## A\n", 2, "two '# ' titles"),
        ("# T\n![x](missing.png)\n## A\n", 2, "before the first"),
        ("# T\n## A\n\n![x](missing.png)\n", 4, "not found"),
        ("# T\n## A\n![x](~no-such-user-here/a.png)\n", 3, "not found"),
        ("# T\n## A\n![x](https://example.org/a.png)\n", 3, "web address"),
        ("# T\n## A\n![x]()\n", 3, "no path"),
    ],
)
def test_bad_outlines_name_the_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ss.InvalidInputError) as caught:
        load_outline(path)
    message = str(caught.value)
    assert f"line {line}:" in message
    assert str(path) in message
    assert words in message


def test_second_image_and_non_image_files(tmp_path: Path) -> None:
    png(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ss.InvalidInputError, match=r"line 4: slide 'A' already has an image"):
        parse_outline("# T\n## A\n![a](a.png)\n![b](a.png)\n", source=tmp_path / "d.md")
    with pytest.raises(ss.InvalidInputError, match=r"line 3: image notes.txt is not a PNG"):
        parse_outline("# T\n## A\n![a](notes.txt)\n", source=tmp_path / "d.md")


def test_binary_files_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(ss.InvalidInputError, match=r"line 3: a NUL byte; this looks like a binary"):
        load_outline(write(tmp_path, b"# T\n## A\n\x89PNG\x00\x01"))
    with pytest.raises(ss.InvalidInputError, match=r"line 2: not UTF-8 text \(byte 0xff\)"):
        load_outline(write(tmp_path, b"# T\n## \xff\xfe\n"))


def test_missing_and_folder_paths(tmp_path: Path) -> None:
    with pytest.raises(ss.InvalidInputError, match="does not exist"):
        load_outline(tmp_path / "nope.md")
    with pytest.raises(ss.InvalidInputError, match="is a folder"):
        load_outline(tmp_path)


def test_composed_narration_is_full_sentences() -> None:
    text = compose_narration(
        "Why branches are cheap",
        ["A branch is a **pointer**", "Switching is fast", "HEAD - where you are"],
    )
    assert text == (
        "Let's look at why branches are cheap. First, a branch is a pointer. "
        "Next, switching is fast. Finally, HEAD, where you are."
    )
    assert compose_narration("What is Git?", ["A version control system"]) == (
        "What is Git? The key point is this: a version control system."
    )
    assert compose_narration("Summary", []) == "Summary."
    for sentence in re.split(r"(?<=\.) ", text):
        assert sentence[0].isupper()
        assert sentence.endswith(".")


@pytest.mark.anyio
async def test_provider_outline_slides_and_stream(tmp_path: Path) -> None:
    picture = png(tmp_path / "img.png")
    path = write(tmp_path, "# Deck\n## One\n- alpha\n- beta\n## Two\n![Two](img.png)\nSpoken.\n")
    provider = MarkdownScriptProvider(path)
    request = ss.DeckRequest(topic="Deck", project="p")
    outline = await provider.outline(request)
    assert outline.title == "Deck"
    assert [item.title for item in outline.items] == ["One", "Two"]
    assert outline.items[0].key_points == ["alpha", "beta"]
    first = await provider.write_slide(request, outline, 0)
    assert first.narration == "One. First, alpha. Finally, beta."
    assert first.image_query == "One"
    assert first.image_path is None
    stream = provider.stream_slides(request, outline)
    assert isinstance(stream, ss.providers.SlideStream)  # closable, as the pipeline expects
    async with stream:
        streamed = [script async for script in stream]
    assert [s.index for s in streamed] == [0, 1]
    assert streamed[1].image_path == str(picture.resolve())
    assert streamed[1].narration == "Spoken."


@pytest.mark.anyio
async def test_provider_reads_the_topic_as_a_path(tmp_path: Path) -> None:
    path = write(tmp_path, "# From topic\n## Only\n")
    provider = ss.providers.get("markdown")
    outline = await provider.outline(ss.DeckRequest(topic=str(path), project="p"))
    assert outline.title == "From topic"
    with pytest.raises(ss.InvalidInputError, match="not one"):
        await provider.outline(ss.DeckRequest(topic="Quantum computing", project="p"))


@pytest.mark.anyio
async def test_pipeline_uses_the_outline_and_its_image(tmp_path: Path) -> None:
    png(tmp_path / "img.png")
    path = write(tmp_path, "# Deck\n## One\nFirst words.\n## Two\n![Two](img.png)\n")
    pipeline = ss.StreamingPipeline(
        script_provider=MarkdownScriptProvider(path),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path / "out",
    )
    deck = await pipeline.run("Deck")
    assert [slide.script.title for slide in deck.slides] == ["One", "Two"]
    assert deck.slides[0].script.narration == "First words."
    assert deck.slides[0].images == []
    own = deck.slides[1].images[0]
    assert own.path is not None
    assert own.path.read_bytes() == (tmp_path / "img.png").read_bytes()
    assert all(slide.audio_path and slide.audio_path.is_file() for slide in deck.slides)


def test_html_comments_inside_a_line_are_neither_spoken_nor_shown() -> None:
    deck = parse_outline(
        "# T <!-- draft -->\n"
        "## A <!-- x -->\n"
        "- a bullet <!-- hidden -->\n"
        "Say this <!-- not this --> and that.\n"
        "More <!-- a comment that\n"
        "## Is not a slide\n"
        "ends here --> words.\n"
        "<!-- one --> <!-- two -->\n"
    )
    assert deck.title == "T"
    [slide] = deck.slides
    assert slide.title == "A"
    assert slide.bullets == ["a bullet"]
    assert slide.narration == "Say this and that. More words."


def test_a_code_fence_closes_only_on_a_fence_as_long_as_its_opening() -> None:
    deck = parse_outline(
        "# T\n## A\n````markdown\n```\n# not a title\n## not a slide\n```\n````\n## B\n"
    )
    assert [slide.title for slide in deck.slides] == ["A", "B"]
    deck = parse_outline("# T\n## A\n~~~\n```\n## not a slide\n~~~~\n## B\n")
    assert [slide.title for slide in deck.slides] == ["A", "B"]


def test_front_matter_with_lists_and_block_values_is_read() -> None:
    deck = parse_outline(
        "---\n"
        "title: >\n"
        "  How vaccines\n"
        "  work\n"
        "tags:\n"
        "  - biology\n"
        "  - health\n"
        "authors:\n"
        "- Ada\n"
        "summary: |\n"
        "  two\n"
        "\n"
        "  paragraphs\n"
        "language: en\n"
        "---\n"
        "## A\n"
    )
    assert deck.title == "How vaccines work"
    assert deck.language == "en"
    assert deck.metadata["tags"] == "biology, health"
    assert deck.metadata["authors"] == "Ada"
    assert deck.slides[0].title == "A"


def test_front_matter_block_title_left_empty_is_refused() -> None:
    with pytest.raises(ss.InvalidInputError, match=r"line 2: front matter 'title' is empty"):
        parse_outline("---\ntitle: >\nlanguage: en\n---\n## A\n")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_outline_saved_as_utf16_or_utf32_with_a_byte_order_mark_is_read(
    tmp_path: Path, encoding: str
) -> None:
    text = "# Café\r\n## Slide ü\r\n- 中文\r\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    deck = load_outline(write(tmp_path, data))
    assert deck.title == "Café"
    assert deck.slides[0].bullets == ["中文"]


def test_utf16_outline_cut_mid_character_says_so(tmp_path: Path) -> None:
    with pytest.raises(ss.InvalidInputError, match=r"not UTF-16 text.*save the outline as UTF-8"):
        load_outline(write(tmp_path, "# T\n## A\n".encode("utf-16") + b"\x00"))
    with pytest.raises(ss.InvalidInputError, match=r"line 2: a NUL character"):
        load_outline(write(tmp_path, "# T\n## A\x00\n".encode("utf-16")))


def test_an_empty_list_item_is_neither_a_bullet_nor_narration() -> None:
    deck = parse_outline("# T\n## A\n-\n*\n+\n1.\n- \n- real\nSaid.\n")
    assert deck.slides[0].bullets == ["real"]
    assert deck.slides[0].narration == "Said."


def test_an_image_path_that_is_a_folder_says_so(tmp_path: Path) -> None:
    (tmp_path / "photo.png").mkdir()
    with pytest.raises(ss.InvalidInputError, match=r"line 3: image photo.png is a folder"):
        parse_outline("# T\n## A\n![a](photo.png)\n", source=tmp_path / "d.md")
