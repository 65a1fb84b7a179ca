"""The typed events :meth:`StreamingPipeline.stream` yields.

Each event is a frozen dataclass with a ``kind`` tag, and :data:`Event` is their union, so
users can ``match`` on them::

    match event:
        case ss.SlideResult(index=i):
            ...
        case ss.DeckReady(deck=deck):
            ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

from ._limits._data import LimitChanged
from ._models import DeckResult, ImageAsset, Outline, SlideResult, SlideScript
from ._serialize import Serializable as _Serializable

__all__ = [
    "AudioReady",
    "DeckReady",
    "Event",
    "ImagesReady",
    "LimitChanged",
    "OutlineReady",
    "SlideScripted",
]


@dataclass(frozen=True)
class OutlineReady(_Serializable):
    """The deck's outline is known; slide scripts come next."""

    outline: Outline
    kind: Literal["outline"] = field(default="outline", init=False)


@dataclass(frozen=True)
class SlideScripted(_Serializable):
    """A slide's script is written; its image and TTS work starts now."""

    script: SlideScript
    kind: Literal["script"] = field(default="script", init=False)


@dataclass(frozen=True)
class ImagesReady(_Serializable):
    """A slide's images are found (the list is empty when none were)."""

    index: int
    images: list[ImageAsset]
    kind: Literal["images"] = field(default="images", init=False)


@dataclass(frozen=True)
class AudioReady(_Serializable):
    """A slide's narration is synthesised and saved."""

    index: int
    clip_path: Path
    duration_s: float
    kind: Literal["audio"] = field(default="audio", init=False)


@dataclass(frozen=True)
class DeckReady(_Serializable):
    """The run is over; always the last event."""

    deck: DeckResult
    kind: Literal["deck"] = field(default="deck", init=False)


Event: TypeAlias = (
    OutlineReady | SlideScripted | ImagesReady | AudioReady | SlideResult | LimitChanged | DeckReady
)
"""Any event :meth:`StreamingPipeline.stream` yields."""
