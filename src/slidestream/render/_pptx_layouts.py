"""Choosing a template's layouts by what their placeholders are and where they sit.

Layout names are never read (templates translate them: "Titel und Inhalt"), nor is a
placeholder found by its ``idx`` alone (LibreOffice numbers them all 0). A title slide is a
layout with a title and, best, a subtitle below it; a content slide one title above one big
body; a picture slide may add a picture placeholder beside the body. Vertical-text layouts,
and picture placeholders that cover the body, are never chosen. Each chosen layout is read
into a :class:`LayoutLook`: its placeholders as :class:`~._template.Spot` objects, its
background and its furniture, which both the PPTX writer and the frame painter use.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.parts.slide import SlideLayoutPart
from pptx.presentation import Presentation
from pptx.shapes.placeholder import LayoutPlaceholder
from pptx.slide import SlideLayout

from ._layout import Box, SlideGeometry, builtin_geometry
from ._pptx_text import EMU_PER_PT, box_of
from ._scene import Fill, Item
from ._template import NS, Spot, Theme, background, furniture, placeholder_type, spot

__all__ = ["LayoutLook", "TemplateLayouts", "choose_layouts"]

_TITLES = ("title", "ctrTitle")
_BODIES = ("body", "obj")
_LATENT = ("dt", "ftr", "sldNum")


@dataclass(frozen=True)
class LayoutLook:
    """A chosen layout: the placeholders the deck fills, its background and furniture."""

    layout: SlideLayout
    title: Spot | None
    body: Spot | None
    subtitle: Spot | None
    picture: Spot | None
    background: Fill
    furniture: tuple[Item, ...]


def _kind(shape: LayoutPlaceholder) -> str:
    return placeholder_type(shape.element)


def _vertical(shape: LayoutPlaceholder) -> bool:
    body_pr = shape.element.find("p:txBody/a:bodyPr", NS)
    vert = body_pr.get("vert") if body_pr is not None else None
    return vert not in (None, "horz")


def _placeholders(layout: SlideLayout) -> list[LayoutPlaceholder]:
    every: list[LayoutPlaceholder] = list(layout.placeholders)
    return [ph for ph in every if _kind(ph) not in _LATENT]


_MIN_SIDE = 12.0
"""A placeholder box narrower or lower than this (points) holds no line of text."""


def _on_page(box: Box, page: Box) -> Box | None:
    """The part of ``box`` on the page, or None when too little of it is."""
    x, y = max(box.x, page.x), max(box.y, page.y)
    w, h = min(box.right, page.right) - x, min(box.bottom, page.bottom) - y
    if w < _MIN_SIDE or h < _MIN_SIDE:
        return None
    return Box(x, y, w, h)


def _placed(shape: LayoutPlaceholder, page: Box) -> Box:
    """Where ``shape``'s text can go: its box cut to the page.

    A box of no size, or one off the page (some editors write them for placeholders they
    hide), is replaced by the master's placeholder of the same kind, else by the
    built-in theme's box for a title or a body.
    """
    placed = _on_page(box_of(shape), page)
    if placed is not None:
        return placed
    master_kind = PP_PLACEHOLDER.TITLE if _kind(shape) in _TITLES else PP_PLACEHOLDER.BODY
    layout = shape.part
    master = (
        layout.slide_master.placeholders.get(master_kind)
        if isinstance(layout, SlideLayoutPart)
        else None
    )
    inherited = _on_page(box_of(master), page) if master is not None else None
    if inherited is not None:
        return inherited
    base = builtin_geometry(page.w, page.h)
    return base.title if _kind(shape) in _TITLES else base.body


def _area(shape: LayoutPlaceholder, page: Box) -> float:
    box = _placed(shape, page)
    return box.w * box.h


def _overlap(a: Box, b: Box) -> float:
    """The share of the smaller box that the two boxes share."""
    w = min(a.right, b.right) - max(a.x, b.x)
    h = min(a.bottom, b.bottom) - max(a.y, b.y)
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(1.0, min(a.w * a.h, b.w * b.h))


def _parts(layout: SlideLayout) -> dict[str, list[LayoutPlaceholder]]:
    parts: dict[str, list[LayoutPlaceholder]] = {"title": [], "body": [], "sub": [], "pic": []}
    for ph in _placeholders(layout):
        kind = _kind(ph)
        if kind in _TITLES:
            parts["title"].append(ph)
        elif kind in _BODIES:
            parts["body"].append(ph)
        elif kind == "subTitle":
            parts["sub"].append(ph)
        elif kind == "pic":
            parts["pic"].append(ph)
    return parts


def _content_score(layout: SlideLayout, page: Box, *, picture: bool) -> float | None:
    shapes = _placeholders(layout)
    if not shapes or any(_vertical(ph) for ph in shapes):
        return None
    parts = _parts(layout)
    if len(parts["title"]) != 1 or not parts["body"]:
        return None
    slide_area = page.w * page.h or 1.0
    title, body = parts["title"][0], max(parts["body"], key=lambda ph: _area(ph, page))
    title_box, body_box = _placed(title, page), _placed(body, page)
    if title_box.y > body_box.y or _overlap(title_box, body_box) > 0.2:
        return None
    share = _area(body, page) / slide_area
    if share < 0.15:
        return None
    if picture:
        if len(parts["pic"]) != 1:
            return None
        picture_box = _placed(parts["pic"][0], page)
        if (
            _area(parts["pic"][0], page) / slide_area < 0.08
            or _overlap(picture_box, body_box) > 0.05
        ):
            return None
    elif parts["pic"]:
        return None
    extra = len(shapes) - 2 - (1 if picture else 0)
    return share - 0.2 * extra


def _title_score(layout: SlideLayout, page: Box) -> float | None:
    shapes = _placeholders(layout)
    if not shapes or any(_vertical(ph) for ph in shapes):
        return None
    parts = _parts(layout)
    if len(parts["title"]) != 1:
        return None
    title = parts["title"][0]
    score = 2.0 if _kind(title) == "ctrTitle" else 0.0
    if parts["sub"]:
        below = _placed(parts["sub"][0], page).y >= _placed(title, page).y
        score += 1.5 if below else 0.5
    if parts["body"] and not parts["sub"]:
        score -= 1.0
    return score - 0.1 * (len(shapes) - 2)


def _best(layouts: list[SlideLayout], scores: list[float | None]) -> SlideLayout | None:
    ranked = [(score, -i) for i, score in enumerate(scores) if score is not None]
    return layouts[-max(ranked)[1]] if ranked else None


@dataclass(frozen=True)
class TemplateLayouts:
    """The layouts a templated deck uses, read, and the geometry of its content slides."""

    width: float
    height: float
    title: LayoutLook
    content: LayoutLook
    picture: LayoutLook
    """The look for slides with an image (``content`` when no layout has a picture box)."""

    def geometry(self, *, with_image: bool) -> SlideGeometry:
        """Where a content slide's title, text and picture go, and its text sizes and faces."""
        look = self.picture if with_image else self.content
        base = builtin_geometry(self.width, self.height)
        title = look.title.inner if look.title is not None else base.title
        body = look.body.inner if look.body is not None else base.body
        if look.picture is not None:
            body_with_image, image = body, look.picture.box
        else:
            gap = min(36.0, body.w * 0.04)
            text_w = (body.w - gap) * 0.52
            body_with_image = Box(body.x, body.y, text_w, body.h)
            image = Box(body.x + text_w + gap, body.y, body.w - text_w - gap, body.h)
        title_look = look.title.text if look.title is not None else None
        body_look = look.body.text if look.body is not None else None
        title_max = round(title_look.size) if title_look is not None else base.title_max
        body_max = round(body_look.size) if body_look is not None else base.body_max
        body_min = max(12, min(body_max, round(body_max * 0.64)))
        margin = body_look.margin if body_look is not None else None
        return SlideGeometry(
            width=self.width,
            height=self.height,
            title=title,
            body=body,
            body_with_image=body_with_image,
            image=image,
            title_max=title_max,
            title_min=max(14, min(title_max, round(title_max * 0.6))),
            body_max=body_max,
            body_min=body_min,
            body_hard_min=min(10, body_min),
            title_face=title_look.face if title_look is not None else base.title_face,
            body_face=body_look.face if body_look is not None else base.body_face,
            title_bold=title_look.bold if title_look is not None else True,
            bullet_indent=margin if margin else None,
        )


def _look(layout: SlideLayout, theme: Theme, defaults: etree._Element, page: Box) -> LayoutLook:
    seen = theme.for_layout(layout)
    parts = _parts(layout)

    def read(shapes: list[LayoutPlaceholder]) -> Spot | None:
        if not shapes:
            return None
        shape = max(shapes, key=lambda ph: _area(ph, page))
        return spot(layout, shape.element, _placed(shape, page), seen, defaults)

    return LayoutLook(
        layout=layout,
        title=read(parts["title"]),
        body=read(parts["body"]),
        subtitle=read(parts["sub"]),
        picture=read(parts["pic"]),
        background=background(layout, seen),
        furniture=furniture(layout, seen),
    )


def choose_layouts(presentation: Presentation) -> TemplateLayouts:
    """Pick and read the title, content and picture layouts of ``presentation``."""
    width = (presentation.slide_width or 0) / EMU_PER_PT
    height = (presentation.slide_height or 0) / EMU_PER_PT
    page = Box(0.0, 0.0, width, height)
    layouts = [layout for master in presentation.slide_masters for layout in master.slide_layouts]
    content = _best(layouts, [_content_score(lay, page, picture=False) for lay in layouts])
    titles = [_title_score(lay, page) for lay in layouts]
    if content is None:
        content = _best(layouts, titles) or layouts[0]
    picture = _best(layouts, [_content_score(lay, page, picture=True) for lay in layouts])
    if picture is not None and picture.slide_master is not content.slide_master:
        picture = None  # one master per deck keeps its look consistent
    title = _best(layouts, titles) or content
    theme = Theme.of(content.slide_master)
    defaults = presentation.element.find("p:defaultTextStyle", NS)
    if defaults is None:
        defaults = etree.Element(f"{{{NS['p']}}}defaultTextStyle")
    content_look = _look(content, theme, defaults, page)
    same = title.slide_master is content.slide_master
    title_theme = theme if same else Theme.of(title.slide_master)
    return TemplateLayouts(
        width=width,
        height=height,
        title=_look(title, title_theme, defaults, page),
        content=content_look,
        picture=_look(picture, theme, defaults, page) if picture is not None else content_look,
    )
