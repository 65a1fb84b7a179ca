"""A batch's inputs: folders of Markdown outlines, topic files, outlines and topics.

Each input becomes one deck with its own folder name, unique in the batch, chosen the way a
single run chooses it: a slug of the outline's file name or of the topic, with ``-2``, ``-3``...
when the output folder already holds a different deck under that name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .._exceptions import InvalidInputError
from .._files import expand_home, free_for_topic, slugify
from ..providers.script.markdown import MARKDOWN_SUFFIXES

__all__ = ["BatchInput", "InputSpec", "assign_projects", "expand_inputs"]

InputSpec = str | os.PathLike[str]
"""A topic, a Markdown outline, a text file of topics (one per line), or a folder of outlines."""

_MAX_TOPIC_FILE_BYTES = 1_000_000


@dataclass(frozen=True, kw_only=True)
class BatchInput:
    """One deck to make: a topic, or a Markdown outline file."""

    source: str | Path
    """The topic, or the outline's path as given."""
    markdown: Path | None = None
    """The outline file, resolved; ``None`` for a topic."""

    @property
    def topic(self) -> str:
        """The topic (for an outline, the file's path; its title is read later)."""
        return str(self.source)

    def base_name(self) -> str:
        """The folder-name stem: the outline's file name, else the topic."""
        return slugify(self.markdown.stem if self.markdown is not None else self.topic)


def _topics(path: Path) -> list[BatchInput]:
    try:
        if path.stat().st_size > _MAX_TOPIC_FILE_BYTES:
            raise InvalidInputError(
                f"{path} is larger than 1 MB; a topic file holds one topic per line."
            )
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(
            f"{path} is not UTF-8 text: a topic file holds one topic per line."
        ) from None
    except OSError as err:
        raise InvalidInputError(f"Cannot read {path}: {err.strerror or err}") from None
    topics = [line.strip() for line in text.splitlines()]
    found = [BatchInput(source=t) for t in topics if t and not t.startswith("#")]
    if not found:
        raise InvalidInputError(
            f"{path} holds no topics: write one topic per line ('#' starts a comment)."
        )
    return found


def _is_outline(path: Path) -> bool:
    """True for a visible Markdown file of a folder (not ``.draft.md``, not macOS ``._x.md``)."""
    return (
        not path.name.startswith(".")
        and path.suffix.lower() in MARKDOWN_SUFFIXES
        and path.is_file()
    )


def _expand(spec: InputSpec) -> list[BatchInput]:
    text = os.fspath(spec)
    path = expand_home(text)
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
    except OSError:  # not a possible path: a topic longer than a file name, say
        is_dir = is_file = False
    if is_dir:
        outlines = sorted(p for p in path.iterdir() if _is_outline(p))
        if not outlines:
            raise InvalidInputError(
                f"Folder {text} holds no Markdown outlines (*.md): give a folder of outlines "
                "or a text file with one topic per line."
            )
        return [BatchInput(source=p, markdown=p.resolve()) for p in outlines]
    if is_file:
        if path.suffix.lower() in MARKDOWN_SUFFIXES:
            return [BatchInput(source=path, markdown=path.resolve())]
        return _topics(path)
    if isinstance(spec, os.PathLike) or path.suffix.lower() in {".md", ".markdown", ".txt"}:
        raise InvalidInputError(f"{text} does not exist: check the path.")
    if not text.strip():
        raise InvalidInputError("An input is empty: give a topic, an outline or a folder.")
    return [BatchInput(source=text.strip())]


def expand_inputs(inputs: InputSpec | Iterable[InputSpec]) -> list[BatchInput]:
    """Every deck ``inputs`` asks for, in order.

    A folder gives its Markdown outlines (sorted by name, not recursive, hidden files left
    out as the shell's ``*.md`` leaves them out); a Markdown file one
    deck; any other existing file one deck per non-empty line (``#`` starts a comment); any
    other string is a topic.

    Raises:
        InvalidInputError: a path does not exist, or gives no deck.
    """
    specs: Iterable[InputSpec] = [inputs] if isinstance(inputs, (str, os.PathLike)) else inputs
    found = [item for spec in specs for item in _expand(spec)]
    if not found:
        raise InvalidInputError("No inputs: give topics, outlines or a folder of outlines.")
    return found


def assign_projects(items: list[BatchInput], output_dir: Path, topics: list[str]) -> list[str]:
    """A folder name for each item, unique in the batch.

    ``topics[i]`` is the deck topic of item ``i``: a folder that already holds a deck of the
    same topic is reused (a batch run again replaces its decks), one holding a different
    deck, or anything that is not a deck folder (a file of that name), is left alone and the
    name gets a ``-2``, ``-3``... suffix.
    """
    taken: set[str] = set()
    names = []
    for item, topic in zip(items, topics, strict=True):
        base = item.base_name()
        candidate, n = base, 1
        while True:
            if candidate not in taken and free_for_topic(output_dir / candidate, topic):
                break
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        names.append(candidate)
    return names
