"""Templates in shapes other editors write, built here by editing a python-pptx deck's XML.

Each test makes one template the corpus in ``tests/data/templates`` does not cover (custom
shows and sections that list the sample slides, ...), builds a deck in it and opens the result
again: the package must be valid (no part written twice, nothing naming a removed slide) and
the text must be where the template's layouts put it.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

from lxml import etree
from pptx import Presentation
from pptx.opc.constants import RELATIONSHIP_TYPE as RT

from tests.test_templates import build, deck_slides

P = "http://schemas.openxmlformats.org/presentationml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
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
