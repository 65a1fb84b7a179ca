"""Choosing slide layouts by what their placeholders are, not by index or name.

A user's template may order, rename or translate its layouts ("Titel und Inhalt"), so the
deck builder looks at each layout's placeholder types: a title slide has a centred title and
a subtitle, a content slide a title above one big body, an image slide may also have a
picture placeholder. Vertical-text layouts are never chosen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.presentation import Presentation
from pptx.shapes.placeholder import LayoutPlaceholder
from pptx.slide import SlideLayout

from ._layout import Box, SlideGeometry, builtin_geometry
from ._pptx_text import EMU_PER_PT, box_of

__all__ = ["LayoutChoice", "Layouts", "choose_layouts"]

_TITLES = (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE)
_BODIES = (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT)
_FURNITURE = (PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER)


@dataclass(frozen=True)
class LayoutChoice:
    """A layout and the indexes (``idx``) of the placeholders the builder fills."""

    layout: SlideLayout
    title_idx: int | None = None
    body_idx: int | None = None
    picture_idx: int | None = None
    subtitle_idx: int | None = None


@dataclass(frozen=True)
class Layouts:
    """The layouts a deck uses, and the geometry of its content slides."""

    title: LayoutChoice
    content: LayoutChoice
    picture: LayoutChoice
    """The layout for slides with an image (may be ``content``)."""
    geometry: SlideGeometry
    picture_geometry: SlideGeometry


def _kind(shape: LayoutPlaceholder) -> PP_PLACEHOLDER:
    kind: PP_PLACEHOLDER = shape.placeholder_format.type
    return kind


def _vertical(shape: LayoutPlaceholder) -> bool:
    body_pr = shape.element.find(
        "{http://schemas.openxmlformats.org/presentationml/2006/main}txBody/"
        "{http://schemas.openxmlformats.org/drawingml/2006/main}bodyPr"
    )
    vert = body_pr.get("vert") if body_pr is not None else None
    return vert not in (None, "horz")


def _all(layout: SlideLayout) -> list[LayoutPlaceholder]:
    return list(layout.placeholders)


def _placeholders(layout: SlideLayout) -> list[LayoutPlaceholder]:
    return [ph for ph in _all(layout) if _kind(ph) not in _FURNITURE]


def _first(
    shapes: Iterable[LayoutPlaceholder], kinds: tuple[PP_PLACEHOLDER, ...]
) -> LayoutPlaceholder | None:
    return next((ph for ph in shapes if _kind(ph) in kinds), None)


def _area(shape: LayoutPlaceholder) -> float:
    box = box_of(shape)
    return box.w * box.h


def _content_score(layout: SlideLayout, slide_area: float, *, picture: bool) -> float | None:
    shapes = _placeholders(layout)
    if any(_vertical(ph) for ph in shapes):
        return None
    titles = [ph for ph in shapes if _kind(ph) in _TITLES]
    bodies = [ph for ph in shapes if _kind(ph) in _BODIES]
    pictures = [ph for ph in shapes if _kind(ph) == PP_PLACEHOLDER.PICTURE]
    if len(titles) != 1 or not bodies:
        return None
    body = max(bodies, key=_area)
    if box_of(titles[0]).y > box_of(body).y:
        return None
    share = _area(body) / slide_area
    if picture:
        if len(pictures) != 1 or share < 0.15 or _area(pictures[0]) / slide_area < 0.1:
            return None
    elif pictures:
        return None
    extra = len(shapes) - 2 - (1 if picture else 0)
    return share - 0.2 * extra


def _title_score(layout: SlideLayout) -> float | None:
    shapes = _placeholders(layout)
    if any(_vertical(ph) for ph in shapes):
        return None
    kinds = [_kind(ph) for ph in shapes]
    score = 0.0
    if PP_PLACEHOLDER.CENTER_TITLE in kinds:
        score += 2
    elif PP_PLACEHOLDER.TITLE not in kinds:
        return None
    if PP_PLACEHOLDER.SUBTITLE in kinds:
        score += 1
    return score - 0.1 * (len(shapes) - 2)


def _choice(layout: SlideLayout) -> LayoutChoice:
    shapes = _placeholders(layout)
    title = _first(shapes, _TITLES)
    bodies = [ph for ph in shapes if _kind(ph) in _BODIES]
    body = max(bodies, key=_area) if bodies else None
    picture = _first(shapes, (PP_PLACEHOLDER.PICTURE,))
    subtitle = _first(shapes, (PP_PLACEHOLDER.SUBTITLE,))
    return LayoutChoice(
        layout,
        title_idx=title.placeholder_format.idx if title is not None else None,
        body_idx=body.placeholder_format.idx if body is not None else None,
        picture_idx=picture.placeholder_format.idx if picture is not None else None,
        subtitle_idx=subtitle.placeholder_format.idx if subtitle is not None else None,
    )


def _placeholder(choice: LayoutChoice, idx: int | None) -> LayoutPlaceholder | None:
    if idx is None:
        return None
    return next((ph for ph in _all(choice.layout) if ph.placeholder_format.idx == idx), None)


def _template_geometry(choice: LayoutChoice, width: float, height: float) -> SlideGeometry:
    base = builtin_geometry(width, height)
    title_ph = _placeholder(choice, choice.title_idx)
    body_ph = _placeholder(choice, choice.body_idx)
    picture_ph = _placeholder(choice, choice.picture_idx)
    title = box_of(title_ph) if title_ph is not None else base.title
    body = box_of(body_ph) if body_ph is not None else base.body
    if picture_ph is not None:
        return SlideGeometry(
            width=width,
            height=height,
            title=title,
            body=body,
            body_with_image=body,
            image=box_of(picture_ph),
        )
    gap = min(36.0, body.w * 0.04)
    text_w = (body.w - gap) * 0.52
    return SlideGeometry(
        width=width,
        height=height,
        title=title,
        body=body,
        body_with_image=Box(body.x, body.y, text_w, body.h),
        image=Box(body.x + text_w + gap, body.y, body.w - text_w - gap, body.h),
    )


def choose_layouts(presentation: Presentation) -> Layouts:
    """Pick the title, content and image layouts of ``presentation`` by placeholder type."""
    width = (presentation.slide_width or 0) / EMU_PER_PT
    height = (presentation.slide_height or 0) / EMU_PER_PT
    layouts = list(presentation.slide_layouts)
    slide_area = width * height or 1.0

    def best(score: dict[int, float | None]) -> SlideLayout | None:
        ranked = [(s, -i) for i, s in score.items() if s is not None]
        return layouts[-max(ranked)[1]] if ranked else None

    content = best(
        {i: _content_score(lay, slide_area, picture=False) for i, lay in enumerate(layouts)}
    )
    if content is None:
        content = best({i: _title_score(lay) for i, lay in enumerate(layouts)}) or layouts[0]
    picture = best(
        {i: _content_score(lay, slide_area, picture=True) for i, lay in enumerate(layouts)}
    )
    title = best({i: _title_score(lay) for i, lay in enumerate(layouts)}) or content
    content_choice = _choice(content)
    picture_choice = _choice(picture) if picture is not None else content_choice
    return Layouts(
        title=_choice(title),
        content=content_choice,
        picture=picture_choice,
        geometry=_template_geometry(content_choice, width, height),
        picture_geometry=_template_geometry(picture_choice, width, height),
    )
