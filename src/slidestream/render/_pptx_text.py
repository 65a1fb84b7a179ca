"""Writing shapes and text into PPTX slides: the DrawingML details both deck styles share.

Text is written the way ``_layout.py`` planned it: one size per block, an exact line pitch,
bullets with a hanging indent, and insets the plan accounted for, so a viewer breaks lines
where the plan (and the video frame) does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from lxml import etree
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.shapes.base import BaseShape
from pptx.slide import Slide
from pptx.text.text import TextFrame, _Paragraph
from pptx.util import Emu, Pt

from ._imaging import PreparedImage
from ._layout import Box, ImagePlacement, PagePlan, join_lines, line_pitch
from ._typeface import LATO, Typeface

__all__ = [
    "EMU_PER_PT",
    "BulletStyle",
    "TextStyle",
    "add_picture",
    "box_of",
    "delete_shape",
    "emu",
    "fill_bullets",
    "fill_text",
    "place",
    "rgb",
    "round_corners",
]

EMU_PER_PT = 12700
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
P = "http://schemas.openxmlformats.org/presentationml/2006/main"
RGB = tuple[int, int, int]


def emu(points: float) -> Emu:
    """``points`` in EMU (English Metric Units, 12700 per point)."""
    return Emu(round(points * EMU_PER_PT))


def rgb(colour: RGB) -> RGBColor:
    """A python-pptx colour."""
    return RGBColor(*colour)  # type: ignore[no-untyped-call]


def box_of(shape: BaseShape) -> Box:
    """A shape's rectangle in points."""
    return Box(
        (shape.left or 0) / EMU_PER_PT,
        (shape.top or 0) / EMU_PER_PT,
        (shape.width or 0) / EMU_PER_PT,
        (shape.height or 0) / EMU_PER_PT,
    )


def delete_shape(shape: BaseShape) -> None:
    """Remove ``shape`` from its slide."""
    element = shape.element
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


def place(shape: BaseShape, box: Box) -> None:
    """Move and size ``shape`` to ``box``."""
    shape.left, shape.top = emu(box.x), emu(box.y)
    shape.width, shape.height = emu(box.w), emu(box.h)


@dataclass(frozen=True)
class TextStyle:
    """How a block of text is written; ``None`` leaves the value to the template.

    ``insets`` are the frame's left, top, right and bottom margins in points; the plan's
    box is the shape's box less these. ``face`` is the typeface the plan measured with.
    """

    colour: RGB | None = None
    bold: bool | None = None
    font: str | None = None
    align: PP_ALIGN | None = PP_ALIGN.LEFT
    anchor: MSO_ANCHOR = MSO_ANCHOR.TOP
    insets: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    face: Typeface = LATO


@dataclass(frozen=True)
class BulletStyle:
    """The marker of a bullet: its character, colour and font (``None``: the template's)."""

    char: str = "•"
    colour: RGB | None = None
    font: str | None = None


WRAP_TOLERANCE = 0.005
"""Share of a line a viewer may measure wider than the plan and still break it the same."""


def _prepare(frame: TextFrame, style: TextStyle, *, shrink: bool, width: float) -> None:
    """Wrap inside the box with the style's insets; ``shrink`` lets the viewer shrink text
    that a substituted (wider) font makes overflow.

    The plan wrapped lines at ``face.safety`` of the ``width`` (points) they may use; the
    rest goes to the insets, so a viewer with the same font breaks lines where the plan
    (and the video frame) does. Text runs across, as planned, even where the template's
    layout or master writes it vertically.
    """
    frame._txBody.bodyPr.set("vert", "horz")
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE if shrink else MSO_AUTO_SIZE.NONE
    frame.vertical_anchor = style.anchor
    left, top, right, bottom = style.insets
    slack = max(0.0, width * (1 - style.face.safety - WRAP_TOLERANCE))
    if style.align == PP_ALIGN.CENTER:
        left, right = left + slack / 2, right + slack / 2
    elif style.align == PP_ALIGN.RIGHT:
        left += slack
    else:
        right += slack
    frame.margin_left, frame.margin_top = emu(left), emu(top)
    frame.margin_right, frame.margin_bottom = emu(right), emu(bottom)


def _run_format(run: object, size: float, style: TextStyle) -> None:
    font = run.font  # type: ignore[attr-defined]
    font.size = Pt(size)
    if style.bold is not None:
        font.bold = style.bold
    if style.font is not None:
        font.name = style.font
    if style.colour is not None:
        font.color.rgb = rgb(style.colour)


def _markers(p_pr: etree._Element, markers: list[etree._Element]) -> None:
    """Replace the paragraph's bullet settings with ``markers``, where the schema wants them."""
    for child in list(p_pr):
        if child.tag.startswith(f"{{{A}}}bu"):
            p_pr.remove(child)
    # a:pPr children order: lnSpc, spcBef, spcAft, buClr..., buSzX, buFont, buNone/buChar, ...
    at = sum(1 for child in p_pr if etree.QName(child).localname in ("lnSpc", "spcBef", "spcAft"))
    for offset, element in enumerate(markers):
        p_pr.insert(at + offset, element)


def fill_text(
    frame: TextFrame,
    lines: list[str] | str,
    size: float,
    style: TextStyle,
    *,
    width: float = 0.0,
    shrink: bool = False,
) -> None:
    """Put text in ``frame`` as one paragraph at ``size`` points with exact line pitch.

    ``lines`` (the plan's wrapped lines) are joined back: the viewer wraps them again at
    the same places, since the plan measured them with the same font in ``width`` points.
    """
    _prepare(frame, style, shrink=shrink, width=width)
    frame.text = ""
    paragraph = frame.paragraphs[0]
    if style.align is not None:
        paragraph.alignment = style.align
    paragraph.line_spacing = Pt(line_pitch(size))
    paragraph.space_before = paragraph.space_after = Pt(0)
    p_pr = paragraph._p.get_or_add_pPr()
    p_pr.set("marL", "0")
    p_pr.set("indent", "0")
    _markers(p_pr, [etree.Element(f"{{{A}}}buNone")])
    run = paragraph.add_run()
    run.text = lines if isinstance(lines, str) else join_lines(lines)
    _run_format(run, size, style)


def _bullet_markers(bullet: BulletStyle) -> list[etree._Element]:
    markers = []
    if bullet.colour is not None:
        colour = etree.Element(f"{{{A}}}buClr")
        srgb = etree.SubElement(colour, f"{{{A}}}srgbClr")
        srgb.set("val", "".join(f"{c:02X}" for c in bullet.colour))
        markers.append(colour)
    if bullet.font is not None:
        font = etree.Element(f"{{{A}}}buFont")
        font.set("typeface", bullet.font)
        markers.append(font)
    char = etree.Element(f"{{{A}}}buChar")
    char.set("char", bullet.char)
    markers.append(char)
    return markers


def fill_bullets(frame: TextFrame, plan: PagePlan, style: TextStyle, bullet: BulletStyle) -> None:
    """Write the plan's bullets: hanging indent, exact pitch, gaps, the same size throughout."""
    _prepare(frame, style, shrink=True, width=plan.body_box.w - plan.indent)
    frame.text = ""
    size = plan.body_size
    indent = str(round(plan.indent * EMU_PER_PT))
    for i, item in enumerate(plan.bullets):
        paragraph: _Paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()  # type: ignore[no-untyped-call]
        paragraph.alignment = PP_ALIGN.LEFT
        paragraph.line_spacing = Pt(line_pitch(size))
        paragraph.space_before = Pt(plan.paragraph_gap if i else 0)
        paragraph.space_after = Pt(0)
        p_pr = paragraph._p.get_or_add_pPr()
        p_pr.set("lvl", "0")
        p_pr.set("marL", indent)
        p_pr.set("indent", "0" if item.continued else f"-{indent}")
        continued = [etree.Element(f"{{{A}}}buNone")]
        _markers(p_pr, continued if item.continued else _bullet_markers(bullet))
        run = paragraph.add_run()
        run.text = join_lines(item.lines)
        _run_format(run, size, style)


def add_picture(
    slide: Slide, image: PreparedImage, placement: ImagePlacement, *, corner: float = 0.0
) -> BaseShape:
    """Add ``image`` where ``placement`` says, cropped as it says; ``corner`` rounds it (pt)."""
    box = placement.box
    picture = slide.shapes.add_picture(
        io.BytesIO(image.data), emu(box.x), emu(box.y), emu(box.w), emu(box.h)
    )
    picture.crop_left = placement.crop_left
    picture.crop_right = placement.crop_right
    picture.crop_top = placement.crop_top
    picture.crop_bottom = placement.crop_bottom
    if corner > 0:
        round_corners(picture, corner / min(box.w, box.h))
    return picture


def round_corners(picture: BaseShape, share: float) -> None:
    """Give a picture rounded corners (``share`` of its shorter side as the radius)."""
    geometry = picture.element.find(f"{{{P}}}spPr/{{{A}}}prstGeom")
    if geometry is None:
        return
    geometry.set("prst", "roundRect")
    for child in list(geometry):
        geometry.remove(child)
    guides = etree.SubElement(geometry, f"{{{A}}}avLst")
    guide = etree.SubElement(guides, f"{{{A}}}gd")
    guide.set("name", "adj")
    guide.set("fmla", f"val {round(min(0.5, share) * 100000)}")
