"""The template corpus of the template tests; rewrite it with ``python make_templates.py``.

Each file imitates how one editor saves a template, made with python-pptx and by editing the
XML where python-pptx has no API:

- ``libreoffice.pptx``: as LibreOffice Impress saves it. Every placeholder without ``idx`` (so
  all are ``idx 0``), the title slide's title typed ``title`` (not ``ctrTitle``), content as
  ``<p:ph/>``, no ``p:txStyles``: the text styles live in the master's sample paragraphs, and
  the layouts' sample paragraphs carry stray sizes LibreOffice itself ignores. 28 x 15.75 cm.
- ``google-slides.pptx``: as Google Slides exports. 10 x 5.625 in, layouts named ``TITLE``,
  ``TITLE_AND_BODY``..., sizes in each layout's list style, Arial, a dark theme reached through
  the master's colour map (``bg1="dk1"``, ``tx1="lt1"``).
- ``four-three.pptx``: a PowerPoint template at 4:3 with a gradient background and a coloured
  band (a master shape) across the top.
- ``translated.pptx``: German layout names, the layouts in another order, a vertical-text
  layout ahead of the normal one, and a two-content layout.
- ``sample-slides.pptx``: a template that still holds three sample slides (text, a picture,
  speaker notes); the deck must drop them.
- ``picture-layout.pptx``: as Keynote exports. 1024 x 768 pt, its own ``idx`` numbers (13,
  14, 15), a "Title, Bullets & Photo" layout with a picture placeholder beside the body, a
  small subheading placeholder, a logo picture and a rule on the master.
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree
from PIL import Image, ImageDraw
from pptx import Presentation
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.oxml import parse_xml
from pptx.util import Emu, Pt

HERE = Path(__file__).parent
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
P = "http://schemas.openxmlformats.org/presentationml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NSDECL = f'xmlns:a="{A}" xmlns:p="{P}" xmlns:r="{R}"'
CM = 360000
IN = 914400
PT = 12700


def _ph(kind: str | None, idx: int | None, extra: str = "") -> str:
    attrs = ""
    if kind is not None:
        attrs += f' type="{kind}"'
    if idx is not None:
        attrs += f' idx="{idx}"'
    return f"<p:ph{attrs}{extra}/>"


def sp(
    shape_id: int,
    name: str,
    box: tuple[int, int, int, int] | None,
    *,
    ph: str | None = None,
    body_pr: str = "<a:bodyPr/>",
    lst: str = "",
    paras: str = '<a:p><a:endParaRPr lang="en-US"/></a:p>',
    fill: str = "",
    prst: str = "rect",
    text: bool = True,
) -> str:
    """A ``p:sp`` shape (a placeholder when ``ph`` is given)."""
    nv = f"<p:nvPr>{ph}</p:nvPr>" if ph else "<p:nvPr/>"
    locks = '<a:spLocks noGrp="1"/>' if ph else ""
    xfrm = ""
    if box is not None:
        x, y, cx, cy = box
        xfrm = f'<a:xfrm><a:off x="{x}" y="{y}"/><a:ext cx="{cx}" cy="{cy}"/></a:xfrm>'
    geometry = f'<a:prstGeom prst="{prst}"><a:avLst/></a:prstGeom>' if not ph or box else ""
    body = f"<p:txBody>{body_pr}<a:lstStyle>{lst}</a:lstStyle>{paras}</p:txBody>" if text else ""
    return (
        f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="{name}"/><p:cNvSpPr>{locks}</p:cNvSpPr>'
        f"{nv}</p:nvSpPr><p:spPr>{xfrm}{geometry}{fill}</p:spPr>{body}</p:sp>"
    )


def pic(shape_id: int, name: str, rid: str, box: tuple[int, int, int, int]) -> str:
    x, y, cx, cy = box
    return (
        f'<p:pic><p:nvPicPr><p:cNvPr id="{shape_id}" name="{name}"/><p:cNvPicPr/><p:nvPr/>'
        f'</p:nvPicPr><p:blipFill><a:blip r:embed="{rid}"/><a:stretch><a:fillRect/></a:stretch>'
        f'</p:blipFill><p:spPr><a:xfrm><a:off x="{x}" y="{y}"/><a:ext cx="{cx}" cy="{cy}"/>'
        '</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr></p:pic>'
    )


def tree(shapes: list[str]) -> str:
    return (
        '<p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>'
        '<p:grpSpPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/>'
        '<a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr>' + "".join(shapes) + "</p:spTree>"
    )


def layout_xml(
    name: str, shapes: list[str], *, bg: str = "", show_master: bool = True, kind: str = "obj"
) -> str:
    hide = "" if show_master else ' showMasterSp="0"'
    return (
        f'<p:sldLayout {NSDECL} type="{kind}" preserve="1"{hide}><p:cSld name="{escape(name)}">{bg}'
        f"{tree(shapes)}</p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sldLayout>"
    )


def set_layouts(prs: Presentation, layouts: list[str]) -> None:
    """Replace the first master's layouts by ``layouts`` (XML), dropping the rest."""
    master = prs.slide_masters[0]
    existing = list(master.slide_layouts)
    id_list = master.slide_layouts._sldLayoutIdLst
    for extra in list(id_list)[len(layouts) :]:
        master.part.drop_rel(extra.rId)
        id_list.remove(extra)
    for layout, xml in zip(existing, layouts, strict=False):
        layout.part._element = parse_xml(xml)


def set_master(prs: Presentation, *, shapes: list[str], bg: str, styles: str, clr_map: str) -> None:
    master = prs.slide_masters[0]
    element = master.part._element
    csld = element.find(f"{{{P}}}cSld")
    csld.getparent().replace(csld, parse_xml(f"<p:cSld {NSDECL}>{bg}{tree(shapes)}</p:cSld>"))
    old_map = element.find(f"{{{P}}}clrMap")
    element.replace(old_map, parse_xml(f"<p:clrMap {NSDECL} {clr_map}/>"))
    old_styles = element.find(f"{{{P}}}txStyles")
    if styles:
        element.replace(old_styles, parse_xml(f"<p:txStyles {NSDECL}>{styles}</p:txStyles>"))
    else:
        element.remove(old_styles)


def set_theme(prs: Presentation, *, colours: dict[str, str], major: str, minor: str) -> None:
    part = prs.slide_masters[0].part.part_related_by(RT.THEME)
    theme = etree.fromstring(part.blob)
    scheme = theme.find(f".//{{{A}}}clrScheme")
    for name, value in colours.items():
        entry = scheme.find(f"{{{A}}}{name}")
        for child in list(entry):
            entry.remove(child)
        etree.SubElement(entry, f"{{{A}}}srgbClr").set("val", value)
    theme.find(f".//{{{A}}}majorFont/{{{A}}}latin").set("typeface", major)
    theme.find(f".//{{{A}}}minorFont/{{{A}}}latin").set("typeface", minor)
    part._blob = etree.tostring(theme, xml_declaration=True, encoding="UTF-8", standalone=True)


def size(prs: Presentation, width: int, height: int) -> None:
    prs.slide_width, prs.slide_height = Emu(width), Emu(height)


def solid(colour: str) -> str:
    return f'<a:solidFill><a:srgbClr val="{colour}"/></a:solidFill>'


def scheme(name: str) -> str:
    return f'<a:solidFill><a:schemeClr val="{name}"/></a:solidFill>'


def run_props(size_pt: float, colour: str = "", font: str = "", bold: bool = False) -> str:
    inner = colour + (f'<a:latin typeface="{font}"/>' if font else "")
    return f'sz="{round(size_pt * 100)}" b="{int(bold)}"', inner


def level(
    size_pt: float,
    *,
    colour: str = "",
    font: str = "",
    algn: str = "l",
    bullet: str = "<a:buNone/>",
    mar: int = 0,
    bold: bool = False,
) -> str:
    attrs, inner = run_props(size_pt, colour, font, bold)
    margin = f' marL="{mar}" indent="-{mar}"' if mar else ""
    return (
        f'<a:lvl1pPr algn="{algn}"{margin}>{bullet}<a:defRPr {attrs}>{inner}</a:defRPr></a:lvl1pPr>'
    )


def sample(text: str, size_pt: float, *, colour: str = "", font: str = "", algn: str = "l",
           bullet: str = "<a:buNone/>", mar: int = 0) -> str:  # fmt: skip
    """A LibreOffice-style sample paragraph: its formatting is the style."""
    attrs, inner = run_props(size_pt, colour, font)
    margin = f' marL="{mar}" indent="-{mar}"' if mar else ""
    return (
        f'<a:p><a:pPr algn="{algn}"{margin}>{bullet}</a:pPr><a:r><a:rPr lang="en-US" {attrs}>'
        f"{inner}</a:rPr><a:t>{text}</a:t></a:r></a:p>"
    )


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    ImageDraw.Draw(image).ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4),
                                  fill=(255, 255, 255))  # fmt: skip
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# -- the templates -----------------------------------------------------------------------------


def libreoffice() -> Presentation:
    prs = Presentation()
    w, h = 28 * CM, round(15.75 * CM)
    size(prs, w, h)
    title_box = (round(1.4 * CM), round(0.63 * CM), round(25.2 * CM), round(2.63 * CM))
    body_box = (round(1.4 * CM), round(3.69 * CM), round(25.2 * CM), round(10.44 * CM))
    teal, grey = solid("1F4E5F"), solid("333333")
    set_master(
        prs,
        bg=f"<p:bg><p:bgPr>{solid('FBF6EC')}<a:effectLst/></p:bgPr></p:bg>",
        shapes=[
            sp(
                2,
                "PlaceHolder 1",
                title_box,
                ph=_ph("title", None),
                body_pr='<a:bodyPr lIns="0" tIns="0" rIns="0" bIns="0" anchor="ctr"/>',
                paras=sample(
                    "Click to edit the title text format",
                    40,
                    colour=teal,
                    font="Calibri",
                    algn="ctr",
                ),
            ),
            sp(
                3,
                "PlaceHolder 2",
                body_box,
                ph=_ph("body", None),
                body_pr='<a:bodyPr lIns="0" tIns="0" rIns="0" bIns="0" anchor="t"/>',
                paras=sample(
                    "Click to edit the outline text format",
                    26,
                    colour=grey,
                    font="Calibri",
                    mar=432000,
                    bullet='<a:buFont typeface="Wingdings" charset="2"/><a:buChar char="\uf0a7"/>',
                ),
            ),
            sp(
                4,
                "PlaceHolder 3",
                (round(9.5 * CM), round(14.3 * CM), round(9 * CM), CM),
                ph=_ph("ftr", 2),
            ),
            sp(
                5,
                "PlaceHolder 4",
                (round(20 * CM), round(14.3 * CM), round(6.5 * CM), CM),
                ph=_ph("sldNum", 3),
            ),
            sp(
                6,
                "PlaceHolder 5",
                (round(1.4 * CM), round(14.3 * CM), round(6.5 * CM), CM),
                ph=_ph("dt", 1),
            ),
        ],
        styles="",
        clr_map='bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" '
        'accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" '
        'folHlink="folHlink"',
    )
    stray = (
        '<a:p><a:endParaRPr lang="en-US" sz="1800"><a:latin typeface="Calibri"/>'
        "</a:endParaRPr></a:p>"
    )
    lo_body = '<a:bodyPr lIns="0" tIns="0" rIns="0" bIns="0"/>'
    footers = [
        sp(10, "PlaceHolder 3", None, ph=_ph("ftr", 2)),
        sp(11, "PlaceHolder 4", None, ph=_ph("sldNum", 3)),
        sp(12, "PlaceHolder 5", None, ph=_ph("dt", 1)),
    ]
    half = (body_box[2] - CM) // 2
    set_layouts(
        prs,
        [
            layout_xml("Blank Slide", footers, kind="blank"),
            layout_xml(
                "Title Slide",
                [
                    sp(
                        2,
                        "PlaceHolder 1",
                        title_box,
                        ph=_ph("title", None),
                        body_pr=lo_body,
                        paras=stray,
                    ),
                    sp(
                        3,
                        "PlaceHolder 2",
                        body_box,
                        ph=_ph("subTitle", None),
                        body_pr='<a:bodyPr lIns="0" tIns="0" rIns="0" bIns="0" anchor="ctr"/>',
                        paras=stray,
                    ),
                    *footers,
                ],
                kind="title",
            ),
            layout_xml(
                "Title, Content",
                [
                    sp(
                        2,
                        "PlaceHolder 1",
                        title_box,
                        ph=_ph("title", None),
                        body_pr=lo_body,
                        paras=stray,
                    ),
                    sp(3, "PlaceHolder 2", body_box, ph="<p:ph/>", body_pr=lo_body, paras=stray),
                    *footers,
                ],
            ),
            layout_xml(
                "Title, 2 Content",
                [
                    sp(2, "PlaceHolder 1", title_box, ph=_ph("title", None), body_pr=lo_body),
                    sp(
                        3,
                        "PlaceHolder 2",
                        (body_box[0], body_box[1], half, body_box[3]),
                        ph="<p:ph/>",
                        body_pr=lo_body,
                    ),
                    sp(
                        4,
                        "PlaceHolder 3",
                        (body_box[0] + half + CM, body_box[1], half, body_box[3]),
                        ph="<p:ph/>",
                        body_pr=lo_body,
                    ),
                    *footers,
                ],
            ),
            layout_xml(
                "Title Only",
                [
                    sp(2, "PlaceHolder 1", title_box, ph=_ph("title", None), body_pr=lo_body),
                    *footers,
                ],
            ),
            layout_xml(
                "Centered Text",
                [
                    sp(2, "PlaceHolder 1", body_box, ph=_ph("subTitle", None), body_pr=lo_body),
                    *footers,
                ],
            ),
        ],
    )
    set_theme(prs, colours={"dk1": "000000", "lt1": "FFFFFF"}, major="Calibri", minor="Calibri")
    return prs


def google_slides() -> Presentation:
    prs = Presentation()
    w, h = 10 * IN, round(5.625 * IN)
    size(prs, w, h)
    title_box = (311700, 445025, 8520600, 572700)
    body_box = (311700, 1152475, 8520600, 3416400)
    ins = '<a:bodyPr lIns="91425" tIns="91425" rIns="91425" bIns="91425" anchor="t" anchorCtr="0"/>'
    styles = (
        "<p:titleStyle>" + level(28, colour=scheme("tx1"), font="+mj-lt") + "</p:titleStyle>"
        "<p:bodyStyle>"
        + level(18, colour=scheme("tx1"), font="+mn-lt", mar=457200,
                bullet='<a:buClr><a:schemeClr val="accent1"/></a:buClr><a:buChar char="●"/>')
        + "</p:bodyStyle><p:otherStyle/>"
    )  # fmt: skip
    set_master(
        prs,
        bg=f"<p:bg><p:bgPr>{scheme('bg1')}<a:effectLst/></p:bgPr></p:bg>",
        shapes=[
            sp(2, "Shape 1", title_box, ph=_ph("title", None), body_pr=ins),
            sp(3, "Shape 2", body_box, ph=_ph("body", 1), body_pr=ins),
            sp(4, "Shape 3", (8472458, 4663217, 548700, 393600), ph=_ph("sldNum", 12)),
        ],
        styles=styles,
        clr_map='bg1="dk1" tx1="lt1" bg2="dk2" tx2="lt2" accent1="accent1" accent2="accent2" '
        'accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" '
        'folHlink="folHlink"',
    )
    number = sp(9, "Shape 9", (8472458, 4663217, 548700, 393600), ph=_ph("sldNum", 12))
    set_layouts(
        prs,
        [
            layout_xml(
                "TITLE",
                [
                    sp(
                        2,
                        "Shape 1",
                        (311700, 744575, 8520600, 2052600),
                        ph=_ph("ctrTitle", None),
                        body_pr=ins.replace('anchor="t"', 'anchor="b"'),
                        lst=level(52, algn="ctr"),
                    ),
                    sp(
                        3,
                        "Shape 2",
                        (311700, 2834125, 8520600, 792600),
                        ph=_ph("subTitle", 1),
                        body_pr=ins,
                        lst=level(28, algn="ctr"),
                    ),
                    number,
                ],
                kind="title",
            ),
            layout_xml(
                "SECTION_HEADER",
                [
                    sp(
                        2,
                        "Shape 1",
                        (311700, 2150850, 8520600, 841800),
                        ph=_ph("title", None),
                        body_pr=ins.replace('anchor="t"', 'anchor="ctr"'),
                        lst=level(36, algn="ctr"),
                    ),
                    number,
                ],
                kind="secHead",
            ),
            layout_xml(
                "TITLE_AND_BODY",
                [
                    sp(2, "Shape 1", title_box, ph=_ph("title", None), body_pr=ins),
                    sp(3, "Shape 2", body_box, ph=_ph("body", 1), body_pr=ins),
                    number,
                ],
            ),
            layout_xml(
                "TITLE_AND_TWO_COLUMNS",
                [
                    sp(2, "Shape 1", title_box, ph=_ph("title", None), body_pr=ins),
                    sp(
                        3,
                        "Shape 2",
                        (311700, 1152475, 3999900, 3416400),
                        ph=_ph("body", 1),
                        body_pr=ins,
                    ),
                    sp(
                        4,
                        "Shape 3",
                        (4832400, 1152475, 3999900, 3416400),
                        ph=_ph("body", 2),
                        body_pr=ins,
                    ),
                    number,
                ],
            ),
            layout_xml(
                "TITLE_ONLY",
                [
                    sp(2, "Shape 1", title_box, ph=_ph("title", None), body_pr=ins),
                    number,
                ],
                kind="titleOnly",
            ),
            layout_xml("BLANK", [number], kind="blank"),
        ],
    )
    set_theme(
        prs,
        colours={"dk1": "212121", "lt1": "FFFFFF", "dk2": "000000", "lt2": "E0E0E0",
                 "accent1": "F9A825"},
        major="Arial",
        minor="Arial",
    )  # fmt: skip
    return prs


def four_three() -> Presentation:
    prs = Presentation()  # python-pptx's default template is PowerPoint's 4:3 "Office Theme"
    master = prs.slide_masters[0]
    background = (
        '<p:bg><p:bgPr><a:gradFill rotWithShape="1"><a:gsLst>'
        '<a:gs pos="0"><a:srgbClr val="FFFFFF"/></a:gs>'
        '<a:gs pos="100000"><a:srgbClr val="DCE6F2"/></a:gs>'
        '</a:gsLst><a:lin ang="5400000" scaled="0"/></a:gradFill><a:effectLst/></p:bgPr></p:bg>'
    )
    csld = master.element.find(f"{{{P}}}cSld")
    old = csld.find(f"{{{P}}}bg")
    if old is not None:
        csld.remove(old)
    csld.insert(0, parse_xml(background.replace("<p:bg>", f"<p:bg {NSDECL}>")))
    band = sp(20, "Band", (0, 0, 10 * IN, round(0.35 * IN)), fill=scheme("accent1"), text=False)
    csld.find(f"{{{P}}}spTree").append(parse_xml(band.replace("<p:sp>", f"<p:sp {NSDECL}>")))
    set_theme(prs, colours={"accent1": "C0504D"},
              major="Georgia", minor="Verdana")  # fmt: skip
    return prs


def translated() -> Presentation:
    prs = Presentation()
    size(prs, round(13.333 * IN), round(7.5 * IN))
    _rescale(prs, 13.333 / 10, 1.0)
    names = {
        "Title Slide": "Titelfolie",
        "Title and Content": "Titel und Inhalt",
        "Section Header": "Abschnittsüberschrift",
        "Two Content": "Zwei Inhalte",
        "Comparison": "Vergleich",
        "Title Only": "Nur Titel",
        "Blank": "Leer",
        "Content with Caption": "Inhalt mit Überschrift",
        "Picture with Caption": "Bild mit Überschrift",
        "Title and Vertical Text": "Titel und vertikaler Text",
        "Vertical Title and Text": "Vertikaler Titel und Text",
    }
    master = prs.slide_masters[0]
    layouts = master.slide_layouts
    for layout in layouts:
        layout.name = names[layout.name]
    id_list = layouts._sldLayoutIdLst
    entries = list(id_list)
    order = [9, 10, 3, 5, 6, 1, 2, 0, 4, 7, 8]  # vertical text first, the title slide late
    for entry in entries:
        id_list.remove(entry)
    for number in order:
        id_list.append(entries[number])
    set_theme(prs, colours={"accent1": "2E7D32"}, major="Calibri Light", minor="Calibri")
    return prs


def sample_slides() -> Presentation:
    prs = Presentation()
    size(prs, round(13.333 * IN), round(7.5 * IN))
    _rescale(prs, 13.333 / 10, 1.0)
    layouts = prs.slide_layouts
    cover = prs.slides.add_slide(layouts[0])
    cover.shapes.title.text = "Sample deck from the template"
    cover.placeholders[1].text = "Replace these sample slides"
    content = prs.slides.add_slide(layouts[1])
    content.shapes.title.text = "Sample content slide"
    content.placeholders[1].text = "Sample bullet that must not survive"
    content.notes_slide.notes_text_frame.text = "Sample speaker notes"
    picture = prs.slides.add_slide(layouts[8])
    picture.shapes.title.text = "Sample picture slide"
    picture.shapes.add_picture(io.BytesIO(png(400, 300, (20, 160, 90))), Pt(40), Pt(40))
    set_theme(prs, colours={"accent1": "6A1B9A"}, major="Calibri Light", minor="Calibri")
    return prs


def picture_layout() -> Presentation:
    prs = Presentation()
    w, h = 1024 * PT, 768 * PT
    size(prs, w, h)
    logo_part, logo_rid = prs.slide_masters[0].part.get_or_add_image_part(
        io.BytesIO(png(120, 120, (0, 90, 170)))
    )
    del logo_part
    white = solid("FFFFFF")
    styles = (
        "<p:titleStyle>" + level(48, colour=solid("1D1D1F"), font="+mj-lt", bold=True)
        + "</p:titleStyle><p:bodyStyle>"
        + level(28, colour=solid("3A3A3C"), font="+mn-lt", mar=36 * PT,
                bullet='<a:buChar char="•"/>')
        + "</p:bodyStyle><p:otherStyle/>"
    )  # fmt: skip
    title_box = (64 * PT, 56 * PT, 896 * PT, 110 * PT)
    set_master(
        prs,
        bg=f"<p:bg><p:bgPr>{white}<a:effectLst/></p:bgPr></p:bg>",
        shapes=[
            sp(2, "Title", title_box, ph=_ph("title", None)),
            sp(3, "Body", (64 * PT, 200 * PT, 896 * PT, 500 * PT), ph=_ph("body", 1)),
            sp(4, "Slide Number", (944 * PT, 720 * PT, 48 * PT, 28 * PT), ph=_ph("sldNum", 15)),
            pic(5, "Logo", logo_rid, (944 * PT, 24 * PT, 56 * PT, 56 * PT)),
            sp(6, "Rule", (64 * PT, 176 * PT, 896 * PT, 3 * PT), fill=solid("0A84FF"), text=False),
        ],
        styles=styles,
        clr_map='bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" '
        'accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" '
        'folHlink="folHlink"',
    )
    number = sp(9, "Slide Number", None, ph=_ph("sldNum", 15))
    set_layouts(
        prs,
        [
            layout_xml(
                "Title & Subtitle",
                [
                    sp(
                        2,
                        "Title",
                        (64 * PT, 240 * PT, 896 * PT, 160 * PT),
                        ph=_ph("ctrTitle", None),
                        body_pr='<a:bodyPr anchor="b"/>',
                        lst=level(64, algn="ctr", bold=True),
                    ),
                    sp(
                        3,
                        "Subtitle",
                        (64 * PT, 420 * PT, 896 * PT, 90 * PT),
                        ph=_ph("subTitle", 13),
                        lst=level(30, algn="ctr"),
                    ),
                ],
                kind="title",
                show_master=False,
            ),
            layout_xml(
                "Title & Bullets",
                [
                    sp(
                        2,
                        "Subheading",
                        (64 * PT, 28 * PT, 600 * PT, 28 * PT),
                        ph=_ph("body", 14),
                        lst=level(14, colour=solid("0A84FF")),
                    ),
                    sp(3, "Title", title_box, ph=_ph("title", None)),
                    sp(4, "Body", (64 * PT, 200 * PT, 896 * PT, 500 * PT), ph=_ph("body", 13)),
                    number,
                ],
            ),
            layout_xml(
                "Title, Bullets & Photo",
                [
                    sp(3, "Title", title_box, ph=_ph("title", None)),
                    sp(4, "Body", (64 * PT, 200 * PT, 460 * PT, 500 * PT), ph=_ph("body", 13)),
                    sp(5, "Photo", (556 * PT, 200 * PT, 404 * PT, 500 * PT), ph=_ph("pic", 15)),
                    number,
                ],
            ),
            layout_xml(
                "Photo - Horizontal",
                [
                    sp(5, "Photo", (0, 0, w, h), ph=_ph("pic", 15)),
                    sp(3, "Title", (64 * PT, 600 * PT, 896 * PT, 110 * PT), ph=_ph("title", None)),
                ],
                show_master=False,
            ),
            layout_xml("Blank", [number], kind="blank"),
        ],
    )
    set_theme(prs, colours={"accent1": "0A84FF"}, major="Helvetica Neue", minor="Helvetica Neue")
    return prs


def _rescale(prs: Presentation, x: float, y: float) -> None:
    """Stretch every master and layout shape horizontally by ``x`` and vertically by ``y``."""
    parts = [prs.slide_masters[0].part] + [layout.part for layout in prs.slide_layouts]
    for part in parts:
        for off in part._element.iter(f"{{{A}}}off"):
            off.set("x", str(round(int(off.get("x")) * x)))
            off.set("y", str(round(int(off.get("y")) * y)))
        for ext in part._element.iter(f"{{{A}}}ext"):
            if ext.get("cx") is not None:
                ext.set("cx", str(round(int(ext.get("cx")) * x)))
                ext.set("cy", str(round(int(ext.get("cy")) * y)))


TEMPLATES = {
    "libreoffice.pptx": libreoffice,
    "google-slides.pptx": google_slides,
    "four-three.pptx": four_three,
    "translated.pptx": translated,
    "sample-slides.pptx": sample_slides,
    "picture-layout.pptx": picture_layout,
}


def main() -> None:
    for name, make in TEMPLATES.items():
        make().save(str(HERE / name))
        print(f"wrote {HERE / name}")  # noqa: T201


if __name__ == "__main__":
    main()
