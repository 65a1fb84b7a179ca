"""Options for the deck files a run writes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .._exceptions import ConfigurationError, InvalidInputError
from ._libreoffice import find_soffice
from ._template import check_template

__all__ = ["RenderOptions"]

PageRenderer = Literal["auto", "libreoffice", "pillow"]
_RENDERERS: dict[str, PageRenderer] = {
    "auto": "auto",
    "libreoffice": "libreoffice",
    "pillow": "pillow",
}


@dataclass(frozen=True, kw_only=True)
class RenderOptions:
    """What to build from the slides, and how.

    Attributes:
        pptx: write the PowerPoint file.
        pdf: write a PDF of the deck next to it, a page per PPTX slide.
        audio: merge the per-slide narration into one MP3.
        subtitles: write SRT and WebVTT subtitles.
        video: render the MP4 (needs narration).
        template: a ``.pptx`` (or ``.potx``) whose layouts, fonts, colours and background the
            deck uses, in the PPTX, the PDF and the video alike.
        page_renderer: who draws the pages of a deck in a template (its PDF and video
            frames): ``"auto"`` uses LibreOffice when it is installed, else slidestream draws
            them itself (Pillow frames, a vector PDF); ``"libreoffice"`` requires it, and
            also has it print the built-in look's PDF; ``"pillow"`` never starts it. The
            built-in look's pages are drawn by slidestream otherwise. ``"auto"`` follows
            ``SLIDESTREAM_PAGE_RENDERER`` when it is set (``pillow`` on a server that should
            never start LibreOffice, say).
        embed_narration: embed each slide's narration in the PPTX and auto-advance;
            ``None`` means "when there is audio".
        pause_s: silence between slides in the merged narration and the video.
        burn_subtitles: draw the subtitles into the video frames.
        transitions: ``"none"`` (fast, stream-copied segments), ``"crossfade"`` or ``"zoom"``
            (rendered through moviepy; slower).
        video_workers: background encoders working while slides still arrive.
    """

    pptx: bool = True
    pdf: bool = True
    audio: bool = True
    subtitles: bool = True
    video: bool = True
    template: Path | None = None
    page_renderer: PageRenderer = "auto"
    embed_narration: bool | None = None
    pause_s: float = 0.6
    burn_subtitles: bool = False
    transitions: Literal["none", "crossfade", "zoom"] = "none"
    video_workers: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.pause_s <= 10:
            raise InvalidInputError(f"pause_s={self.pause_s} is out of range: use 0 to 10 seconds.")
        if self.transitions not in ("none", "crossfade", "zoom"):
            raise InvalidInputError(
                f"transitions={self.transitions!r} is unknown: use 'none', 'crossfade' or 'zoom'."
            )
        if self.video_workers < 1:
            raise InvalidInputError("video_workers must be at least 1.")
        if self.page_renderer not in ("auto", "libreoffice", "pillow"):
            raise InvalidInputError(
                f"page_renderer={self.page_renderer!r} is unknown: use 'auto', 'libreoffice' "
                "or 'pillow'."
            )
        if self.template is not None:
            object.__setattr__(self, "template", Path(self.template))
            check_template(Path(self.template))
        if self.drawn_by == "libreoffice" and find_soffice() is None:
            raise ConfigurationError(
                "page_renderer='libreoffice' needs LibreOffice, which is not installed: "
                "install it (e.g. apt install libreoffice-impress), set "
                "SLIDESTREAM_SOFFICE to its soffice program, or use page_renderer='auto'."
            )

    @property
    def drawn_by(self) -> PageRenderer:
        """``page_renderer`` with ``"auto"`` resolved through ``SLIDESTREAM_PAGE_RENDERER``."""
        if self.page_renderer != "auto":
            return self.page_renderer
        chosen = os.environ.get("SLIDESTREAM_PAGE_RENDERER", "").strip().lower() or "auto"
        if chosen not in _RENDERERS:
            raise ConfigurationError(
                f"SLIDESTREAM_PAGE_RENDERER={chosen!r} is unknown: use auto, libreoffice or pillow."
            )
        return _RENDERERS[chosen]
