"""How a deck's pages look: the built-in theme or a user's template, as plans and scenes.

A :class:`Look` gives the geometry content slides are planned in (``_layout.py``), plans the
title slide, and describes any page as a :class:`~._scene.Scene` for the painters (video frames
with Pillow, PDF pages with reportlab). The PPTX styles (``_pptx_style.py``,
``_pptx_template.py``) write the same plans with the same boxes, fonts and colours, so a
frame looks like its PPTX slide.
"""

from __future__ import annotations

from typing import Protocol

from PIL import Image

from ._layout import (
    THEME,
    Box,
    PagePlan,
    SlideGeometry,
    TextBlock,
    TitlePlan,
    builtin_geometry,
    cover_geometry,
    fit_title,
)
from ._pptx_layouts import LayoutLook, TemplateLayouts
from ._scene import (
    BulletMark,
    ImageItem,
    Item,
    Paragraph,
    Scene,
    ShapeItem,
    Solid,
    TextItem,
)
from ._template import Spot
from ._typeface import LATO, Typeface, typeface

BULLET_FONT = "Arial"
"""The font bullet markers are written in (every viewer has it or its metric twin)."""

__all__ = ["BuiltinLook", "Look", "Picture", "TemplateLook"]

Picture = bytes | Image.Image
"""A slide's picture: its file bytes, or the decoded upright image."""


class Look(Protocol):
    """What the layout plan and the painter need to know about a deck's look."""

    @property
    def size(self) -> tuple[float, float]:
        """The page size in points."""
        ...

    def geometry(self, *, with_image: bool) -> SlideGeometry:
        """Where a content slide's title, text and picture go."""
        ...

    def title_plan(self, title: str, subtitle: str | None) -> TitlePlan:
        """The title slide's text, fitted to its boxes."""
        ...

    def title_scene(self, plan: TitlePlan) -> Scene:
        """The title slide as a scene."""
        ...

    def content_scene(self, plan: PagePlan, image: Picture | None, number: str) -> Scene:
        """A content page as a scene: ``image`` is the picture (file bytes or decoded)."""
        ...

    def typefaces(self) -> list[Typeface]:
        """Every typeface the pages are drawn in."""
        ...


def _lines(block_lines: list[str]) -> tuple[Paragraph, ...]:
    return (Paragraph(tuple(block_lines)),)


class BuiltinLook:
    """slidestream's own theme: 16:9, Lato, a light page, a dark title slide, blue accents."""

    def __init__(self, deck_title: str, *, size: tuple[float, float] = (960.0, 540.0)) -> None:
        self.deck_title = deck_title
        self._size = size

    @property
    def size(self) -> tuple[float, float]:
        """960 x 540 pt (13.333 x 7.5 in)."""
        return self._size

    def geometry(self, *, with_image: bool) -> SlideGeometry:
        """The built-in content geometry (the same with and without a picture)."""
        return builtin_geometry(*self._size)

    def title_plan(self, title: str, subtitle: str | None) -> TitlePlan:
        """The title grows upwards from a rule; the subtitle sits under the rule."""
        cover = cover_geometry(*self._size)
        block = fit_title(
            title,
            cover.title,
            max_size=cover.title_max,
            min_size=cover.title_min,
            max_lines=cover.title_lines,
        )
        if not subtitle:
            return TitlePlan(block, cover.title)
        size = cover.subtitle_size
        sub = fit_title(subtitle, cover.subtitle, max_size=size, min_size=size, bold=False)
        return TitlePlan(block, cover.title, sub, cover.subtitle)

    def title_scene(self, plan: TitlePlan) -> Scene:
        """The dark cover page."""
        cover = cover_geometry(*self._size)
        items: list[Item] = [
            TextItem(
                plan.title_box,
                _lines(plan.title.lines),
                plan.title.size,
                THEME.cover_title,
                bold=True,
                anchor="b",
            ),
            ShapeItem(cover.rule, Solid(THEME.accent), "roundRect", cover.rule.h / 2),
        ]
        if plan.subtitle is not None and plan.subtitle_box is not None:
            items.append(
                TextItem(
                    plan.subtitle_box,
                    _lines(plan.subtitle.lines),
                    plan.subtitle.size,
                    THEME.cover_subtitle,
                )
            )
        return Scene(*self._size, Solid(THEME.cover_background), tuple(items))

    def typefaces(self) -> list[Typeface]:
        """Lato, shipped with slidestream."""
        return [LATO]

    def content_scene(self, plan: PagePlan, image: Picture | None, number: str) -> Scene:
        """Title, accent rule, dotted bullets, the picture with a shadow, and the footer."""
        width, height = self._size
        items: list[Item] = [
            TextItem(
                plan.title_box,
                _lines(plan.title.lines),
                plan.title.size,
                THEME.title,
                bold=True,
                anchor="b",
            ),
            ShapeItem(
                Box(plan.title_box.x, plan.title_box.bottom + 10, 56, 5),
                Solid(THEME.accent),
                "roundRect",
                2.5,
            ),
        ]
        if plan.bullets:
            items.append(
                TextItem(
                    plan.body_box,
                    tuple(Paragraph(tuple(b.lines), not b.continued) for b in plan.bullets),
                    plan.body_size,
                    THEME.text,
                    indent=plan.indent,
                    gap=plan.paragraph_gap,
                    bullet=BulletMark(THEME.accent),
                )
            )
        if image is not None and plan.image is not None:
            items.append(ImageItem(image, plan.image, radius=12, shadow=True))
        top = height - 38
        footer = Box(56, top, width * 0.6, 14)
        items.append(TextItem(footer, _lines([self.deck_title]), 10, THEME.muted))
        if number:
            box = Box(width - 56 - 120, top, 120, 14)
            items.append(TextItem(box, _lines([number]), 10, THEME.muted, align="r"))
        return Scene(width, height, Solid(THEME.background), tuple(items))


def _fit(text: str, spot: Spot, *, floor: float, least: int) -> TextBlock:
    """``text`` in up to three lines in ``spot``, from its size down to ``floor`` of it."""
    size = round(spot.text.size)
    return fit_title(
        text,
        spot.inner,
        max_size=size,
        min_size=max(least, min(size, round(size * floor))),
        max_lines=3,
        bold=spot.text.bold,
        face=spot.text.face,
    )


def _text(spot: Spot, box: Box, lines: list[str], size: float) -> TextItem:
    look = spot.text
    return TextItem(
        box,
        _lines(lines),
        size,
        look.colour,
        look.face,
        bold=look.bold,
        align=look.align,
        anchor=look.anchor,
    )


class TemplateLook:
    """A user's template: its layouts, placeholders, fonts, colours and backgrounds."""

    def __init__(self, layouts: TemplateLayouts) -> None:
        self.layouts = layouts

    @property
    def size(self) -> tuple[float, float]:
        """The template's slide size in points."""
        return self.layouts.width, self.layouts.height

    def geometry(self, *, with_image: bool) -> SlideGeometry:
        """The geometry of the content (or picture) layout's placeholders."""
        return self.layouts.geometry(with_image=with_image)

    def title_plan(self, title: str, subtitle: str | None) -> TitlePlan:
        """The title and subtitle fitted to the title layout's placeholders, in its fonts."""
        look = self.layouts.title
        if look.title is None:
            box = builtin_geometry(*self.size).title
            return TitlePlan(fit_title(title, box, max_size=40, min_size=20, max_lines=3), box)
        block = _fit(title, look.title, floor=0.5, least=14)
        if not subtitle or look.subtitle is None:
            return TitlePlan(block, look.title.inner)
        sub = _fit(subtitle, look.subtitle, floor=0.6, least=10)
        return TitlePlan(block, look.title.inner, sub, look.subtitle.inner)

    def title_scene(self, plan: TitlePlan) -> Scene:
        """The title layout's background and furniture, the title and the subtitle."""
        look = self.layouts.title
        items: list[Item] = list(look.furniture)
        if look.title is not None:
            items.append(_text(look.title, plan.title_box, plan.title.lines, plan.title.size))
        else:
            items.append(
                TextItem(plan.title_box, _lines(plan.title.lines), plan.title.size, (0, 0, 0))
            )
        if look.subtitle is not None and plan.subtitle is not None and plan.subtitle_box:
            items.append(
                _text(look.subtitle, plan.subtitle_box, plan.subtitle.lines, plan.subtitle.size)
            )
        return Scene(*self.size, look.background, tuple(items))

    def typefaces(self) -> list[Typeface]:
        """The template's typefaces: its placeholders', its furniture's, the bullets'."""
        layouts = self.layouts
        faces = [typeface(BULLET_FONT)]
        for look in (layouts.title, layouts.content, layouts.picture):
            for spot in (look.title, look.body, look.subtitle):
                if spot is not None:
                    faces.append(spot.text.face)
            faces += [item.face for item in look.furniture if isinstance(item, TextItem)]
        return list(dict.fromkeys(faces))

    def content_scene(self, plan: PagePlan, image: Picture | None, number: str) -> Scene:
        """The layout's background and furniture, the title, the bullets and the picture."""
        with_image = image is not None and plan.image is not None
        look: LayoutLook = self.layouts.picture if with_image else self.layouts.content
        items: list[Item] = list(look.furniture)
        if look.title is not None:
            items.append(_text(look.title, plan.title_box, plan.title.lines, plan.title.size))
        if plan.bullets:
            body = look.body.text if look.body is not None else None
            colour = body.colour if body is not None else (0, 0, 0)
            face = body.face if body is not None else self.geometry(with_image=False).body_face
            bullet = body.bullet if body is not None else None
            mark = BulletMark(
                bullet.colour if bullet is not None and bullet.colour is not None else colour,
                char=bullet.char if bullet is not None else "•",
                face=typeface(BULLET_FONT),
                scale=bullet.scale if bullet is not None else 1.0,
            )
            items.append(
                TextItem(
                    plan.body_box,
                    tuple(Paragraph(tuple(b.lines), not b.continued) for b in plan.bullets),
                    plan.body_size,
                    colour,
                    face,
                    bold=body.bold if body is not None else False,
                    indent=plan.indent,
                    gap=plan.paragraph_gap,
                    bullet=mark,
                )
            )
        if with_image and image is not None and plan.image is not None:
            items.append(ImageItem(image, plan.image))
        return Scene(*self.size, look.background, tuple(items))
