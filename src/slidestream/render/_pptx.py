"""The PowerPoint deck: built slide by slide as slides complete, written once at the end.

:class:`PptxDeckBuilder` makes the title slide at once, lays out and adds each content slide
the moment :meth:`~PptxDeckBuilder.add_slide` receives it (in any order), and on
:meth:`~PptxDeckBuilder.save` puts the slides in slide order, adds the image credits and
writes the file atomically. Text size, wrapping, continuation slides and image placement come
from ``_layout.py``, the same rules the video frames follow; how the slides look is the
:class:`~._pptx_style.DeckStyle`'s business: the built-in theme, or the user's template
(``RenderOptions.template``).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pptx.slide import Slide

from .._exceptions import RenderError
from .._files import atomic_write_bytes
from .._models import ImageAsset, SlideResult, SlideScript
from .._types import AudioFormat
from ._assembler import AssemblyContext
from ._audio import clip_as_mp3
from ._imaging import PreparedImage, first_image, prepare_for_pptx
from ._layout import Box, PagePlan, deck_subtitle, plan_pages
from ._pptx_media import embed_audio, set_auto_advance
from ._pptx_style import BuiltinStyle, ContentPage, DeckStyle
from ._pptx_template import TemplateStyle
from ._pptx_text import EMU_PER_PT

__all__ = ["CREDITS_TITLE", "PptxDeckBuilder", "open_style"]

TITLE_SLIDE_MS = 4000
"""How long the title slide stays up when the deck plays by itself."""
CREDITS_TITLE = "Image credits"


def open_style(context: AssemblyContext) -> DeckStyle:
    """The deck's look: the user's template when there is one, else the built-in theme."""
    template = context.options.template
    if template is not None:
        return TemplateStyle(Path(template))
    return BuiltinStyle(context.title)


@dataclass
class _Entry:
    """The PPTX slides made for one script (several when it continues)."""

    slide_ids: list[int]
    credits: list[ImageAsset] = field(default_factory=list)


class PptxDeckBuilder:
    """Builds the deck's PPTX as slides arrive; thread-safe, one instance per deck.

    Args:
        context: the run (title, options, slide count).
    """

    def __init__(self, context: AssemblyContext) -> None:
        self.context = context
        self._lock = threading.Lock()
        self._style = open_style(context)
        self._prs = self._style.presentation
        self._entries: dict[int, _Entry] = {}
        self._narrated = False
        self._credit_ids: list[int] = []
        subtitle = deck_subtitle(context.title, context.request.topic)
        self._title_id = self._style.add_title_slide(context.title, subtitle).slide_id

    # -- public ------------------------------------------------------------------------------

    def add_slide(self, slide: SlideResult) -> None:
        """Lay out ``slide`` and add it (and any continuation slides) to the deck.

        Slides may arrive in any order; :meth:`save` sorts them. Adding a slide index again
        replaces the earlier version.

        Raises:
            RenderError: the slide's narration cannot be decoded for embedding; the slide is
                added without it first, so the deck is still complete.
        """
        asset = first_image(slide)
        image: PreparedImage | None = None
        if asset is not None:
            try:
                image = prepare_for_pptx(asset)
            except RenderError:
                asset = None
        plans = plan_pages(
            slide.script.title,
            slide.script.bullets,
            self._style.geometry(with_image=image is not None),
            image_size=(image.width, image.height) if image is not None else None,
        )
        audio: bytes | None = None
        problem: RenderError | None = None
        try:
            audio = self._narration(slide)
        except RenderError as err:
            problem = err
        with self._lock:
            if slide.index in self._entries:
                self._remove(self._entries.pop(slide.index).slide_ids)
            ids = []
            for plan in plans:
                pptx_slide = self._add_content_slide(slide, plan, image)
                ids.append(pptx_slide.slide_id)
                if plan.page == 0 and audio is not None:
                    self._embed(pptx_slide, slide, plans, audio)
                elif audio is not None and slide.duration_s > 0:
                    set_auto_advance(pptx_slide, self._page_ms(slide, plans, plan.page))
            self._entries[slide.index] = _Entry(ids, [asset] if asset is not None else [])
        if problem is not None:
            raise problem

    def save(self, path: Path) -> Path:
        """Put the slides in order, add the credits slide, and write ``path`` atomically."""
        with self._lock:
            self._add_credits()
            if self._narrated:
                set_auto_advance(self._slide(self._title_id), TITLE_SLIDE_MS)
            order = [self._title_id]
            for index in sorted(self._entries):
                order += self._entries[index].slide_ids
            order += self._credit_ids
            self._reorder(order)
            out = io.BytesIO()
            self._prs.save(out)
        return atomic_write_bytes(path, out.getvalue())

    # -- deck structure ------------------------------------------------------------------------

    def _slide(self, slide_id: int) -> Slide:
        found: Slide | None = self._prs.slides.get(slide_id)
        if found is None:  # pragma: no cover - ids come from our own slides
            raise RenderError(f"Slide id {slide_id} vanished from the deck.")
        return found

    def _remove(self, slide_ids: list[int]) -> None:
        id_list = self._prs.slides._sldIdLst
        for sld_id in list(id_list):
            if sld_id.id in slide_ids:
                self._prs.part.drop_rel(sld_id.rId)
                id_list.remove(sld_id)

    def _reorder(self, order: list[int]) -> None:
        id_list = self._prs.slides._sldIdLst
        by_id = {sld_id.id: sld_id for sld_id in id_list}
        for sld_id in list(id_list):
            id_list.remove(sld_id)
        for slide_id in order:
            id_list.append(by_id[slide_id])
        _ = self._prs.slides  # renames slide parts to slide1.xml, slide2.xml, ... in order

    def _add_content_slide(
        self, result: SlideResult, plan: PagePlan, image: PreparedImage | None
    ) -> Slide:
        number = ""
        if result.index >= 0:
            number = f"{result.index + 1} / {max(self.context.slide_count, result.index + 1)}"
        with_image = image if plan.image is not None else None
        slide = self._style.add_content_slide(ContentPage(plan, with_image, number))
        notes_frame = slide.notes_slide.notes_text_frame
        if notes_frame is not None:
            notes_frame.text = result.script.narration if plan.page == 0 else "(continued)"
        return slide

    def _add_credits(self) -> None:
        self._remove(self._credit_ids)
        self._credit_ids = []
        lines = [
            line
            for index in sorted(self._entries)
            for asset in self._entries[index].credits
            if (line := _credit_line(index, asset))
        ]
        if not lines:
            return
        for plan in plan_pages(CREDITS_TITLE, lines, self._style.geometry(with_image=False)):
            credits = SlideResult(
                index=-1,
                script=SlideScript(index=-1, title=CREDITS_TITLE, narration=CREDITS_TITLE + "."),
            )
            self._credit_ids.append(self._add_content_slide(credits, plan, None).slide_id)

    # -- narration ---------------------------------------------------------------------------

    def _narration(self, slide: SlideResult) -> bytes | None:
        """The clip to embed, as MP3 (every viewer plays it, and it keeps decks small)."""
        if self.context.options.embed_narration is False or slide.audio_path is None:
            return None
        try:
            return clip_as_mp3(Path(slide.audio_path))
        except RenderError as err:
            raise RenderError(f"slide {slide.index + 1}: {err}") from err

    @staticmethod
    def _page_ms(slide: SlideResult, plans: list[PagePlan], page: int) -> int:
        weights = [max(1, sum(len(b.lines) for b in p.bullets)) for p in plans]
        return round(slide.duration_s * 1000 * weights[page] / sum(weights))

    def _embed(
        self, pptx_slide: Slide, slide: SlideResult, plans: list[PagePlan], audio: bytes
    ) -> None:
        width = (self._prs.slide_width or 0) / EMU_PER_PT
        height = (self._prs.slide_height or 0) / EMU_PER_PT
        total_ms = round(slide.duration_s * 1000) if slide.duration_s > 0 else None
        embed_audio(
            pptx_slide,
            audio,
            audio_format=AudioFormat.MP3,
            name=f"narration-{slide.index + 1}",
            box=Box(width - 40, height - 40, 24, 24),
            duration_ms=total_ms,
            slides=len(plans),
        )
        if total_ms is not None:
            set_auto_advance(pptx_slide, self._page_ms(slide, plans, 0))
        self._narrated = True


def _credit_line(index: int, asset: ImageAsset) -> str | None:
    """``"Slide 3: Photo by A. Person, CC BY 4.0 (https://...)"``, or None without a credit."""
    parts = [p.strip() for p in (asset.attribution, asset.license) if p and p.strip()]
    if not parts:
        return None
    line = f"Slide {index + 1}: " + ", ".join(parts)
    if asset.source_url and asset.source_url not in line:
        line += f" ({asset.source_url})"
    return line
