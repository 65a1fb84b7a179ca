"""The deck in the user's own ``.pptx`` template: its masters, theme, layouts and fonts.

The template is read by ``_template.py`` (sample slides dropped, placeholders numbered
uniquely) and its layouts chosen by ``_pptx_layouts.py``. Each slide is made from the chosen
layout and its placeholders, found by type and position, are filled: the title in the title
placeholder, the bullets in the body, the picture in a picture placeholder when the layout
has one (else beside the body). Text is in the template's fonts, colours and alignment, written
out on each run (viewers inherit LibreOffice-style templates differently); its size and line
breaks come from the plan, measured with the template's own fonts.
"""

from __future__ import annotations

import io
from pathlib import Path

from pptx import Presentation
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.presentation import Presentation as PresentationType
from pptx.shapes.autoshape import Shape
from pptx.shapes.placeholder import PicturePlaceholder
from pptx.slide import Slide

from ._imaging import PreparedImage
from ._layout import Box, ImagePlacement, TitlePlan
from ._look import BULLET_FONT, TemplateLook
from ._pptx_layouts import LayoutLook, choose_layouts
from ._pptx_style import ContentPage, StyleBase
from ._pptx_text import (
    BulletStyle,
    TextStyle,
    add_picture,
    delete_shape,
    emu,
    fill_bullets,
    fill_text,
    place,
)
from ._scene import Align, Anchor
from ._template import Spot, TextLook, open_template

__all__ = ["TemplateStyle"]

_ALIGN: dict[Align, PP_ALIGN] = {"l": PP_ALIGN.LEFT, "ctr": PP_ALIGN.CENTER, "r": PP_ALIGN.RIGHT}
_ANCHOR: dict[Anchor, MSO_ANCHOR] = {
    "t": MSO_ANCHOR.TOP,
    "ctr": MSO_ANCHOR.MIDDLE,
    "b": MSO_ANCHOR.BOTTOM,
}


def _outer(box: Box, insets: tuple[float, float, float, float]) -> Box:
    left, top, right, bottom = insets
    return Box(box.x - left, box.y - top, box.w + left + right, box.h + top + bottom)


def _style(look: TextLook | None) -> TextStyle:
    if look is None:  # a text box where the layout has no placeholder
        return TextStyle(colour=(0, 0, 0))
    return TextStyle(
        colour=look.colour,
        bold=look.bold,
        font=look.font,
        align=_ALIGN[look.align],
        anchor=_ANCHOR[look.anchor],
        insets=look.insets,
        face=look.face,
    )


class TemplateStyle(StyleBase[TemplateLook]):
    """A deck in the layouts, fonts and colours of a template.

    Args:
        presentation: the template, prepared by :func:`~._template.open_template`.
        data: the prepared template as bytes (to open it again for another deck).
    """

    def __init__(self, presentation: PresentationType, data: bytes) -> None:
        super().__init__(presentation, TemplateLook(choose_layouts(presentation)))
        self.data = data

    @classmethod
    def open(cls, path: Path) -> TemplateStyle:
        """The style of the template file at ``path``.

        Raises:
            InvalidInputError: the file is missing or is not a PowerPoint presentation.
        """
        return cls(*open_template(path))

    @classmethod
    def reopen(cls, data: bytes) -> TemplateStyle:
        """Another style (a new, empty deck) from the prepared bytes of one."""
        return cls(Presentation(io.BytesIO(data)), data)

    def _slide(self, look: LayoutLook, keep: list[Spot | None]) -> tuple[Slide, dict[int, Shape]]:
        """A new slide of ``look``'s layout with only the placeholders in ``keep``."""
        slide: Slide = self._prs.slides.add_slide(look.layout)
        wanted = {spot.idx for spot in keep if spot is not None}
        found: dict[int, Shape] = {}
        for shape in list(slide.placeholders):
            idx = shape.placeholder_format.idx
            if idx in wanted and idx not in found:
                found[idx] = shape
            else:
                delete_shape(shape)
        return slide, found

    def _text(
        self,
        slide: Slide,
        found: dict[int, Shape],
        spot: Spot | None,
        box: Box,
    ) -> Shape:
        """The placeholder of ``spot`` moved to ``box`` (its text area), or a new text box."""
        look = spot.text if spot is not None else None
        outer = _outer(box, look.insets) if look is not None else box
        shape = found.get(spot.idx) if spot is not None else None
        if shape is None:
            shape = slide.shapes.add_textbox(emu(outer.x), emu(outer.y), emu(outer.w), emu(outer.h))
        place(shape, outer)
        return shape

    def add_title_slide(self, plan: TitlePlan) -> Slide:
        """The title in the layout's title placeholder, the subtitle in its subtitle."""
        look = self._look.layouts.title
        subtitle = look.subtitle if plan.subtitle is not None else None
        slide, found = self._slide(look, [look.title, subtitle])
        title = self._text(slide, found, look.title, plan.title_box)
        title_look = look.title.text if look.title is not None else None
        style = _style(title_look)
        width = plan.title_box.w
        fill_text(title.text_frame, plan.title.lines, plan.title.size, style, width=width)
        if subtitle is not None and plan.subtitle is not None and plan.subtitle_box is not None:
            shape = self._text(slide, found, subtitle, plan.subtitle_box)
            style, width = _style(subtitle.text), plan.subtitle_box.w
            fill_text(shape.text_frame, plan.subtitle.lines, plan.subtitle.size, style, width=width)
        return slide

    def add_content_slide(self, page: ContentPage) -> Slide:
        """Title and bullets in the layout's placeholders, the picture in its picture box."""
        plan = page.plan
        with_image = page.image is not None and plan.image is not None
        look = self._look.layouts.picture if with_image else self._look.layouts.content
        body = look.body if plan.bullets else None
        picture = look.picture if with_image else None
        slide, found = self._slide(look, [look.title, body, picture])
        title = self._text(slide, found, look.title, plan.title_box)
        title_look = look.title.text if look.title is not None else None
        style, width = _style(title_look), plan.title_box.w
        fill_text(title.text_frame, plan.title.lines, plan.title.size, style, width=width)
        if plan.bullets:
            shape = self._text(slide, found, look.body, plan.body_box)
            body_look = look.body.text if look.body is not None else None
            bullet = body_look.bullet if body_look is not None else None
            marker = BulletStyle(
                char=bullet.char if bullet is not None else "•",
                colour=bullet.colour if bullet is not None else None,
                font=BULLET_FONT,
            )
            fill_bullets(shape.text_frame, plan, _style(body_look), marker)
        if page.image is not None and plan.image is not None:
            holder = found.get(picture.idx) if picture is not None else None
            _picture(slide, holder, page.image, plan.image)
        return slide


def _picture(
    slide: Slide, holder: Shape | None, image: PreparedImage, placement: ImagePlacement
) -> None:
    """The picture in the layout's picture placeholder when there is one, else on its own."""
    if not isinstance(holder, PicturePlaceholder):
        add_picture(slide, image, placement)
        return
    picture = holder.insert_picture(io.BytesIO(image.data))  # type: ignore[no-untyped-call]
    place(picture, placement.box)
    picture.crop_left, picture.crop_right = placement.crop_left, placement.crop_right
    picture.crop_top, picture.crop_bottom = placement.crop_top, placement.crop_bottom
