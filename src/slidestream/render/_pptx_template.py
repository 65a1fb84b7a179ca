"""The deck in the user's own ``.pptx`` template: its masters, theme and layouts.

The template's own slides are dropped; title and content slides use the layouts
``_pptx_layouts.py`` chooses by placeholder type, and text is written in the template's
fonts and colours (only sizes, wrapping and positions come from the plan).
"""

from __future__ import annotations

from pathlib import Path

from pptx import Presentation
from pptx.enum.text import MSO_ANCHOR
from pptx.presentation import Presentation as PresentationType
from pptx.shapes.placeholder import SlidePlaceholder
from pptx.slide import Slide

from .._exceptions import InvalidInputError
from ._layout import SlideGeometry, fit_title
from ._pptx_layouts import LayoutChoice, Layouts, choose_layouts
from ._pptx_style import ContentPage
from ._pptx_text import (
    BulletStyle,
    TextStyle,
    add_picture,
    box_of,
    delete_shape,
    fill_bullets,
    fill_text,
    place,
)

__all__ = ["TemplateStyle"]


class TemplateStyle:
    """A deck in the layouts, fonts and colours of the template at ``path``."""

    def __init__(self, path: Path) -> None:
        try:
            self._prs = Presentation(str(path))
        except Exception as err:  # python-pptx raises zipfile, KeyError or lxml errors
            raise InvalidInputError(
                f"Cannot read the template {path}: {err}. Give a .pptx file saved by "
                "PowerPoint, LibreOffice or Keynote."
            ) from err
        self._drop_existing_slides()
        self._layouts: Layouts = choose_layouts(self._prs)

    @property
    def presentation(self) -> PresentationType:
        """The presentation slides are added to."""
        return self._prs

    def geometry(self, *, with_image: bool) -> SlideGeometry:
        """The geometry of the layout used for content slides with or without a picture."""
        return self._layouts.picture_geometry if with_image else self._layouts.geometry

    def _drop_existing_slides(self) -> None:
        id_list = self._prs.slides._sldIdLst
        for sld_id in list(id_list):
            self._prs.part.drop_rel(sld_id.rId)
            id_list.remove(sld_id)

    def _new_slide(self, choice: LayoutChoice) -> Slide:
        slide: Slide = self._prs.slides.add_slide(choice.layout)
        return slide

    def add_title_slide(self, title: str, subtitle: str | None) -> Slide:
        """The title in the layout's title placeholder, the subtitle in its subtitle."""
        choice = self._layouts.title
        slide = self._new_slide(choice)
        title_shape = _placeholder(slide, choice.title_idx)
        subtitle_shape = _placeholder(slide, choice.subtitle_idx)
        for ph in list(slide.placeholders):
            if ph not in (title_shape, subtitle_shape):
                delete_shape(ph)
        if title_shape is not None:
            block = fit_title(title, box_of(title_shape), max_size=44, min_size=24, max_lines=3)
            style = TextStyle(align=None, anchor=MSO_ANCHOR.MIDDLE)
            fill_text(title_shape.text_frame, block.lines, block.size, style)
        if subtitle_shape is not None and subtitle:
            box = box_of(subtitle_shape)
            block = fit_title(subtitle, box, max_size=20, min_size=12, max_lines=3)
            style = TextStyle(align=None, bold=False)
            fill_text(subtitle_shape.text_frame, subtitle, block.size, style)
        elif subtitle_shape is not None:
            delete_shape(subtitle_shape)
        return slide

    def add_content_slide(self, page: ContentPage) -> Slide:
        """Title and bullets in the layout's placeholders, the picture where the plan says."""
        plan = page.plan
        with_image = page.image is not None and plan.image is not None
        choice = self._layouts.picture if with_image else self._layouts.content
        slide = self._new_slide(choice)
        title = _placeholder(slide, choice.title_idx)
        body = _placeholder(slide, choice.body_idx)
        for ph in list(slide.placeholders):
            if ph not in (title, body):
                delete_shape(ph)
        if title is not None:
            place(title, plan.title_box)
            style = TextStyle(align=None, anchor=MSO_ANCHOR.BOTTOM)
            fill_text(title.text_frame, plan.title.lines, plan.title.size, style)
        if body is not None and plan.bullets:
            place(body, plan.body_box)
            fill_bullets(body.text_frame, plan, TextStyle(), BulletStyle())
        elif body is not None:
            delete_shape(body)
        if page.image is not None and plan.image is not None:
            add_picture(slide, page.image, plan.image)
        return slide


def _placeholder(slide: Slide, idx: int | None) -> SlidePlaceholder | None:
    if idx is None:
        return None
    for shape in slide.placeholders:
        if shape.placeholder_format.idx == idx:
            found: SlidePlaceholder = shape
            return found
    return None
