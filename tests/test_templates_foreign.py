"""Templates in shapes other editors write, built here by editing a python-pptx deck's XML.

Each test makes one template the corpus in ``tests/data/templates`` does not cover (custom
shows and sections that list the sample slides, ...), builds a deck in it and opens the result
again: the package must be valid (no part written twice, nothing naming a removed slide) and
the text must be where the template's layouts put it.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree
from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.opc.constants import RELATIONSHIP_TYPE as RT

from slidestream._exceptions import InvalidInputError
from slidestream.render._pptx_template import TemplateStyle
from slidestream.render._template import check_template, placeholder_type
from tests._render_data import assert_text_fits
from tests.test_templates import (
    DECK_TITLE,
    EMU_PER_PT,
    TITLES,
    box,
    build,
    deck_slides,
    overlap,
    placeholders,
)

P = "http://schemas.openxmlformats.org/presentationml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
P14 = "http://schemas.microsoft.com/office/powerpoint/2010/main"
SECTIONS_EXT = "{521415D9-36F7-43E2-AB2F-B90AF26B5E84}"


def _sub(parent: etree._Element, namespace: str, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{namespace}}}{tag}", attrs)


def _template_with_shows_and_sections(path: Path) -> Path:
    """Three sample slides, a custom show of two of them, two sections, and a slide show
    set to play the custom show, as PowerPoint saves them."""
    prs = Presentation()
    for number in range(3):
        sample = prs.slides.add_slide(prs.slide_layouts[1])
        assert sample.shapes.title is not None
        sample.shapes.title.text = f"Sample {number}"
        sample.notes_slide.notes_text_frame.text = "Sample speaker notes"  # type: ignore[union-attr]
    ids = list(prs.slides._sldIdLst)
    root = prs.part._element
    shows = etree.Element(f"{{{P}}}custShowLst")
    root.find(f"{{{P}}}notesSz").addnext(shows)
    show = _sub(shows, P, "custShow", name="Short", id="0")
    listed = _sub(show, P, "sldLst")
    for entry in ids[:2]:
        _sub(listed, P, "sld").set(f"{{{R}}}id", entry.rId)
    extensions = root.find(f"{{{P}}}extLst")
    if extensions is None:
        extensions = _sub(root, P, "extLst")
    sections = _sub(_sub(extensions, P, "ext", uri=SECTIONS_EXT), P14, "sectionLst")
    for number, chunk in enumerate((ids[:1], ids[1:])):
        guid = f"{{{number:08X}-0000-0000-0000-000000000000}}"
        section = _sub(sections, P14, "section", name=f"Part {number}", id=guid)
        members = _sub(section, P14, "sldIdLst")
        for entry in chunk:
            _sub(members, P14, "sldId", id=str(entry.id))
    for rel in prs.part.rels.values():
        if rel.reltype == RT.PRES_PROPS:
            properties = etree.fromstring(rel.target_part.blob)
            show = f'<p:showPr xmlns:p="{P}"><p:custShow id="0"/></p:showPr>'
            properties.insert(0, etree.fromstring(show))
            rel.target_part.blob = etree.tostring(properties)
    prs.save(str(path))
    return path


def test_sample_slides_in_custom_shows_and_sections_are_dropped_cleanly(tmp_path: Path) -> None:
    template = _template_with_shows_and_sections(tmp_path / "shows.pptx")
    slides = deck_slides()[:2]
    prs = build(tmp_path, template, slides)
    assert len(prs.slides) == 1 + len(slides) + 1
    package = zipfile.ZipFile(tmp_path / "deck.pptx")
    written = Counter(package.namelist())
    assert [name for name, count in written.items() if count > 1] == []
    slide_parts = [n for n in written if n.startswith("ppt/slides/slide")]
    assert len(slide_parts) == len(prs.slides)
    root = etree.fromstring(package.read("ppt/presentation.xml"))
    rels = etree.fromstring(package.read("ppt/_rels/presentation.xml.rels"))
    known = {rel.get("Id") for rel in rels}
    assert all(ref in known for ref in root.xpath("//@r:id", namespaces={"r": R}))
    slide_ids = {entry.get("id") for entry in root.iterfind(f"{{{P}}}sldIdLst/{{{P}}}sldId")}
    sectioned = {entry.get("id") for entry in root.iter(f"{{{P14}}}sldId")}
    assert sectioned <= slide_ids
    text = " ".join(
        shape.text_frame.text
        for page in prs.slides
        for shape in page.shapes
        if shape.has_text_frame
    )
    assert "Sample" not in text
    properties = etree.fromstring(package.read("ppt/presProps.xml"))
    (show,) = properties.iterfind(f"{{{P}}}showPr")
    assert [etree.QName(choice).localname for choice in show] == ["sldAll"]


def _layout_boxes(
    path: Path, kinds: tuple[str, ...], change: Callable[[etree._Element], None]
) -> Path:
    """The default template with ``change`` applied to the ``a:xfrm`` of every layout
    placeholder of ``kinds``."""
    prs = Presentation()
    for layout in prs.slide_layouts:
        for shape in layout.placeholders:
            if placeholder_type(shape.element) in kinds:
                properties = shape.element.find(f"{{{P}}}spPr")
                xfrm = properties.find(f"{{{A}}}xfrm")
                if xfrm is None:
                    xfrm = etree.SubElement(properties, f"{{{A}}}xfrm")
                    _sub(xfrm, A, "off", x="0", y="0")
                    _sub(xfrm, A, "ext", cx="0", cy="0")
                change(xfrm)
    prs.save(str(path))
    return path


def _zero_size(xfrm: etree._Element) -> None:
    ext = xfrm.find(f"{{{A}}}ext")
    ext.set("cx", "0")
    ext.set("cy", "0")


def test_a_zero_size_title_placeholder_takes_the_masters_box(tmp_path: Path) -> None:
    template = _layout_boxes(tmp_path / "zero.pptx", ("title", "ctrTitle"), _zero_size)
    slides = deck_slides()[:2]
    prs = build(tmp_path, template, slides)
    master = Presentation(str(template)).slide_master
    master_title = box(master.placeholders.get(PP_PLACEHOLDER.TITLE))
    pages = list(prs.slides)
    assert len(pages) == 1 + len(slides) + 1
    for result, page in zip([None, *slides], pages, strict=False):
        (title,) = placeholders(page, TITLES)
        expected = DECK_TITLE if result is None else result.script.title
        assert title.text_frame.text == expected
        assert overlap(box(title), master_title) > 0.9 * box(title).w * box(title).h
        assert_text_fits(
            title, TemplateStyle.open(template).look.geometry(with_image=False).title_face
        )


def test_a_body_reaching_past_the_page_is_cut_to_it(tmp_path: Path) -> None:
    def past_the_bottom(xfrm: etree._Element) -> None:
        xfrm.find(f"{{{A}}}ext").set(
            "cy", str(int(540 * EMU_PER_PT))
        )  # a page's height below its top

    template = _layout_boxes(tmp_path / "tall.pptx", ("obj", "body"), past_the_bottom)
    prs = build(tmp_path, template, deck_slides()[:4])
    for page in prs.slides:
        for shape in page.shapes:
            assert shape.left >= 0 and shape.top >= 0
            assert shape.left + shape.width <= prs.slide_width + 1
            assert shape.top + shape.height <= prs.slide_height + 1


def test_a_strict_open_xml_template_is_refused_with_what_to_do(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pptx"
    Presentation().save(str(plain))
    strict = tmp_path / "strict.pptx"
    transitional = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(strict, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            data = data.replace(
                transitional, b"http://purl.oclc.org/ooxml/officeDocument/relationships"
            )
            data = data.replace(
                b"http://schemas.openxmlformats.org/presentationml/2006/main",
                b"http://purl.oclc.org/ooxml/presentationml/main",
            )
            target.writestr(item, data)
    with pytest.raises(
        InvalidInputError, match=r"strict\.pptx.*Strict Open XML.*PowerPoint Presentation"
    ):
        check_template(strict)


def test_text_is_written_across_when_the_master_writes_it_vertically(tmp_path: Path) -> None:
    # A master for vertical East-Asian writing: its layouts inherit eaVert from it.
    prs = Presentation()
    for body in prs.slide_master.element.iter(f"{{{A}}}bodyPr"):
        body.set("vert", "eaVert")
    template = tmp_path / "vertical.pptx"
    prs.save(str(template))
    deck = build(tmp_path, template, deck_slides()[:2])
    for page in deck.slides:
        for shape in page.shapes:
            if shape.has_text_frame and shape.text_frame.text.strip():
                body = shape.text_frame._txBody.find(f"{{{A}}}bodyPr")
                assert body.get("vert") == "horz", shape.name
