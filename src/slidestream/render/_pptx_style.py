"""How a deck looks in the PPTX: one interface, two strategies.

:class:`DeckStyle` is what the deck builder (``_pptx.py``) asks of a look: the presentation
to add slides to, the :class:`~._look.Look` that plans pages, and how to write the title slide
and a content page. :class:`BuiltinStyle` is slidestream's own 16:9 theme (Lato, the colours
of ``_layout.THEME``, an accent rule, a footer); ``TemplateStyle`` (``_pptx_template.py``)
fills the placeholders of the user's template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.presentation import Presentation as PresentationType
from pptx.slide import Slide

from ._imaging import PreparedImage
from ._layout import THEME, Box, PagePlan, TitlePlan, cover_geometry
from ._look import BuiltinLook, Look
from ._pptx_text import (
    BulletStyle,
    TextStyle,
    add_picture,
    delete_shape,
    emu,
    fill_bullets,
    fill_text,
    place,
    rgb,
)

__all__ = ["FONT", "BuiltinStyle", "ContentPage", "DeckStyle", "StyleBase"]

FONT = "Lato"
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class ContentPage:
    """One content page to write: its plan, its picture, and its page number text."""

    plan: PagePlan
    image: PreparedImage | None
    number: str = ""


class DeckStyle(Protocol):
    """A deck's look in the PPTX."""

    @property
    def presentation(self) -> PresentationType:
        """The presentation slides are added to (empty of slides)."""
        ...

    @property
    def look(self) -> Look:
        """The look that plans the pages (shared with the frame painter)."""
        ...

    def add_title_slide(self, plan: TitlePlan) -> Slide:
        """Add the deck's title slide."""
        ...

    def add_content_slide(self, page: ContentPage) -> Slide:
        """Add one content page: title, bullets and picture as ``page.plan`` says."""
        ...


_BULLET = BulletStyle(char="•", colour=THEME.accent, font="Arial")
AnyLook = TypeVar("AnyLook", bound=Look)


class StyleBase(Generic[AnyLook]):
    """What every style holds: the presentation it fills and the look that plans it."""

    def __init__(self, presentation: PresentationType, look: AnyLook) -> None:
        self._prs = presentation
        self._look = look

    @property
    def presentation(self) -> PresentationType:
        """The presentation slides are added to."""
        return self._prs

    @property
    def look(self) -> AnyLook:
        """The look that plans the pages."""
        return self._look


class BuiltinStyle(StyleBase[BuiltinLook]):
    """slidestream's own theme: 16:9 (960 x 540 pt), Lato, light pages, a dark title slide."""

    def __init__(self, look: BuiltinLook) -> None:
        super().__init__(Presentation(), look)
        width, height = look.size
        self._prs.slide_width, self._prs.slide_height = emu(width), emu(height)
        background = self._prs.slide_master.background.fill
        background.solid()
        background.fore_color.rgb = rgb(THEME.background)
        layouts = self._prs.slide_layouts
        self._title_layout = layouts[0]  # the default template's "Title Slide"
        self._content_layout = layouts[1]  # "Title and Content"

    def add_title_slide(self, plan: TitlePlan) -> Slide:
        """A dark page, the title growing upwards from a rule, the subtitle under it."""
        slide: Slide = self._prs.slides.add_slide(self._title_layout)
        title, subtitle = slide.shapes.title, slide.placeholders[1]
        assert title is not None
        slide.background.fill.solid()
        slide.background.fill.fore_color.rgb = rgb(THEME.cover_background)
        self._rule(slide, cover_geometry(*self._look.size).rule, THEME.accent)
        place(title, plan.title_box)
        style = TextStyle(colour=THEME.cover_title, bold=True, font=FONT, anchor=MSO_ANCHOR.BOTTOM)
        width = plan.title_box.w
        fill_text(title.text_frame, plan.title.lines, plan.title.size, style, width=width)
        if plan.subtitle is not None and plan.subtitle_box is not None:
            place(subtitle, plan.subtitle_box)
            style, sub = TextStyle(colour=THEME.cover_subtitle, font=FONT), plan.subtitle
            fill_text(subtitle.text_frame, sub.lines, sub.size, style, width=plan.subtitle_box.w)
        else:
            delete_shape(subtitle)
        return slide

    def add_content_slide(self, page: ContentPage) -> Slide:
        """Title, accent rule, bullets, the picture with rounded corners, and the footer."""
        plan = page.plan
        slide: Slide = self._prs.slides.add_slide(self._content_layout)
        title, body = slide.shapes.title, slide.placeholders[1]
        assert title is not None
        place(title, plan.title_box)
        style = TextStyle(colour=THEME.title, bold=True, font=FONT, anchor=MSO_ANCHOR.BOTTOM)
        width = plan.title_box.w
        fill_text(title.text_frame, plan.title.lines, plan.title.size, style, width=width)
        if plan.bullets:
            place(body, plan.body_box)
            fill_bullets(body.text_frame, plan, TextStyle(colour=THEME.text, font=FONT), _BULLET)
        else:
            delete_shape(body)
        if page.image is not None and plan.image is not None:
            add_picture(slide, page.image, plan.image, corner=12)
        self._rule(slide, Box(plan.title_box.x, plan.title_box.bottom + 10, 56, 5), THEME.accent)
        self._footer(slide, page.number)
        return slide

    def _rule(self, slide: Slide, box: Box, colour: RGB) -> None:
        shape = slide.shapes.add_shape(
            MSO_SHAPE.ROUNDED_RECTANGLE, emu(box.x), emu(box.y), emu(box.w), emu(box.h)
        )
        shape.adjustments[0] = 0.5
        shape.fill.solid()
        shape.fill.fore_color.rgb = rgb(colour)
        shape.line.fill.background()
        shape.shadow.inherit = False
        shape.name = "Accent"

    def _footer(self, slide: Slide, number: str) -> None:
        width, height = self._look.size
        top = height - 38
        for text, box, align in (
            (self._look.deck_title, Box(56, top, width * 0.6, 14), PP_ALIGN.LEFT),
            (number, Box(width - 56 - 120, top, 120, 14), PP_ALIGN.RIGHT),
        ):
            if not text:
                continue
            shape = slide.shapes.add_textbox(emu(box.x), emu(box.y), emu(box.w), emu(box.h))
            shape.name = "Footer"
            style = TextStyle(colour=THEME.muted, font=FONT, align=align)
            fill_text(shape.text_frame, text, 10, style)
