"""The ``markdown`` script provider: a Markdown outline file becomes the deck.

The format, line by line::

    ---
    title: How vaccines work          (optional front matter: title, language, voice)
    language: en
    ---
    # How vaccines work               the deck title
    ## A slide title                  one slide per level-2 heading
    - a bullet                        list items are the slide's bullets
    A plain paragraph is what the narrator says for this slide.
    ![alt text](images/picture.png)   the slide's image, relative to the Markdown file
    Notes: everything from here to the next heading is narration, lists included.

A slide without narration gets narration composed from its title and bullets, in full
sentences. Anything the parser cannot use raises :class:`InvalidInputError` naming the line.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.lowlevel

from ..._exceptions import InvalidInputError
from ..._files import expand_home, real_path
from ..._images import IMAGE_SUFFIXES
from ..._limits import ServiceKey
from ..._models import DeckRequest, Outline, OutlineItem, SlideScript
from ..._text import compose_narration, plain_text
from .._protocols import Provider, SlideStream

__all__ = [
    "MARKDOWN_SUFFIXES",
    "MarkdownDeck",
    "MarkdownScriptProvider",
    "MarkdownSlide",
    "load_outline",
    "parse_outline",
]

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
_MAX_BYTES = 2_000_000

_FRONT_KEYS = {"title": "title", "language": "language", "lang": "language", "voice": "voice"}
_HEADING = re.compile(r"^(#{1,6})(\s+|$)(.*?)\s*#*\s*$")
_HEADING_NO_SPACE = re.compile(r"^#{1,6}[^#\s]")
_BULLET = re.compile(r"^(\s*)(?:[-*+]|\d{1,3}[.)])(?:\s+(.*)|$)")
_IMAGE = re.compile(r'^!\[([^\]]*)\]\(\s*<?([^)>]*?)>?(?:\s+"[^"]*")?\s*\)$')
_NOTES = re.compile(r"^(?:\*\*|__)?notes?\s*(?::\s*(?:\*\*|__)|(?:\*\*|__)\s*:|:)\s*(.*)$", re.I)
_RULE = re.compile(r"^([-*_])(\s*\1){2,}$")
_FENCE = re.compile(r"^(`{3,}|~{3,})")
_COMMENT_OPEN, _COMMENT_CLOSE = "<!--", "-->"


def _closes_fence(line: str, fence: str) -> bool:
    """True when ``line`` (stripped) closes a code block opened by ``fence``: the same
    character, at least as many times, and nothing else (CommonMark)."""
    return len(line) >= len(fence) and line == fence[0] * len(line)


def _without_comments(line: str, open_comment: bool) -> tuple[str, bool]:
    """``line`` with its HTML comments (``<!-- ... -->``) taken out, and whether a comment is
    still open at its end; ``open_comment`` says whether one was open at its start."""
    kept: list[str] = []
    position = 0
    while True:
        if open_comment:
            end = line.find(_COMMENT_CLOSE, position)
            if end < 0:
                return "".join(kept), True
            position, open_comment = end + len(_COMMENT_CLOSE), False
        else:
            start = line.find(_COMMENT_OPEN, position)
            if start < 0:
                kept.append(line[position:])
                return "".join(kept), False
            kept.append(line[position:start])
            position, open_comment = start + len(_COMMENT_OPEN), True


@dataclass(frozen=True, kw_only=True)
class MarkdownSlide:
    """One ``## `` section of the outline."""

    title: str
    bullets: list[str] = field(default_factory=list)
    narration: str = ""
    """The author's narration; empty when the slide has none (see :meth:`spoken`)."""
    image_path: Path | None = None
    image_alt: str | None = None
    line: int = 0
    """The line of the slide's heading (1-based)."""

    def spoken(self) -> str:
        """The narration, or narration composed from the title and bullets."""
        return self.narration or compose_narration(self.title, self.bullets)


@dataclass(frozen=True, kw_only=True)
class MarkdownDeck:
    """A parsed Markdown outline."""

    title: str
    slides: list[MarkdownSlide]
    language: str | None = None
    voice: str | None = None
    description: str = ""
    """Text between the deck title and the first slide."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Front-matter keys slidestream does not use itself."""
    source: Path | None = None


@dataclass
class _Draft:
    """A slide while its lines are read."""

    title: str
    line: int
    bullets: list[str] = field(default_factory=list)
    narration: list[str] = field(default_factory=list)
    image: Path | None = None
    alt: str | None = None
    image_line: int = 0
    notes: bool = False
    last_bullet: bool = False


_BLOCK_MARKS = frozenset({"|", ">", "|-", ">-", "|+", ">+"})


@dataclass
class _FrontKey:
    """A front-matter key while the lines of its value are read."""

    name: str
    line: int
    first: str
    items: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def more(self, line: str) -> None:
        """A line after the key's own: a list item (``- a``) or a line of a block value."""
        if line == "-" or line.startswith("- "):
            self.items.append(_unquoted(line[1:]))
        else:
            self.lines.append(line)

    def value(self) -> str:
        """The value as one line: list items joined with commas, block lines with spaces."""
        first = "" if self.first in _BLOCK_MARKS else self.first
        words = " ".join(part for part in (first, *self.lines) if part)
        return ", ".join(item for item in (_unquoted(words), *self.items) if item)


def _unquoted(text: str) -> str:
    """``text`` without surrounding spaces and quotes."""
    return text.strip().strip("'\"").strip()


class _Parser:
    def __init__(self, text: str, source: Path | None, *, images: bool = True) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.images = images
        self.base = source.parent if source is not None else Path.cwd()
        self.title: str | None = None
        self.front: dict[str, str] = {}
        self.metadata: dict[str, str] = {}
        self.description: list[str] = []
        self.slides: list[MarkdownSlide] = []
        self._slide: _Draft | None = None

    def fail(self, line: int, problem: str) -> InvalidInputError:
        where = f"{self.source}, line {line}" if self.source else f"line {line}"
        return InvalidInputError(f"{where}: {problem}")

    # -- sections --------------------------------------------------------------------------

    def front_matter(self) -> int:
        """Read the front matter, if any; return the index of the first body line.

        A key's value may go on over the lines after it: indented lines (a YAML ``>`` or ``|``
        block, a nested map) and list items (``- a``), as front matter written for other tools
        has (``tags:`` then ``  - biology``).
        """
        if not self.lines or self.lines[0].strip() != "---":
            return 0
        key: _FrontKey | None = None
        for number in range(1, len(self.lines)):
            raw = self.lines[number]
            line = raw.strip()
            if line in ("---", "..."):
                self.front_value(key)
                return number + 1
            if not line or line.startswith("#"):
                continue
            if key is not None and (raw[:1].isspace() or line == "-" or line.startswith("- ")):
                key.more(line)
                continue
            self.front_value(key)
            name, sep, value = line.partition(":")
            name = name.strip().lower()
            if not sep or not name or " " in name:
                raise self.fail(
                    number + 1,
                    f"front matter line {line!r} is not 'key: value' "
                    "(use e.g. 'title: My deck', 'language: en', 'voice: ...')",
                )
            key = _FrontKey(name=name, line=number + 1, first=value.strip())
        raise self.fail(
            1, "the front matter opened with '---' is never closed: add a line '---' after it"
        )

    def front_value(self, key: _FrontKey | None) -> None:
        """Keep the value of front-matter ``key`` (a key slidestream uses must not be empty)."""
        if key is None:
            return
        value = key.value()
        if key.name in _FRONT_KEYS:
            if not value:
                raise self.fail(key.line, f"front matter '{key.name}' is empty: give a value")
            self.front[_FRONT_KEYS[key.name]] = value
        else:
            self.metadata[key.name] = value

    def start_slide(self, number: int, title: str) -> None:
        self.finish_slide()
        title = plain_text(title)
        if not title:
            raise self.fail(number, "a '## ' slide heading has no title: write '## Slide title'")
        self._slide = _Draft(title=title, line=number)

    def finish_slide(self) -> None:
        slide = self._slide
        if slide is None:
            return
        self.slides.append(
            MarkdownSlide(
                title=slide.title,
                bullets=[b for b in slide.bullets if b],
                narration=" ".join(p for p in slide.narration if p).strip(),
                image_path=slide.image,
                image_alt=slide.alt,
                line=slide.line,
            )
        )
        self._slide = None

    def image(self, number: int, alt: str, target: str) -> None:
        if not self.images:
            return  # left out unread: the outline came from someone who may not read our files
        slide = self._slide
        if slide is None:
            raise self.fail(
                number, "an image before the first '## ' slide heading: move it under a slide"
            )
        if slide.image is not None:
            raise self.fail(
                number,
                f"slide {slide.title!r} already has an image (line {slide.image_line}): "
                "give each slide one image",
            )
        target = target.strip()
        if not target:
            raise self.fail(
                number, "the image has no path: write ![description](path/to/image.png)"
            )
        if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.I):
            raise self.fail(
                number,
                f"image {target} is a web address; images are not downloaded: "
                "save it next to the Markdown file and give its path",
            )
        if any(ord(char) < 32 for char in target):
            raise self.fail(
                number, f"image path {target!r} has a control character: check the path"
            )
        path = expand_home(target)
        if not path.is_absolute():
            path = self.base / path
        try:
            path = path.resolve()
        except (OSError, RuntimeError) as err:  # a symlink loop, say
            raise self.fail(number, f"image {target} cannot be read: {err}") from None
        if path.is_dir():
            raise self.fail(number, f"image {target} is a folder ({path}), not an image file")
        if not path.is_file():
            raise self.fail(number, f"image {target} not found (looked for {path}): check the path")
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise self.fail(
                number,
                f"image {target} is not a PNG, JPEG, WebP, GIF or BMP file",
            )
        slide.image, slide.alt, slide.image_line = path, plain_text(alt) or None, number

    # -- the body --------------------------------------------------------------------------

    def body(self, start: int) -> None:
        fence: str | None = None
        in_comment = False
        for index in range(start, len(self.lines)):
            number = index + 1
            raw = self.lines[index]
            if fence is not None:
                if _closes_fence(raw.strip(), fence):
                    fence = None
                continue
            had_text = bool(raw.strip())
            raw, in_comment = _without_comments(raw, in_comment)
            line = raw.strip()
            if had_text and not line:
                continue  # a line that held only a comment is not a blank line
            fenced = _FENCE.match(line)
            if fenced:
                fence = fenced.group(1)
                continue
            self.line(number, raw, line)
        self.finish_slide()

    def line(self, number: int, raw: str, line: str) -> None:
        slide = self._slide
        if not line:
            if slide is not None:
                slide.last_bullet = False
            return
        if _HEADING_NO_SPACE.match(line):
            hashes = len(line) - len(line.lstrip("#"))
            raise self.fail(
                number,
                f"heading {line!r} needs a space after the '{'#' * hashes}': "
                f"write '{'#' * hashes} {line[hashes:]}'",
            )
        heading = _HEADING.match(line)
        if heading:
            self.heading(number, len(heading.group(1)), heading.group(3))
            return
        if _RULE.match(line) or line.startswith("|"):
            return
        image = _IMAGE.match(line)
        if image:
            self.image(number, image.group(1), image.group(2))
            return
        if slide is None:
            self.description.append(plain_text(line))
            return
        notes = _NOTES.match(line)
        if notes:
            slide.notes = True
            slide.last_bullet = False
            rest = plain_text(notes.group(1))
            if rest:
                slide.narration.append(rest)
            return
        bullet = _BULLET.match(raw)
        text = plain_text((bullet.group(2) or "") if bullet else line.lstrip("> ").strip())
        if slide.notes:
            if bullet and text:
                text = text[0].upper() + text[1:]
                text += "" if text[-1] in ".!?" else "."
            slide.narration.append(text)
        elif bullet:
            slide.bullets.append(text)
            slide.last_bullet = True
        elif slide.last_bullet and raw[:1].isspace():
            slide.bullets[-1] = f"{slide.bullets[-1]} {text}".strip()
        else:
            slide.narration.append(text)
            slide.last_bullet = False

    def heading(self, number: int, level: int, text: str) -> None:
        if level == 1:
            if self.slides or self._slide is not None:
                raise self.fail(
                    number,
                    "a second '# ' title after the slides began: use '## ' for a slide heading",
                )
            if self.title is not None:
                raise self.fail(number, "the deck has two '# ' titles: keep one")
            self.title = plain_text(text)
            return
        if level == 2:
            self.start_slide(number, text)
            return
        if self._slide is not None and plain_text(text):
            self._slide.bullets.append(plain_text(text))

    def parse(self) -> MarkdownDeck:
        if not any(line.strip() for line in self.lines):
            raise self.fail(
                1,
                "the file is empty: write '# Deck title', then '## Slide title' for each slide",
            )
        self.body(self.front_matter())
        if not self.slides:
            first = next(n for n, line in enumerate(self.lines, 1) if line.strip())
            raise self.fail(
                first,
                f"no slide: the outline (lines {first}-{len(self.lines)}) has no '## ' heading; "
                "start each slide with '## Slide title'",
            )
        title = (
            self.front.get("title")
            or self.title
            or (
                self.source.stem.replace("-", " ").replace("_", " ").strip().capitalize()
                if self.source is not None
                else ""
            )
            or self.slides[0].title
        )
        return MarkdownDeck(
            title=title,
            slides=self.slides,
            language=self.front.get("language"),
            voice=self.front.get("voice"),
            description=" ".join(self.description),
            metadata=self.metadata,
            source=self.source,
        )


def parse_outline(text: str, *, source: Path | None = None, images: bool = True) -> MarkdownDeck:
    """Parse a Markdown outline.

    Args:
        text: the Markdown.
        source: the file it came from; image paths are resolved relative to its folder
            (to the current folder when ``None``), and error messages name it.
        images: read the slides' image references; ``False`` leaves every image line out
            without looking at the path (an outline sent by someone who may not read this
            machine's files, such as an upload to the service).

    Raises:
        InvalidInputError: the outline cannot be used; the message names the line.
    """
    return _Parser(text, source, images=images).parse()


_BYTE_ORDER_MARKS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _unicode_by_mark(data: bytes) -> str | None:
    """``"utf-16"`` or ``"utf-32"`` when ``data`` begins with that encoding's byte order mark."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return encoding
    return None


def decode_markdown(data: bytes, source: Path | None = None) -> str:
    """``data`` as text, or :class:`InvalidInputError` naming the line of the first bad byte.

    UTF-8 (with or without a byte order mark); UTF-16 and UTF-32 when they begin with theirs.
    """
    name = f"{source}" if source is not None else "The outline"
    encoding = _unicode_by_mark(data)
    if encoding is not None:  # what Windows editors save as "Unicode"
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise InvalidInputError(
                f"{name}: not {encoding.upper()} text, though it begins with its byte order "
                "mark (the file may be cut short); save the outline as UTF-8 Markdown"
            ) from None
        if "\x00" in text:
            line = text[: text.index("\x00")].count("\n") + 1
            raise InvalidInputError(f"{name}, line {line}: a NUL character; remove it")
        return text
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InvalidInputError(
            f"{name}, line {line}: a NUL byte; this looks like a binary file, not Markdown text"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InvalidInputError(
            f"{name}, line {line}: not UTF-8 text (byte {data[err.start]:#04x}); "
            "save the outline as UTF-8 Markdown"
        ) from None


def load_outline(path: str | Path, *, images: bool = True) -> MarkdownDeck:
    """Read and parse the Markdown outline at ``path`` (blocking; see :func:`parse_outline`)."""
    file = real_path(expand_home(path))
    try:
        size = file.stat().st_size
        if size > _MAX_BYTES:
            raise InvalidInputError(
                f"{file} is {size // 1000} kB; an outline should be under "
                f"{_MAX_BYTES // 1_000_000} MB of Markdown text"
            )
        data = file.read_bytes()
    except IsADirectoryError:
        raise InvalidInputError(f"{file} is a folder: give a Markdown file") from None
    except FileNotFoundError:
        raise InvalidInputError(f"Markdown file {file} does not exist: check the path") from None
    except OSError as err:
        raise InvalidInputError(f"Cannot read {file}: {err.strerror or err}") from None
    return parse_outline(decode_markdown(data, file), source=file, images=images)


def _load_topic(topic: str) -> MarkdownDeck:
    path = expand_home(topic)
    if path.suffix.lower() not in MARKDOWN_SUFFIXES and not path.is_file():
        raise InvalidInputError(
            f"The markdown provider reads a Markdown file, and {topic!r} is not one: "
            "give the path of a .md outline as the topic."
        )
    return load_outline(path)


def slide_script(slide: MarkdownSlide, index: int) -> SlideScript:
    """The :class:`SlideScript` for one parsed slide."""
    return SlideScript(
        index=index,
        title=slide.title,
        bullets=list(slide.bullets),
        narration=slide.spoken(),
        image_query=slide.image_alt or slide.title,
        image_path=str(slide.image_path) if slide.image_path is not None else None,
    )


class MarkdownScriptProvider(Provider):
    """Reads the deck from a Markdown outline instead of writing it.

    Args:
        path: the outline file. Without it, each request's ``topic`` is taken as the path.
        text: the outline itself, instead of a file (images resolve from the current folder).
        images: read the slides' image references; ``False`` leaves them out unread (see
            :func:`parse_outline`).

    The file is parsed when the provider is created (so errors show at once) and slides are
    yielded one by one by :meth:`stream_slides`. Front-matter ``language`` and ``voice`` are in
    :attr:`deck`; the CLI uses them as defaults for the request.

    Example::

        script = MarkdownScriptProvider("examples/how-vaccines-work.md")
        pipeline = StreamingPipeline(script_provider=script, image_provider="generated")
        deck = await pipeline.run(script.deck.title)
    """

    name = "markdown"
    limit_key = ServiceKey("markdown", local=True)
    """Work on this machine's CPU: it takes a share of the CPU budget, per process."""

    def __init__(
        self, path: str | Path | None = None, *, text: str | None = None, images: bool = True
    ) -> None:
        if path is not None and text is not None:
            raise InvalidInputError("Give the Markdown outline as a path or as text, not both.")
        self.path = real_path(expand_home(path)) if path is not None else None
        self._decks: dict[str, MarkdownDeck] = {}
        self._fixed: MarkdownDeck | None = None
        if text is not None:
            self._fixed = parse_outline(text, images=images)
        elif self.path is not None:
            self._fixed = load_outline(self.path, images=images)

    @property
    def deck(self) -> MarkdownDeck:
        """The parsed outline (for a provider created with a path or text)."""
        if self._fixed is None:
            raise InvalidInputError(
                "This MarkdownScriptProvider reads the file named by each request's topic; "
                "create it with a path to read the deck up front."
            )
        return self._fixed

    async def _deck_for(self, request: DeckRequest) -> MarkdownDeck:
        if self._fixed is not None:
            return self._fixed
        deck = self._decks.get(request.topic)
        if deck is None:
            deck = await anyio.to_thread.run_sync(_load_topic, request.topic)
            self._decks[request.topic] = deck
        return deck

    async def outline(self, request: DeckRequest) -> Outline:
        """The deck title and one item per ``## `` slide."""
        deck = await self._deck_for(request)
        return Outline(
            title=deck.title,
            items=[OutlineItem(slide.title, list(slide.bullets)) for slide in deck.slides],
        )

    async def write_slide(self, request: DeckRequest, outline: Outline, index: int) -> SlideScript:
        """Slide ``index`` as written in the file (narration composed when it has none)."""
        deck = await self._deck_for(request)
        if not 0 <= index < len(deck.slides):
            raise InvalidInputError(f"The outline has {len(deck.slides)} slides, not {index + 1}.")
        return slide_script(deck.slides[index], index)

    def stream_slides(self, request: DeckRequest, outline: Outline) -> SlideStream:
        """Every slide of the outline in order, one at a time."""
        return SlideStream(self._slides(request, outline))

    async def _slides(self, request: DeckRequest, outline: Outline) -> AsyncIterator[SlideScript]:
        deck = await self._deck_for(request)
        for index, slide in enumerate(deck.slides[: len(outline.items)]):
            await anyio.lowlevel.checkpoint()
            yield slide_script(slide, index)
