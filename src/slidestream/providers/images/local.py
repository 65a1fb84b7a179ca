"""The ``local`` image provider: pictures from a folder of the user's own images.

Images are matched to slides by the words in their file names: ``herd-immunity.png`` suits a
slide whose image query or title mentions "herd immunity". Words are compared after a light
stemming (``branches`` ~ ``branch``, ``vaccines`` ~ ``vaccine``), the image query counts
more than the title, and ties go to the file name that sorts first, so the choice is stable.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import anyio

from ..._exceptions import ConfigurationError
from ..._files import expand_home, real_path
from ..._images import IMAGE_SUFFIXES, load_local_image
from ..._limits import ServiceKey
from ..._models import DeckRequest, ImageAsset, SlideScript
from ..._text import plain_text
from .._protocols import Provider

__all__ = ["LocalImageProvider", "stem", "words"]

ENV_FOLDER = "SLIDESTREAM_IMAGE_DIR"
_IGNORED = frozenset(
    {
        "a",
        "an",
        "and",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "at",
        "from",
        "is",
        "are",
        "be",
        "this",
        "that",
        "img",
        "image",
        "picture",
        "photo",
        "pic",
        "screenshot",
        "final",
        "copy",
        "edit",
        "small",
        "large",
    }
)
_ENDINGS = (
    ("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"),
    ("ing", ""), ("ed", ""), ("es", "e"), ("s", ""),
)  # fmt: skip


def stem(word: str) -> str:
    """A light stem: lower case, common English endings removed (``branches`` -> ``branch``)."""
    word = word.lower()
    for ending, keep in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(ending)] + keep
    return word


def _split(text: str) -> list[str]:
    """Runs of letters, combining marks and digits of any script (Devanagari vowel signs
    stay in their word); everything else (``-``, ``_``, ``.``, spaces) separates."""
    kept = "".join(c if unicodedata.category(c)[0] in "LMN" else " " for c in text)
    return kept.split()


def words(text: str) -> set[str]:
    """The stemmed words of ``text``, in any script; file-name separators and camelCase split
    words. Accented letters count the same whether composed or not (macOS writes file names
    decomposed: ``e`` + U+0301 for ``é``)."""
    composed = unicodedata.normalize("NFC", text)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", composed)
    found = _split(spaced)
    return {stem(w) for w in found if len(w) > 1 and w.lower() not in _IGNORED}


@dataclass(frozen=True)
class _Candidate:
    path: Path
    words: frozenset[str]


def _score(candidate: _Candidate, query: set[str], title: set[str], body: set[str]) -> float:
    return (
        3.0 * len(candidate.words & query)
        + 2.0 * len(candidate.words & title)
        + 0.5 * len(candidate.words & body)
    )


class LocalImageProvider(Provider):
    """Finds slide images in a folder of your own pictures, by the words in their file names.

    Args:
        folder: the folder to search (subfolders too). Defaults to the folder named by the
            ``SLIDESTREAM_IMAGE_DIR`` environment variable, else ``./images``.

    A slide no file name matches gets no image (an empty list), never an unrelated one.
    """

    name = "local"
    limit_key = ServiceKey("local", local=True)
    """Local work: its calls also take a share of the CPU budget."""

    def __init__(self, folder: str | Path | None = None) -> None:
        chosen = folder if folder is not None else os.environ.get(ENV_FOLDER, "images")
        self.folder = real_path(expand_home(chosen))
        if not self.folder.is_dir():
            raise ConfigurationError(
                f"Image folder {self.folder} does not exist: create it and put your images in "
                f"it, or pass folder=... (the CLI reads ${ENV_FOLDER})."
            )
        self._candidates: list[_Candidate] | None = None

    def _scan(self) -> list[_Candidate]:
        if self._candidates is None:
            found = [
                _Candidate(path, frozenset(words(path.stem)))
                for path in sorted(self.folder.rglob("*"))
                if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
            ]
            self._candidates = [c for c in found if c.words]
        return self._candidates

    def match(self, slide: SlideScript, *, limit: int) -> list[Path]:
        """The best-matching image files for ``slide``, best first (blocking: scans the folder)."""
        query = words(plain_text(slide.image_query or ""))
        title = words(plain_text(slide.title))
        body = words(plain_text(" ".join(slide.bullets)))
        own = Path(slide.image_path).resolve() if slide.image_path else None
        scored = [
            (score, candidate.path.relative_to(self.folder).as_posix(), candidate.path)
            for candidate in self._scan()
            if candidate.path != own and (score := _score(candidate, query, title, body)) > 0
        ]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [path for _, _, path in scored[:limit]]

    def _find(self, slide: SlideScript, limit: int) -> list[ImageAsset]:
        assets = []
        for path in self.match(slide, limit=limit * 2):
            try:
                assets.append(load_local_image(path, attribution=f"Local image {path.name}"))
            except (OSError, ValueError):
                continue  # not an image after all: the next best match may be
            if len(assets) == limit:
                break
        return assets

    async def find_images(
        self, request: DeckRequest, slide: SlideScript, *, limit: int
    ) -> list[ImageAsset]:
        """Up to ``limit`` images whose file names share words with the slide."""
        if limit < 1:
            return []
        return await anyio.to_thread.run_sync(self._find, slide, limit)
