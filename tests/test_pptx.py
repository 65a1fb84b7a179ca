from __future__ import annotations

import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.util import Inches

from slidestream._exceptions import InvalidInputError
from slidestream.render._layout import CONTINUED
from slidestream.render._pptx import CREDITS_TITLE, PptxDeckBuilder
from slidestream.render._typeface import LATO
from tests._render_data import assert_text_fits, context, image_asset, slide, wav_file

EMU_PER_PT = 12700
LONG = [
    f"Bullet {i}: a long sentence that explains one idea in enough words to wrap twice "
    "in the narrow text column next to the image"
    for i in range(10)
]
P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"


def _titles(prs: Any) -> list[str]:
    return [s.shapes.title.text if s.shapes.title is not None else "" for s in prs.slides]


def _build(tmp_path: Path, slides: list[Any], **kwargs: Any) -> Any:
    builder = PptxDeckBuilder(context(tmp_path, slide_count=len(slides), **kwargs))
    for result in reversed(slides):  # completion order differs from slide order
        builder.add_slide(result)
    path = builder.save(tmp_path / "deck.pptx")
    assert path == tmp_path / "deck.pptx"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    return Presentation(str(path))


def _text_fits(shape: Any) -> None:
    """With the same font metrics, the shape's text stays inside its box."""
    assert_text_fits(shape, LATO)
    assert shape.left >= 0
    assert shape.top >= 0


def test_deck_has_title_slides_continuation_and_credits_in_order(tmp_path: Path) -> None:
    slides = [
        slide(0, title="Why it matters", images=[image_asset(1200, 800)]),
        slide(1, title="A busy slide", bullets=LONG, images=[image_asset(600, 900)]),
        slide(2, title="No picture here"),
    ]
    prs = _build(tmp_path, slides, title="My Deck")
    titles = _titles(prs)
    assert titles[0] == "My Deck"
    assert titles[1:3] == ["Why it matters", "A busy slide"]
    continued = [t for t in titles if t == "A busy slide" + CONTINUED]
    assert continued
    assert titles[3 : 3 + len(continued)] == continued
    assert titles[-2:] == ["No picture here", CREDITS_TITLE]
    assert len(prs.slides) == 1 + 3 + len(continued) + 1
    assert prs.slide_width == Inches(13.333) or abs(prs.slide_width - Inches(13.333)) < 1000
    assert prs.slide_height == Inches(7.5)

    by_title = dict(zip(titles, prs.slides, strict=True))
    for result in slides:
        notes = by_title[result.script.title].notes_slide.notes_text_frame.text
        assert notes == result.script.narration
    # every bullet made it, in order
    bullets = []
    for s in prs.slides:
        if s.shapes.title is not None and s.shapes.title.text.startswith("A busy slide"):
            body = [ph for ph in s.placeholders if ph.placeholder_format.idx != 0]
            bullets += [p.text for p in body[0].text_frame.paragraphs]
    assert bullets == LONG


def test_pictures_keep_their_aspect_ratio(tmp_path: Path) -> None:
    slides = [
        slide(0, images=[image_asset(1200, 800)]),  # cropped to fill
        slide(1, images=[image_asset(1920, 1080)]),  # too wide to crop: fitted
        slide(2, images=[image_asset(500, 1000)]),  # tall: fitted
    ]
    prs = _build(tmp_path, slides)
    for result, pptx_slide in zip(slides, list(prs.slides)[1:4], strict=True):
        pictures = [sh for sh in pptx_slide.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1
        picture = pictures[0]
        image = result.images[0]
        shown_w = image.width * (1 - picture.crop_left - picture.crop_right)
        shown_h = image.height * (1 - picture.crop_top - picture.crop_bottom)
        assert picture.width / picture.height == pytest.approx(shown_w / shown_h, rel=2e-3)
        assert picture.left + picture.width <= prs.slide_width
        assert picture.top + picture.height <= prs.slide_height


def test_no_text_runs_past_its_box(tmp_path: Path) -> None:
    slides = [
        slide(0, title="A rather long title that needs two lines on the slide to be read in full"),
        slide(1, bullets=LONG[:4], images=[image_asset()]),
        slide(2, bullets=[" ".join(LONG)]),
        slide(
            3, title="短い", bullets=["量子コンピュータは量子力学の原理を利用して計算を行う" * 4]
        ),
    ]
    prs = _build(tmp_path, slides)
    checked = 0
    for pptx_slide in prs.slides:
        for shape in pptx_slide.shapes:
            if shape.has_text_frame and shape.text_frame.text.strip():
                _text_fits(shape)
                checked += 1
    assert checked > 10


def test_credits_list_each_attributed_image(tmp_path: Path) -> None:
    slides = [
        slide(0, images=[image_asset(800, 600, attribution="Jane Doe / Wikimedia")]),
        slide(1, images=[image_asset(800, 600, attribution=None, license=None)]),
        slide(2, images=[image_asset(640, 480, license="CC0-1.0")]),
    ]
    prs = _build(tmp_path, slides)
    credits = list(prs.slides)[-1]
    assert credits.shapes.title.text == CREDITS_TITLE
    body = "\n".join(
        sh.text_frame.text for sh in credits.placeholders if sh.placeholder_format.idx != 0
    )
    lines = body.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Slide 1: Jane Doe / Wikimedia, CC BY 4.0")
    assert lines[1].startswith("Slide 3: Photo 640x480 by Test Person, CC0-1.0")


def test_no_credits_slide_without_attributions(tmp_path: Path) -> None:
    prs = _build(
        tmp_path, [slide(0), slide(1, images=[image_asset(attribution=None, license=None)])]
    )
    assert _titles(prs)[-1] != CREDITS_TITLE
    assert len(prs.slides) == 3


def _media(pptx_slide: Any) -> tuple[Any, Any]:
    rels = pptx_slide.part.rels
    audio = [r for r in rels.values() if r.reltype == RT.AUDIO]
    media = [r for r in rels.values() if r.reltype == RT.MEDIA]
    assert len(audio) == 1
    assert len(media) == 1
    assert audio[0].target_part is media[0].target_part
    return audio[0], media[0]


def test_narration_is_embedded_and_the_slide_advances_when_it_ends(tmp_path: Path) -> None:
    clip = wav_file(tmp_path, 0, 2.345)
    slides = [slide(0, audio=clip, duration_s=2.345), slide(1)]
    prs = _build(tmp_path, slides)
    narrated = list(prs.slides)[1]
    audio_rel, media_rel = _media(narrated)
    part = media_rel.target_part
    assert str(part.partname).startswith("/ppt/media/media")
    # WAV narration is embedded as MP3 to keep the deck small; same sound, same length.
    assert str(part.partname).endswith(".mp3")
    assert part.content_type == "audio/mpeg"
    assert 0 < len(part.blob) < clip.stat().st_size / 3
    decoded = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", "pipe:0", "-f", "s16le",
         "-ac", "1", "-ar", "16000", "pipe:1"],
        input=part.blob, capture_output=True, check=True,
    ).stdout  # fmt: skip
    # MP3 adds encoder delay and frame padding (about 0.1 s), never cuts the narration.
    assert 2.345 <= len(decoded) / 2 / 16000 <= 2.345 + 0.15

    xml = narrated.element
    pic = xml.xpath(".//p:pic[p:nvPicPr/p:nvPr/a:audioFile]")
    assert len(pic) == 1
    assert pic[0].xpath("string(p:nvPicPr/p:nvPr/a:audioFile/@r:link)") == audio_rel.rId
    media_embed = pic[0].xpath(".//*[local-name()='media']/@*[local-name()='embed']")
    assert media_embed == [media_rel.rId]
    icon_rid = pic[0].xpath("string(p:blipFill/a:blip/@r:embed)")
    assert narrated.part.rels[icon_rid].reltype == RT.IMAGE

    transition = xml.find(f"{P}transition")
    assert transition is not None
    assert transition.get("advTm") == "2345"
    spid = pic[0].xpath("string(p:nvPicPr/p:cNvPr/@id)")
    timing = xml.find(f"{P}timing")
    assert timing is not None
    assert timing.xpath(".//p:cmd[@cmd='playFrom(0.0)']//p:spTgt/@spid") == [spid]
    assert timing.xpath(".//p:audio/p:cMediaNode//p:spTgt/@spid") == [spid]
    children = [c.tag.split("}")[1] for c in xml]
    assert children.index("transition") < children.index("timing")
    # the silent slide does not advance by itself; the title slide does once narration plays
    assert list(prs.slides)[2].element.find(f"{P}transition") is None
    assert next(iter(prs.slides)).element.find(f"{P}transition").get("advTm") == "4000"


def test_narration_of_a_split_slide_plays_across_its_continuation(tmp_path: Path) -> None:
    clip = wav_file(tmp_path, 0, 6.0)
    prs = _build(tmp_path, [slide(0, bullets=LONG * 2, audio=clip, duration_s=6.0)])
    pages = [s for s in prs.slides if s.shapes.title.text.startswith("Slide number 1")]
    assert len(pages) >= 2
    advances = [int(p.element.find(f"{P}transition").get("advTm")) for p in pages]
    assert sum(advances) == pytest.approx(6000, abs=len(pages))
    node = pages[0].element.xpath(".//p:cMediaNode")[0]
    assert node.get("numSld") == str(len(pages))
    assert pages[0].notes_slide.notes_text_frame.text.startswith("Narration for slide 1")


def test_embed_narration_can_be_switched_off(tmp_path: Path) -> None:
    clip = wav_file(tmp_path, 0, 1.0)
    prs = _build(tmp_path, [slide(0, audio=clip, duration_s=1.0)], embed_narration=False)
    for pptx_slide in prs.slides:
        assert not [r for r in pptx_slide.part.rels.values() if r.reltype in (RT.AUDIO, RT.MEDIA)]
        assert pptx_slide.element.find(f"{P}transition") is None


def _template(path: Path) -> Path:
    """A template whose layouts are reordered and renamed, with a slide of its own."""
    prs = Presentation()
    layouts = prs.slide_masters[0].slide_layouts
    id_list = layouts._sldLayoutIdLst
    entries = list(id_list)
    for entry in entries:  # reverse the layout order
        id_list.remove(entry)
    for entry in reversed(entries):
        id_list.append(entry)
    for layout in layouts:
        layout.name = f"Layout {layout.name[::-1]}"
    old = prs.slides.add_slide(layouts[0])
    if old.shapes.title is not None:
        old.shapes.title.text = "Old slide from the template"
    prs.save(str(path))
    return path


def test_a_template_supplies_layouts_chosen_by_placeholder_type(tmp_path: Path) -> None:
    template = _template(tmp_path / "template.pptx")
    slides = [slide(0, images=[image_asset()]), slide(1, bullets=LONG)]
    prs = _build(tmp_path, slides, template=template, title="Templated")
    titles = _titles(prs)
    assert "Old slide from the template" not in titles
    assert titles[0] == "Templated"
    assert titles[1] == "Slide number 1"
    assert prs.slide_width == Presentation(str(template)).slide_width  # 4:3 kept
    kinds = {ph.placeholder_format.type for ph in next(iter(prs.slides)).slide_layout.placeholders}
    assert PP_PLACEHOLDER.CENTER_TITLE in kinds
    content_kinds = {
        ph.placeholder_format.type for ph in list(prs.slides)[2].slide_layout.placeholders
    }
    assert PP_PLACEHOLDER.TITLE in content_kinds
    assert content_kinds & {PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT}
    for pptx_slide in prs.slides:
        for shape in pptx_slide.shapes:
            if shape.has_text_frame and shape.text_frame.text.strip():
                _text_fits(shape)
            assert shape.left + shape.width <= prs.slide_width
            assert shape.top + shape.height <= prs.slide_height
    pictures = [sh for sh in list(prs.slides)[1].shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
    assert len(pictures) == 1


def test_an_unreadable_template_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pptx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InvalidInputError, match="template"):
        PptxDeckBuilder(context(tmp_path, template=bad))


def test_slides_added_from_many_threads_end_up_in_order(tmp_path: Path) -> None:
    builder = PptxDeckBuilder(context(tmp_path, slide_count=12))
    results = [slide(i, images=[image_asset(400 + i * 10, 300)]) for i in range(12)]
    threads = [threading.Thread(target=builder.add_slide, args=(r,)) for r in results[::-1]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    prs = Presentation(str(builder.save(tmp_path / "deck.pptx")))
    assert _titles(prs)[1:13] == [f"Slide number {i + 1}" for i in range(12)]
    names = [str(s.part.partname) for s in prs.slides]
    assert names == [f"/ppt/slides/slide{i + 1}.xml" for i in range(len(names))]


def test_adding_a_slide_again_replaces_it(tmp_path: Path) -> None:
    builder = PptxDeckBuilder(context(tmp_path, slide_count=1))
    builder.add_slide(slide(0, title="First version"))
    builder.add_slide(slide(0, title="Second version"))
    prs = Presentation(str(builder.save(tmp_path / "deck.pptx")))
    assert _titles(prs) == ["Test Deck", "Second version"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_deck(tmp_path: Path) -> None:
    clip = wav_file(tmp_path, 0, 1.5)
    slides = [slide(0, images=[image_asset()], audio=clip, duration_s=1.5), slide(1, bullets=LONG)]
    _build(tmp_path, slides)
    out = tmp_path / "pdf"
    subprocess.run(
        [
            "soffice",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(tmp_path / "deck.pptx"),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    pdf = (out / "deck.pdf").read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages == len(Presentation(str(tmp_path / "deck.pptx")).slides)
