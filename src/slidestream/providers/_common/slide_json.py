"""Turning a language model's JSON text into outlines and slides, incrementally when streamed.

Pure functions and one small state machine, no I/O:

- :class:`SlideObjectScanner` finds each slide object the moment its closing brace arrives in
  streamed text such as ``{"slides": [{...}, {...}]}`` (or a bare ``[{...}, {...}]``), even
  when the JSON is wrapped in prose or a code fence;
- :func:`extract_json` pulls the JSON value out of a whole reply (prose, code fences and
  ``<think>`` blocks around it are ignored) with one repair attempt for malformed or cut-off
  JSON;
- :func:`parse_outline` and :func:`normalize_slide` validate what the model wrote and fill in
  defaults for missing fields, so a slide without narration is a slide, not a crash.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

import json_repair

from ..._models import DeckRequest, Outline, OutlineItem, SlideScript
from ..._text import compose_narration

__all__ = [
    "MalformedJSONError",
    "SlideNumbering",
    "SlideObjectScanner",
    "ThinkFilter",
    "extract_json",
    "looks_like_slide",
    "normalize_slide",
    "parse_outline",
    "slides_from_document",
    "unmarked",
]

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_SLIDE_KEYS = (
    "title",
    "bullets",
    "narration",
    "points",
    "key_points",
    "notes",
    "script",
    "content",
)
_WRAPPER_KEYS = ("slide", "item", "section")
_ITEM_LIST_KEYS = ("slides", "items", "outline", "sections")
_TEXT_KEYS = ("text", "title", "point", "content", "bullet", "description", "name", "value")
_MD_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.MULTILINE)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)\s]*\)")
# **strong**, __strong__, *em* and `code`, only when the marks wrap words: ``2 * 3 * 4``
# and ``snake_case_name`` stay as they are.
_MD_MARKS = re.compile(r"(\*\*|__|(?<![\w*])\*|`)(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_BULLET_DOT = re.compile(r"\s*[•▪◦‣]\s*")


class MalformedJSONError(ValueError):
    """The text holds no JSON value we could read, even after one repair attempt."""


class SlideNumbering:
    """Where each slide goes when the model numbers its slides (``"slide_number": 3``).

    Models that write slides out of order usually say which is which, counting from 0 or
    from 1 under any of ``index``, ``slide_index``, ``slide_number``, ``number`` or
    ``slide``. The first numbered slide tells how the model counts when it came in order (a
    first slide numbered 1 counts from 1, even as ``index``); out of order, ``index`` and
    ``slide_index`` count from 0 and the others from 1; a 0 anywhere means from 0. A slide
    with no number, a number outside the deck, or a place already taken goes where it
    arrived.
    """

    _FROM_ONE = ("slide_number", "number", "slide")
    _FROM_ZERO = ("slide_index", "index")

    def __init__(self, count: int) -> None:
        self._count = count
        self._base: int | None = None
        self._taken: set[int] = set()

    def index(self, value: Any, position: int) -> int:
        """The 0-based index of the slide ``value`` that arrived at ``position``."""
        stated, usual_base = _stated_number(value, self._FROM_ZERO), 0
        if stated is None:
            stated, usual_base = _stated_number(value, self._FROM_ONE), 1
        index = position
        if stated is not None:
            if self._base is None:
                in_order = stated - position in (0, 1)
                self._base = stated - position if in_order else usual_base
            if stated == 0:
                self._base = 0
            index = stated - self._base
            if not 0 <= index < self._count or index in self._taken:
                index = position
        self._taken.add(index)
        return index


def _stated_number(value: Any, keys: tuple[str, ...]) -> int | None:
    """The whole number (or string of digits) under the first of ``keys`` that has one."""
    if not isinstance(value, Mapping):
        return None
    for key in keys:
        number = value.get(key)
        if isinstance(number, str) and number.strip().isdigit():
            return int(number)
        if isinstance(number, int) and not isinstance(number, bool):
            return number
    return None


class ThinkFilter:
    """Drops ``<think>...</think>`` blocks from streamed text (reasoning models emit them).

    Text is held back only while it might be the start of a tag, so everything else passes
    through at once.
    """

    _OPEN, _CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self._held = ""
        self._thinking = False

    def feed(self, text: str) -> str:
        """Return the part of ``text`` (plus any held-back text) that is not thinking."""
        data, self._held = self._held + text, ""
        out: list[str] = []
        while data:
            tag = self._CLOSE if self._thinking else self._OPEN
            at = data.find(tag)
            if at >= 0:
                if not self._thinking:
                    out.append(data[:at])
                data = data[at + len(tag) :]
                self._thinking = not self._thinking
                continue
            keep = _partial_suffix(data, tag)
            if not self._thinking:
                out.append(data[: len(data) - keep])
            self._held = data[len(data) - keep :]
            break
        return "".join(out)

    def flush(self) -> str:
        """The held-back text once the stream has ended."""
        held, self._held = self._held, ""
        return "" if self._thinking else held


def _partial_suffix(text: str, tag: str) -> int:
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class SlideObjectScanner:
    """Finds slide objects in streamed JSON text as soon as each one closes.

    A slide object is an object that is an element of an array which is either the top-level
    value or a member of the top-level object (``{"slides": [...]}``). Text before the first
    ``{`` or ``[`` (prose, a code fence) is skipped; strings and escapes are tracked so braces
    inside text do not count.
    """

    def __init__(self) -> None:
        self._text: list[str] = []
        self._stack: list[str] = []
        self._in_string = False
        self._escape = False
        self._current: list[str] | None = None

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return "".join(self._text)

    def _at_element_level(self) -> bool:
        return self._stack == ["["] or self._stack == ["{", "["]

    def feed(self, text: str) -> list[str]:
        """Feed the next piece of text; return the slide objects it completed, in order."""
        self._text.append(text)
        done: list[str] = []
        start = 0
        for position, char in enumerate(text):
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif char == "\\":
                    self._escape = True
                elif char == '"':
                    self._in_string = False
                continue
            if char == '"':
                if self._stack:
                    self._in_string = True
            elif char in "{[":
                if char == "{" and self._current is None and self._at_element_level():
                    self._current = []
                    start = position
                self._stack.append(char)
            elif char in "}]" and self._stack:
                opener = self._stack.pop()
                if (opener, char) not in (("{", "}"), ("[", "]")):
                    self._stack.append(opener)  # unbalanced prose bracket: ignore it
                    continue
                if char == "}" and self._current is not None and self._at_element_level():
                    self._current.append(text[start : position + 1])
                    done.append("".join(self._current))
                    self._current = None
        if self._current is not None:
            self._current.append(text[start:])
        return done


def _strip_wrapping(text: str) -> str:
    text = _THINK.sub("", text)
    fenced = _FENCE.search(text)
    if fenced and fenced.group(1).strip()[:1] in ("{", "["):
        return fenced.group(1).strip()
    return text.strip()


def _first_json_value(text: str) -> tuple[Any, int]:
    """The first JSON object or array in ``text``, or where a broken one starts.

    Returns ``(value, -1)``, or ``(None, start)`` for JSON that is malformed or cut off (so
    its inner objects are not mistaken for the whole). Brackets in prose are skipped.
    """
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        start = match.start()
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError as error:
            if error.pos > start + 1:
                return None, start  # JSON that is malformed or cut off: repair from here
            continue  # a bracket in prose
        if isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(v, (dict, str)) for v in value)
        ):
            return value, -1
    raise MalformedJSONError("no complete JSON object in the text")


def extract_json(text: str) -> tuple[Any, bool]:
    """The JSON object or array in a model's reply, and whether it needed repairing.

    Tries, in order: the whole text; the first complete JSON value inside it (prose or a
    code fence around it); then one repair attempt (json-repair) for malformed or cut-off
    JSON.

    Raises:
        MalformedJSONError: nothing usable, even after the repair attempt.
    """
    try:
        return _extract_json(_strip_wrapping(text))
    except RecursionError:  # hostile nesting: [[[[... thousands deep
        raise MalformedJSONError("the JSON is nested too deeply to read") from None


def _extract_json(body: str) -> tuple[Any, bool]:
    try:
        value = json.loads(body)
        if isinstance(value, (dict, list)):
            return value, False
    except json.JSONDecodeError:
        pass
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    try:
        value, cut_at = _first_json_value(body)
    except MalformedJSONError:
        pass
    else:
        if cut_at < 0:
            return value, False
        start = cut_at
    if start < 0:
        raise MalformedJSONError("the reply contains no JSON")
    try:
        repaired = json_repair.repair_json(body[start:], return_objects=True)
    except Exception as error:  # json-repair has no documented error type
        raise MalformedJSONError(f"the JSON could not be repaired: {error}") from error
    if not isinstance(repaired, (dict, list)) or not repaired:
        raise MalformedJSONError("the JSON could not be repaired")
    return repaired, True


def unmarked(text: str) -> str:
    """``text`` as a model meant it to be read: HTML entities decoded, Markdown marks gone.

    Headings (``## ``), links (``[text](url)`` keeps ``text``), ``**strong**``,
    ``__strong__``, ``*emphasis*`` and ```code``` lose their marks; a ``*`` or ``_`` that
    does not wrap words (``2 * 3``, ``snake_case``) stays.
    """
    text = html.unescape(text)
    text = _MD_HEADING.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    previous = None
    while previous != text:
        previous, text = text, _MD_MARKS.sub(r"\2", text)
    return text.strip()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return unmarked(value)
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value if _text(v))
    if isinstance(value, Mapping):
        return _text(_first(value, *_TEXT_KEYS) or _first_scalar(value))
    return str(value).strip()


def _first_scalar(value: Mapping[str, Any]) -> Any:
    """The first string or number in an object none of whose keys names its text."""
    for item in value.values():
        if isinstance(item, (str, int, float)) and not isinstance(item, bool):
            return item
    return None


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        pieces = [
            piece
            for line in value.splitlines()
            for piece in _BULLET_DOT.split(line.strip().lstrip("-*").strip())
        ]
        texts = [_text(piece) for piece in pieces]
        return [text for text in texts if text]
    if isinstance(value, (list, tuple)):
        return [text for text in (_text(v) for v in value) if text]
    text = _text(value)
    return [text] if text else []


def _first(data: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in data and data[key] not in (None, "", []):
            return data[key]
    return None


def _unwrapped(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """The slide inside a one-key wrapper (``{"slide": {...}}``), else ``value`` itself."""
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key in _WRAPPER_KEYS and isinstance(inner, Mapping):
            return inner
    return value


def looks_like_slide(value: Any) -> bool:
    """True for an object with at least one slide field (title, bullets, narration, ...)."""
    if not isinstance(value, Mapping):
        return False
    return any(key in _unwrapped(value) for key in _SLIDE_KEYS)


def normalize_slide(data: Any, *, index: int, outline: Outline | None = None) -> SlideScript:
    """A :class:`SlideScript` from whatever object the model wrote for slide ``index``.

    Missing fields get defaults: the title from the outline item (else ``Slide N``), no
    bullets, narration composed from the title and bullets, the image query from the title.
    """
    fields: Mapping[str, Any] = _unwrapped(data) if isinstance(data, Mapping) else {}
    body = fields.get("content")
    item = outline.items[index] if outline is not None and 0 <= index < len(outline.items) else None
    title = _text(_first(fields, "title", "heading", "name"))
    if not title:
        title = item.title if item is not None else f"Slide {index + 1}"
    bullets = _strings(_first(fields, "bullets", "points", "key_points", "bullet_points"))
    if not bullets and isinstance(body, (list, tuple)):
        bullets = _strings(body)
    narration = _text(
        _first(fields, "narration", "notes", "speaker_notes", "script", "speech", "text")
    )
    if not narration and isinstance(body, str):
        narration = _text(body)
    if not narration:
        narration = compose_narration(title, bullets)
    query = _text(_first(fields, "image_query", "image", "image_prompt", "image_search"))
    return SlideScript(
        index=index,
        title=title,
        bullets=bullets,
        narration=narration,
        image_query=query or title,
    )


def _slide_list(value: Any, *, single: bool) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        listed = _first(value, *_ITEM_LIST_KEYS)
        if isinstance(listed, list):
            return listed
        if single and looks_like_slide(value):
            return [value]
        wrapped = _wrapped_slide_list(value)
        if wrapped:
            return wrapped
    return []


def _wrapped_slide_list(value: Mapping[str, Any]) -> list[Any]:
    """The slide list one level down: ``{"presentation": {"slides": [...]}}``."""
    for inner in value.values():
        if isinstance(inner, Mapping):
            listed = _first(inner, *_ITEM_LIST_KEYS)
            if isinstance(listed, list):
                return listed
    return []


def slides_from_document(value: Any) -> list[Any]:
    """The slide objects of a whole ``{"slides": [...]}`` document (or a bare list)."""
    return [slide for slide in _slide_list(value, single=True) if looks_like_slide(slide)]


def parse_outline(value: Any, request: DeckRequest) -> Outline:
    """An :class:`Outline` from the model's JSON; titles and points get defaults when missing.

    Raises:
        MalformedJSONError: the JSON holds no slide list at all.
    """
    items: list[OutlineItem] = []
    for number, entry in enumerate(_slide_list(value, single=False), start=1):
        if isinstance(entry, str) and entry.strip():
            items.append(OutlineItem(entry.strip(), []))
        elif isinstance(entry, Mapping):
            entry = _unwrapped(entry)
            title = _text(_first(entry, "title", "heading", "name")) or f"Part {number}"
            points = _strings(_first(entry, "key_points", "points", "bullets", "bullet_points"))
            items.append(OutlineItem(title, points))
    if not items:
        raise MalformedJSONError("the outline has no slides")
    if request.slides is not None:
        items = items[: request.slides]
    title = ""
    if isinstance(value, Mapping):
        title = _text(_first(value, "title", "deck_title", "presentation_title"))
    return Outline(title=title or request.topic, items=items)
