"""The data slidestream passes around: requests, scripts, assets and results.

Every type is a frozen dataclass with a ``to_dict()`` that returns plain JSON-serialisable
values (paths become strings, bytes become base64 unless ``include_data=False``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ._exceptions import InvalidInputError
from ._serialize import Serializable as _Serializable
from ._types import AudioFormat, Stage

if TYPE_CHECKING:
    from ._limits import LimitStatistics

__all__ = [
    "DeckRequest",
    "DeckResult",
    "ImageAsset",
    "Outline",
    "OutlineItem",
    "SlideError",
    "SlideResult",
    "SlideScript",
    "SpeechClip",
    "StageSpan",
    "WordTiming",
]

MAX_SLIDES = 200


_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8}){0,3}")
"""A BCP 47 language tag as TTS engines take them: ``en``, ``de-DE``, ``zh-Hans-CN``."""


@dataclass(frozen=True, kw_only=True)
class DeckRequest(_Serializable):
    """What the user asked for: the topic and the shape of the deck."""

    topic: str
    project: str
    language: str = "en"
    slides: int | None = None
    voice: str | None = None
    images_per_slide: int = 1
    source_text: str | None = None
    audience: str | None = None
    tone: str | None = None

    def __post_init__(self) -> None:
        if not self.topic.strip():
            raise InvalidInputError("The topic is empty: give a topic or a Markdown outline file.")
        if self.slides is not None and not 1 <= self.slides <= MAX_SLIDES:
            raise InvalidInputError(
                f"slides={self.slides} is out of range: ask for 1 to {MAX_SLIDES} slides."
            )
        if not 0 <= self.images_per_slide <= 10:
            raise InvalidInputError(
                f"images_per_slide={self.images_per_slide} is out of range: use 0 to 10."
            )
        if not self.language.strip():
            raise InvalidInputError("The language is empty: use a code such as 'en' or 'de-DE'.")
        if not _LANGUAGE_CODE.fullmatch(self.language):
            raise InvalidInputError(
                f"The language {self.language!r} is not a language code: use one such as "
                "'en' or 'de-DE'."
            )


@dataclass(frozen=True)
class OutlineItem(_Serializable):
    """One planned slide: its title and the points it should make."""

    title: str
    key_points: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Outline(_Serializable):
    """The deck plan: a title and one item per slide."""

    title: str
    items: list[OutlineItem]


@dataclass(frozen=True, kw_only=True)
class SlideScript(_Serializable):
    """A written slide: what it shows and what the narrator says.

    ``narration`` is the spoken text and also the speaker notes. ``image_path`` names a
    local image the script itself asks for (a Markdown outline's ``![alt](path)``).
    """

    index: int
    title: str
    bullets: list[str] = field(default_factory=list)
    narration: str = ""
    image_query: str | None = None
    image_path: str | None = None


@dataclass(frozen=True, kw_only=True)
class ImageAsset(_Serializable):
    """An image for a slide, with where it came from and under which licence."""

    data: bytes
    mime_type: str
    width: int
    height: int
    source_url: str | None = None
    attribution: str | None = None
    license: str | None = None
    path: Path | None = None
    """Where the pipeline saved the image, once it has."""


@dataclass(frozen=True)
class WordTiming(_Serializable):
    """When a word (or sentence, for engines that give no word timings) is spoken."""

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True, kw_only=True)
class SpeechClip(_Serializable):
    """Synthesised narration for one slide."""

    audio: bytes
    format: AudioFormat | str
    """An :class:`AudioFormat` (a plain name such as ``"mp3"`` is accepted too)."""
    duration_s: float
    words: list[WordTiming] = field(default_factory=list)
    provider: str | None = None
    """Who spoke it, when a chain chose: the name of the :class:`FallbackTTS` member."""


@dataclass(frozen=True)
class SlideError(_Serializable):
    """A stage that failed for one slide; the slide still arrives without that stage's output.

    ``SlideError("tts", "no voice")``: the stage may be given by name, and is kept as a
    :class:`Stage`.
    """

    stage: Stage
    message: str
    provider: str | None = None

    def __init__(self, stage: Stage | str, message: str, provider: str | None = None) -> None:
        object.__setattr__(self, "stage", Stage(stage))
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "provider", provider)


@dataclass(frozen=True, kw_only=True)
class StageSpan(_Serializable):
    """When one stage of one slide (or of the deck, when ``index`` is None) ran.

    Times are seconds since the run started.
    """

    stage: Stage
    index: int | None
    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage", Stage(self.stage))

    @property
    def duration_s(self) -> float:
        """How long the stage ran."""
        return self.end_s - self.start_s


@dataclass(frozen=True, kw_only=True)
class SlideResult(_Serializable):
    """A slide complete with all its assets; also the event ``stream()`` yields for it."""

    index: int
    script: SlideScript
    images: list[ImageAsset] = field(default_factory=list)
    audio_path: Path | None = None
    duration_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    errors: list[SlideError] = field(default_factory=list)
    words: list[WordTiming] = field(default_factory=list)
    ready_s: float = 0.0
    """Seconds from the start of the run until this slide was complete."""
    providers: dict[str, str] = field(default_factory=dict)
    """Which provider made each stage's output, by :class:`Stage` (``{"tts": "piper"}`` when
    a fallback chain's second voice spoke the slide)."""
    kind: Literal["slide"] = field(default="slide", init=False)

    @property
    def ok(self) -> bool:
        """True when every stage of the slide succeeded."""
        return not self.errors


@dataclass(frozen=True, kw_only=True)
class DeckResult(_Serializable):
    """The finished deck: its slides in order, the files written, and timings."""

    request: DeckRequest
    title: str
    slides: list[SlideResult]
    project_dir: Path | None = None
    pptx_path: Path | None = None
    audio_path: Path | None = None
    video_path: Path | None = None
    subtitles_path: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    """Every file written for the deck, by kind: a :class:`DeckFileKind` for the built-in
    files (``"pptx"``, ``"srt"``, ...), any name a custom assembler chooses for its own."""
    timings: dict[str, float] = field(default_factory=dict)
    spans: list[StageSpan] = field(default_factory=list)
    mode: str = "streaming"
    limits: list[LimitStatistics] = field(default_factory=list)
    """The figures of the limits the run used, when it finished (a limit shared with other
    runs counts their calls too)."""
    cache_problems: list[str] = field(default_factory=list)
    """What went wrong with the cache in this run: entries that could not be stored (a full
    disk, no permission) and damaged entries that were discarded and made again. None of
    them changes the deck; the report warns of them."""

    def report(self) -> str:
        """A human-readable table of stage timings, like::

        Performance report: Quantum computing (8 slides, streaming)
        stage       work (sum)   wall (span)
        outline         7.00 s        7.00 s
        ...
        """
        from ._report import format_report

        return format_report(self)
