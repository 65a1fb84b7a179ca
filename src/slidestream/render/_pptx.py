"""The PowerPoint deck: built slide by slide as slides complete, written once at the end.

:class:`PptxDeckBuilder` makes the title slide at once, lays out and adds each content slide
the moment :meth:`~PptxDeckBuilder.add_slide` receives it (in any order), and on
:meth:`~PptxDeckBuilder.save` puts the slides in slide order, adds the image credits and
writes the file atomically. Text size, wrapping, continuation slides and image placement come
from ``_layout.py``, the same rules the video frames follow; how the slides look is the
:class:`~._pptx_style.DeckStyle`'s business: the built-in theme, or the user's template
(``RenderOptions.template``). The builder also gives every page it made as a
:class:`~._scene.Scene`, for the PDF drawn without LibreOffice.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pptx.slide import Slide

from .._exceptions import RenderError
from .._files import atomic_writer
from .._models import ImageAsset, SlideResult, SlideScript
from .._types import AudioFormat
from ._assembler import AssemblyContext
from ._audio import clip_as_mp3
from ._frames import slide_number
from ._imaging import PreparedImage, first_image, prepare_for_pptx
from ._layout import Box, PagePlan, deck_subtitle, plan_pages
from ._look import BuiltinLook
from ._mp3_cut import Mp3Clip
from ._pptx_media import embed_audio, set_auto_advance
from ._pptx_style import BuiltinStyle, ContentPage, DeckStyle
from ._pptx_template import TemplateStyle
from ._pptx_text import EMU_PER_PT
from ._scene import Scene

__all__ = ["CREDITS_TITLE", "PptxDeckBuilder", "blank_copy", "frame_deck", "open_style"]

TITLE_SLIDE_MS = 4000
"""How long the title slide stays up when the deck plays by itself."""
CREDITS_TITLE = "Image credits"


def open_style(context: AssemblyContext) -> DeckStyle:
    """The deck's look: the user's template when there is one, else the built-in theme.

    Raises:
        InvalidInputError: the template cannot be read.
    """
    template = context.options.template
    if template is not None:
        return TemplateStyle.open(Path(template))
    return BuiltinStyle(BuiltinLook(context.title))


def blank_copy(style: DeckStyle, context: AssemblyContext) -> DeckStyle:
    """A new, empty deck in ``style``'s look, without reading the template file again."""
    if isinstance(style, TemplateStyle):
        return TemplateStyle.reopen(style.data)
    return open_style(context)


def _picture(slide: SlideResult) -> tuple[ImageAsset | None, PreparedImage | None]:
    asset = first_image(slide)
    if asset is None:
        return None, None
    try:
        return asset, prepare_for_pptx(asset)
    except RenderError:
        return None, None


def _plans(
    slide: SlideResult, style: DeckStyle, image: PreparedImage | None, *, max_pages: int | None
) -> list[PagePlan]:
    return plan_pages(
        slide.script.title,
        slide.script.bullets,
        style.look.geometry(with_image=image is not None),
        image_size=(image.width, image.height) if image is not None else None,
        max_pages=max_pages,
    )


def frame_deck(template: bytes, slide: SlideResult, count: int) -> bytes:
    """A one-slide PPTX of ``slide`` as a video frame shows it (one page, text shrunk).

    ``template`` is a prepared template (:attr:`TemplateStyle.data`); LibreOffice draws the
    result, so a templated video looks exactly like its PPTX.
    """
    style = TemplateStyle.reopen(template)
    _, image = _picture(slide)
    plan = _plans(slide, style, image, max_pages=1)[0]
    picture = image if plan.image is not None else None
    style.add_content_slide(ContentPage(plan, picture, slide_number(slide.index, count)))
    out = io.BytesIO()
    style.presentation.save(out)
    return out.getvalue()


@dataclass
class _Entry:
    """The PPTX slides made for one script (several when it continues), and their pages."""

    slide_ids: list[int]
    pages: list[ContentPage] = field(default_factory=list)
    credits: list[ImageAsset] = field(default_factory=list)


class PptxDeckBuilder:
    """Builds the deck's PPTX as slides arrive; thread-safe, one instance per deck.

    Args:
        context: the run (title, options, slide count).
        style: the deck's look in the PPTX (default: from ``context.options.template``).
    """

    def __init__(self, context: AssemblyContext, style: DeckStyle | None = None) -> None:
        self.context = context
        self._lock = threading.Lock()
        self.style = style or open_style(context)
        self._prs = self.style.presentation
        self._entries: dict[int, _Entry] = {}
        self._narrated = False
        self._credit_ids: list[int] = []
        self._credit_pages: list[ContentPage] = []
        subtitle = deck_subtitle(context.title, context.request.topic)
        self.title_plan = self.style.look.title_plan(context.title, subtitle)
        self._title_id = self.style.add_title_slide(self.title_plan).slide_id

    # -- public ------------------------------------------------------------------------------

    def add_slide(
        self, slide: SlideResult, *, narration: bytes | None = None, embed: bool = True
    ) -> None:
        """Lay out ``slide`` and add it (and any continuation slides) to the deck.

        Slides may arrive in any order; :meth:`save` sorts them. Adding a slide index again
        replaces the earlier version. ``narration``: the clip already made MP3 (see
        :meth:`wants_narration`), else it is converted here; ``embed=False``: no narration
        now, :meth:`add_narration` embeds it later.

        Raises:
            RenderError: the slide's narration cannot be decoded for embedding; the slide is
                added without it first, so the deck is still complete.
        """
        asset, image = _picture(slide)
        plans = _plans(slide, self.style, image, max_pages=None)
        audio: bytes | None = None
        problem: RenderError | None = None
        try:
            if embed:
                audio = narration if narration is not None else self._narration(slide)
        except RenderError as err:
            problem = err
        number = slide_number(slide.index, self.context.slide_count)
        pages = [ContentPage(p, image if p.image is not None else None, number) for p in plans]
        with self._lock:
            if slide.index in self._entries:
                self._remove(self._entries.pop(slide.index).slide_ids)
            ids = []
            for page in pages:
                ids.append(self._add_content_slide(slide.script.narration, page).slide_id)
            credits = [asset] if asset is not None else []
            self._entries[slide.index] = _Entry(ids, pages, credits)
            if audio is not None:
                self._narrate(ids, slide, plans, audio, slide.duration_s)
        if problem is not None:
            raise problem

    def add_narration(self, slide: SlideResult, clip: Mp3Clip | None) -> None:
        """Embed ``clip`` as the narration of ``slide``, added with ``embed=False``; its pages
        advance once the clip has played (its lead, then the narration). ``None``: the
        slide's clip is converted here.

        Raises:
            RenderError: the slide's clip cannot be decoded for embedding.
        """
        if clip is None:
            audio = self._narration(slide)
            if audio is None:
                return
            clip = Mp3Clip(data=audio, lead_s=0.0)
        with self._lock:
            entry = self._entries.get(slide.index)
            if entry is not None and entry.slide_ids:
                plans = [page.plan for page in entry.pages]
                played_s = clip.lead_s + slide.duration_s if slide.duration_s > 0 else 0.0
                self._narrate(entry.slide_ids, slide, plans, clip.data, played_s)

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
            # Straight to the file: no second copy of every picture and clip in memory.
            with atomic_writer(path) as handle:
                self._prs.save(handle)
        return path

    def title_scene(self) -> Scene:
        """The title slide as a scene."""
        return self.style.look.title_scene(self.title_plan)

    def slide_scenes(self, index: int) -> list[Scene]:
        """The pages made for slide ``index`` (none before it is added), as scenes."""
        with self._lock:
            entry = self._entries.get(index)
            pages = list(entry.pages) if entry is not None else []
        return [self._scene(page) for page in pages]

    def credit_scenes(self) -> list[Scene]:
        """The image-credits pages as the last :meth:`save` wrote them, as scenes."""
        with self._lock:
            pages = list(self._credit_pages)
        return [self._scene(page) for page in pages]

    def _scene(self, page: ContentPage) -> Scene:
        data = page.image.data if page.image is not None else None
        return self.style.look.content_scene(page.plan, data, page.number)

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

    def _add_content_slide(self, narration: str, page: ContentPage) -> Slide:
        slide = self.style.add_content_slide(page)
        notes_frame = slide.notes_slide.notes_text_frame
        if notes_frame is not None:
            notes_frame.text = narration if page.plan.page == 0 else "(continued)"
        return slide

    def _add_credits(self) -> None:
        self._remove(self._credit_ids)
        self._credit_ids, self._credit_pages = [], []
        lines = [
            line
            for index in sorted(self._entries)
            for asset in self._entries[index].credits
            if (line := _credit_line(index, asset))
        ]
        if not lines:
            return
        credits = SlideScript(index=-1, title=CREDITS_TITLE, narration=CREDITS_TITLE + ".")
        geometry = self.style.look.geometry(with_image=False)
        for plan in plan_pages(credits.title, lines, geometry):
            page = ContentPage(plan, None)
            self._credit_pages.append(page)
            self._credit_ids.append(self._add_content_slide(credits.narration, page).slide_id)

    # -- narration ---------------------------------------------------------------------------

    def wants_narration(self, slide: SlideResult) -> bool:
        """True when ``slide``'s narration clip is embedded (as MP3)."""
        return self.context.options.embed_narration is not False and slide.audio_path is not None

    def _narration(self, slide: SlideResult) -> bytes | None:
        """The clip to embed, as MP3 (every viewer plays it, and it keeps decks small)."""
        if not self.wants_narration(slide) or slide.audio_path is None:
            return None
        try:
            return clip_as_mp3(Path(slide.audio_path))
        except RenderError as err:
            raise RenderError(f"slide {slide.index + 1}: {err}") from err

    def _narrate(
        self,
        slide_ids: list[int],
        slide: SlideResult,
        plans: list[PagePlan],
        audio: bytes,
        played_s: float,
    ) -> None:
        """Embed ``audio`` on a script's first page; its pages share ``played_s`` by lines."""
        self._embed(self._slide(slide_ids[0]), slide, plans, audio, played_s)
        if played_s > 0:
            for page, slide_id in enumerate(slide_ids[1:], start=1):
                set_auto_advance(self._slide(slide_id), _page_ms(played_s, plans, page))

    def _embed(
        self,
        pptx_slide: Slide,
        slide: SlideResult,
        plans: list[PagePlan],
        audio: bytes,
        played_s: float,
    ) -> None:
        width = (self._prs.slide_width or 0) / EMU_PER_PT
        height = (self._prs.slide_height or 0) / EMU_PER_PT
        total_ms = round(played_s * 1000) if played_s > 0 else None
        embed_audio(
            pptx_slide,
            audio,
            audio_format=AudioFormat.MP3,
            name=f"narration-{slide.index + 1}",
            # Off the page: the narration plays, and no printed page shows a speaker icon.
            box=Box(width + 12, height - 36, 24, 24),
            duration_ms=total_ms,
            slides=len(plans),
        )
        if total_ms is not None:
            set_auto_advance(pptx_slide, _page_ms(played_s, plans, 0))
        self._narrated = True


def _page_ms(played_s: float, plans: list[PagePlan], page: int) -> int:
    """When page ``page`` of a slide's pages advances: its share of ``played_s`` by lines."""
    weights = [max(1, sum(len(b.lines) for b in p.bullets)) for p in plans]
    return round(played_s * 1000 * weights[page] / sum(weights))


def _credit_line(index: int, asset: ImageAsset) -> str | None:
    """``"Slide 3: Photo by A. Person, CC BY 4.0 (https://...)"``, or None without a credit."""
    parts = [p.strip() for p in (asset.attribution, asset.license) if p and p.strip()]
    if not parts:
        return None
    line = f"Slide {index + 1}: " + ", ".join(parts)
    if asset.source_url and asset.source_url not in line:
        line += f" ({asset.source_url})"
    return line
