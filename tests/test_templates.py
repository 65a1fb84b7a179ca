"""Decks in users' own templates: PowerPoint, LibreOffice, Google Slides and Keynote shapes.

Each template in ``tests/data/templates`` (see ``make_templates.py`` there) imitates how one
editor saves templates. The deck is built in it and opened again with python-pptx: titles,
bullets and pictures must be in the placeholders meant for them, and no text may overflow.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from PIL import Image, ImageChops, ImageStat
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER

from slidestream import DeckRequest, cli
from slidestream._exceptions import InvalidInputError
from slidestream.render import AssemblyContext, RenderOptions, StreamingDeckAssembler
from slidestream.render._frames import fit_size, framed, render_frame
from slidestream.render._layout import Box, deck_subtitle
from slidestream.render._libreoffice import LibreOffice, find_soffice, stand_ins
from slidestream.render._pptx import PptxDeckBuilder
from slidestream.render._pptx_template import TemplateStyle
from slidestream.render._template import open_template
from tests._render_data import assert_text_fits, context, image_asset, slide, wav_file
from tests.media import FFMPEG, processes_with, read_pdf

TEMPLATES = Path(__file__).parent / "data" / "templates"
CORPUS = {
    "libreoffice": TEMPLATES / "libreoffice.pptx",
    "google-slides": TEMPLATES / "google-slides.pptx",
    "four-three": TEMPLATES / "four-three.pptx",
    "translated": TEMPLATES / "translated.pptx",
    "sample-slides": TEMPLATES / "sample-slides.pptx",
    "picture-layout": TEMPLATES / "picture-layout.pptx",
}
EMU_PER_PT = 12700
TITLES = (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE)
BODIES = (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT)
DECK_TITLE = "Plate Tectonics"
TOPIC = "How the ground moves"


def deck_slides() -> list[Any]:
    """Eight ordinary slides, every other one with a picture (landscape and portrait)."""
    pictures = [[image_asset(1200, 800)], [], [image_asset(600, 900)], []]
    return [
        slide(
            i,
            title=f"Slide {i + 1}: why the plates move",
            bullets=[f"Point {k} of slide {i + 1} makes one short claim" for k in "ABC"],
            images=pictures[i % 4],
        )
        for i in range(8)
    ]


def build(tmp_path: Path, template: Path, slides: list[Any], *, topic: str = TOPIC) -> Any:
    ctx = AssemblyContext(
        request=DeckRequest(topic=topic, project="deck"),
        title=DECK_TITLE,
        project_dir=tmp_path,
        options=RenderOptions(template=template),
        slide_count=len(slides),
    )
    builder = PptxDeckBuilder(ctx)
    for result in reversed(slides):
        builder.add_slide(result)
    return Presentation(str(builder.save(tmp_path / "deck.pptx")))


def placeholders(pptx_slide: Any, kinds: tuple[PP_PLACEHOLDER, ...]) -> list[Any]:
    return [ph for ph in pptx_slide.placeholders if ph.placeholder_format.type in kinds]


def texts(pptx_slide: Any) -> Iterator[str]:
    for shape in pptx_slide.shapes:
        if shape.has_text_frame:
            yield shape.text_frame.text


def box(shape: Any) -> Box:
    return Box(
        shape.left / EMU_PER_PT,
        shape.top / EMU_PER_PT,
        shape.width / EMU_PER_PT,
        shape.height / EMU_PER_PT,
    )


def overlap(a: Box, b: Box) -> float:
    w = min(a.right, b.right) - max(a.x, b.x)
    h = min(a.bottom, b.bottom) - max(a.y, b.y)
    return max(0.0, w) * max(0.0, h)


def test_the_corpus_has_every_editor_shape() -> None:
    for path in CORPUS.values():
        assert path.is_file(), f"run tests/data/templates/make_templates.py ({path.name})"
    raw = zipfile.ZipFile(CORPUS["libreoffice"]).read("ppt/slideLayouts/slideLayout2.xml")
    assert b"idx=" not in raw.split(b"<p:ph", 1)[1].split(b"/>", 1)[0]  # LibreOffice: all idx 0
    assert len(Presentation(str(CORPUS["sample-slides"])).slides) == 3


@pytest.mark.parametrize("name", list(CORPUS))
def test_titles_bullets_and_pictures_land_in_their_placeholders(tmp_path: Path, name: str) -> None:
    template = CORPUS[name]
    slides = deck_slides()
    prs = build(tmp_path, template, slides)
    look = TemplateStyle.open(template).look
    pages = list(prs.slides)
    # Title slide, one page per slide (nothing overflowed into a continuation), image credits.
    assert len(pages) == 1 + len(slides) + 1

    cover = pages[0]
    (title,) = placeholders(cover, TITLES)
    assert title.text_frame.text == DECK_TITLE
    subtitles = placeholders(cover, (PP_PLACEHOLDER.SUBTITLE,))
    if look.layouts.title.subtitle is not None:
        assert [s.text_frame.text for s in subtitles] == [TOPIC]
    assert all(TOPIC not in text for text in texts(cover) if text != TOPIC)

    for result, page in zip(slides, pages[1:-1], strict=True):
        (title,) = placeholders(page, TITLES)
        assert title.text_frame.text == result.script.title
        (body,) = placeholders(page, BODIES)
        assert [p.text for p in body.text_frame.paragraphs] == result.script.bullets
        pictures = [sh for sh in page.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
        pictures += [sh for sh in page.placeholders if sh.placeholder_format.type == 18]
        if not result.images:
            assert not pictures
            continue
        (picture,) = {id(p): p for p in pictures}.values()
        layout_look = look.layouts.picture
        if layout_look.picture is not None:
            assert picture.is_placeholder
            spot = layout_look.picture.box
            shown = box(picture)
            assert spot.x - 0.5 <= shown.x and shown.right <= spot.right + 0.5
            assert spot.y - 0.5 <= shown.y and shown.bottom <= spot.bottom + 0.5
        assert overlap(box(picture), box(body)) < 1.0
        assert overlap(box(picture), box(title)) < 1.0

    geometry = look.geometry(with_image=False)
    cover_look = look.layouts.title
    for number, page in enumerate(pages):
        for shape in page.shapes:
            assert shape.left >= 0
            assert shape.top >= 0
            assert shape.left + shape.width <= prs.slide_width + 1
            assert shape.top + shape.height <= prs.slide_height + 1
            if not (shape.has_text_frame and shape.text_frame.text.strip()):
                continue
            kind = shape.placeholder_format.type if shape.is_placeholder else None
            face = geometry.body_face
            if kind in TITLES:
                spot = cover_look.title if number == 0 else None
                face = spot.text.face if spot is not None else geometry.title_face
            elif kind == PP_PLACEHOLDER.SUBTITLE and cover_look.subtitle is not None:
                face = cover_look.subtitle.text.face
            assert_text_fits(shape, face)


@pytest.mark.parametrize("name", list(CORPUS))
def test_the_template_keeps_its_size_and_drops_its_own_slides(tmp_path: Path, name: str) -> None:
    template = CORPUS[name]
    prs = build(tmp_path, template, deck_slides()[:2])
    original = Presentation(str(template))
    assert (prs.slide_width, prs.slide_height) == (original.slide_width, original.slide_height)
    text = " ".join(t for page in prs.slides for t in texts(page))
    assert "Sample" not in text
    assert "Replace these sample slides" not in text
    package = zipfile.ZipFile(tmp_path / "deck.pptx")
    notes = [n for n in package.namelist() if n.startswith("ppt/notesSlides/")]
    assert not any(b"Sample speaker notes" in package.read(n) for n in notes)
    media = [n for n in package.namelist() if n.startswith("ppt/media/")]
    green = [
        n
        for n in media
        if Image.open(io.BytesIO(package.read(n))).convert("RGB").getpixel((2, 2)) == (20, 160, 90)
    ]
    assert not green  # the sample slide's picture went with it


def test_every_layout_placeholder_has_its_own_idx(tmp_path: Path) -> None:
    prs, _ = open_template(CORPUS["libreoffice"])
    for layout in prs.slide_layouts:
        ids = [ph.placeholder_format.idx for ph in layout.placeholders]
        assert len(ids) == len(set(ids)), layout.name
        for ph in layout.placeholders:
            is_title = ph.placeholder_format.type in TITLES
            assert (ph.placeholder_format.idx == 0) == is_title


def test_layouts_are_chosen_by_their_placeholders_not_their_names() -> None:
    layouts = TemplateStyle.open(CORPUS["translated"]).look.layouts
    assert layouts.title.layout.name == "Titelfolie"
    assert layouts.content.layout.name == "Titel und Inhalt"  # not the vertical one listed first
    layouts = TemplateStyle.open(CORPUS["google-slides"]).look.layouts
    assert (layouts.title.layout.name, layouts.content.layout.name) == ("TITLE", "TITLE_AND_BODY")
    layouts = TemplateStyle.open(CORPUS["picture-layout"]).look.layouts
    assert layouts.picture.layout.name == "Title, Bullets & Photo"  # not the full-bleed photo


def test_text_keeps_the_template_fonts_sizes_and_colours() -> None:
    look = TemplateStyle.open(CORPUS["libreoffice"]).look.layouts.content
    assert look.title is not None and look.body is not None
    # LibreOffice keeps its styles in the master's sample text, not in p:txStyles.
    assert (look.title.text.size, look.title.text.colour) == (40.0, (0x1F, 0x4E, 0x5F))
    assert look.title.text.align == "ctr"
    assert (look.body.text.size, look.body.text.colour) == (26.0, (0x33, 0x33, 0x33))
    google = TemplateStyle.open(CORPUS["google-slides"]).look.layouts
    assert google.title.title is not None
    assert google.title.title.text.size == 52.0  # the layout's own list style
    # A dark theme through the colour map: text (tx1) is the theme's light colour.
    assert google.content.title is not None
    assert google.content.title.text.colour == (255, 255, 255)
    assert google.content.title.text.font == "+mj-lt"
    assert google.content.title.text.face.family == "Arial"


def test_written_text_names_the_template_fonts_and_colours(tmp_path: Path) -> None:
    prs = build(tmp_path, CORPUS["google-slides"], deck_slides()[:1])
    (title,) = placeholders(list(prs.slides)[1], TITLES)
    run = title.text_frame.paragraphs[0].runs[0]
    assert run.font.name == "+mj-lt"
    assert str(run.font.color.rgb) == "FFFFFF"
    (body,) = placeholders(list(prs.slides)[1], BODIES)
    bullet = body.text_frame.paragraphs[0]._p.pPr.find(
        "{http://schemas.openxmlformats.org/drawingml/2006/main}buChar"
    )
    assert bullet is not None and bullet.get("char") == "●"


def test_the_title_slide_never_shows_a_file_path(tmp_path: Path) -> None:
    prs = build(tmp_path, CORPUS["libreoffice"], deck_slides()[:1], topic="examples/plates.md")
    cover = next(iter(prs.slides))
    assert [t for t in texts(cover) if t.strip()] == [DECK_TITLE]
    assert deck_subtitle("Plate Tectonics", "/home/me/decks/plates.md") is None
    assert deck_subtitle("Plate Tectonics", "Networks and TCP/IP") == "Networks and TCP/IP"
    assert deck_subtitle("Plate Tectonics", "plate tectonics") is None


def test_frames_are_painted_in_the_template_look(tmp_path: Path) -> None:
    look = TemplateStyle.open(CORPUS["google-slides"]).look
    path = render_frame(
        slide(0, images=[image_asset()]), look=look, count=1, path=tmp_path / "frame.png"
    )
    with Image.open(path) as frame:
        frame.load()
        assert frame.size == (1920, 1080)
        assert frame.getpixel((5, 5)) == (0x21, 0x21, 0x21)  # the dark background
        title = look.layouts.picture.title
        assert title is not None
        scale = 1920 / look.size[0]
        region = frame.crop(tuple(round(v * scale) for v in title.box.scaled(1)))
        assert ImageStat.Stat(region.convert("L")).extrema[0][1] > 200  # light title text


def test_a_four_three_template_is_pillarboxed_in_the_video(tmp_path: Path) -> None:
    look = TemplateStyle.open(CORPUS["four-three"]).look
    path = render_frame(slide(0), look=look, count=1, path=tmp_path / "frame.png")
    with Image.open(path) as frame:
        frame.load()
        assert frame.size == (1920, 1080)
        left_bar = frame.crop((0, 0, 230, 1080))
        assert ImageChops.difference(left_bar, Image.new("RGB", left_bar.size)).getbbox() is None
        assert frame.getpixel((960, 10)) != (0, 0, 0)  # the page itself: the template's band


def test_a_potx_template_opens(tmp_path: Path) -> None:
    source = zipfile.ZipFile(CORPUS["four-three"])
    potx = tmp_path / "template.potx"
    with zipfile.ZipFile(potx, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"presentation.main+xml", b"template.main+xml")
            target.writestr(item, data)
    prs = build(tmp_path, potx, deck_slides()[:1])
    assert len(prs.slides) == 3  # title, the slide, image credits


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "does not exist"), (b"not a zip", "not a PowerPoint file"), (b"", "not a PowerPoint")],
)
def test_a_missing_or_invalid_template_is_a_user_error(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "template.pptx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=expected):
        context(tmp_path, template=path)


@pytest.mark.parametrize("content", [None, b"plain text"])
def test_the_cli_refuses_a_bad_template_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None
) -> None:
    template = tmp_path / "brand.pptx"
    if content is not None:
        template.write_bytes(content)
    outline = tmp_path / "deck.md"
    outline.write_text("# Deck\n\n## One\n\n- a point\n", encoding="utf-8")
    code = cli.main(
        ["make", str(outline), "--template", str(template), "--tts", "none", "--out", str(tmp_path)]
    )
    assert code == 2
    assert "brand.pptx" in capsys.readouterr().err
    assert not (tmp_path / "deck").exists()


def _one_slide_decks(pptx: Path, folder: Path) -> list[Path]:
    """Each slide of ``pptx`` as a deck of its own (LibreOffice draws a deck's first page)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = len(Presentation(str(pptx)).slides)
    decks = []
    for keep in range(count):
        prs = Presentation(str(pptx))
        id_list = prs.slides._sldIdLst
        for number, entry in reversed(list(enumerate(list(id_list)))):
            if number != keep:
                prs.part.drop_rel(entry.rId)
                id_list.remove(entry)
        path = folder / f"page-{keep + 1:02d}.pptx"
        prs.save(str(path))
        decks.append(path)
    return decks


def _grey(image: Image.Image) -> Image.Image:
    """A small grey copy: differences in layout show, antialiasing and compression do not."""
    return image.convert("L").resize((192, 108), Image.Resampling.BOX)


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two pictures' small grey copies, 0 to 255."""
    return float(ImageStat.Stat(ImageChops.difference(_grey(a), _grey(b))).mean[0])


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.skipif(
    find_soffice() is None, reason="LibreOffice is not installed (apt install libreoffice-impress)"
)
@pytest.mark.parametrize("name", ["libreoffice", "picture-layout"])
async def test_video_frames_look_like_the_pptx_pages_libreoffice_draws(
    tmp_path: Path, name: str
) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    slides = [
        slide(i, images=result.images, audio=wav_file(clips, i, 1.5), duration_s=1.5,
              title=result.script.title, bullets=result.script.bullets)
        for i, result in enumerate(deck_slides()[:2])
    ]  # fmt: skip
    ctx = AssemblyContext(
        request=DeckRequest(topic=TOPIC, project="deck"),
        title=DECK_TITLE,
        project_dir=tmp_path / "deck",
        options=RenderOptions(template=CORPUS[name], page_renderer="libreoffice", pause_s=0.5),
        slide_count=len(slides),
    )
    async with StreamingDeckAssembler(ctx) as assembler:
        for result in slides:
            await assembler.prepare_slide(result)
        for result in reversed(slides):
            await assembler.add_slide(result)
        files = await assembler.finish(slides)
        look = assembler.look
    assert files.pptx_path is not None and files.video_path is not None
    pdf = files.files["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF")
    pages = len(Presentation(str(files.pptx_path)).slides)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == pages

    substitutes = stand_ins(look.typefaces())
    office = LibreOffice(find_soffice() or "soffice", tmp_path / "office", substitutes=substitutes)
    decks = _one_slide_decks(files.pptx_path, tmp_path / "pages")
    size = fit_size(look.size)
    drawn = await office.pictures(decks[1:3], tmp_path / "pages", size)
    starts = [0.0, 1.5 + 0.5]
    for number, (result, picture) in enumerate(zip(slides, drawn, strict=True)):
        with Image.open(picture) as page:
            page_frame = framed(page.convert("RGB"))
        video = tmp_path / f"video-{number}.png"
        await anyio.run_process(
            [FFMPEG, "-v", "error", "-y", "-i", str(files.video_path),
             "-ss", f"{starts[number]:.3f}", "-frames:v", "1", str(video)],
        )  # fmt: skip
        with Image.open(video) as still:
            from_video = still.convert("RGB")
        # The video shows what LibreOffice draws of the PPTX: the same picture, give or take
        # the H.264 encoding.
        assert _difference(from_video, page_frame) < 2.0
        # Without LibreOffice, Pillow paints the same layout in the same look.
        painted_path = render_frame(result, look=look, count=2, path=tmp_path / f"p{number}.png")
        with Image.open(painted_path) as painted:
            assert _difference(painted.convert("RGB"), page_frame) < 3.0


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.skipif(
    find_soffice() is None, reason="LibreOffice is not installed (apt install libreoffice-impress)"
)
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_cancelling_a_conversion_leaves_no_libreoffice_running(tmp_path: Path) -> None:
    build(tmp_path, CORPUS["google-slides"], deck_slides())
    office = LibreOffice(find_soffice() or "soffice", tmp_path / "office")
    marker = str((tmp_path / "office").resolve())
    started = anyio.Event()

    async def watch(scope: anyio.CancelScope) -> None:
        for _ in range(3000):  # LibreOffice shows up within a minute
            if processes_with(marker):
                started.set()
                break
            await anyio.sleep(0.02)
        scope.cancel()

    async with anyio.create_task_group() as tasks:
        with anyio.CancelScope() as scope:
            tasks.start_soon(watch, scope)
            await office.pdf(tmp_path / "deck.pptx", tmp_path / "pdf")
    assert started.is_set()
    assert processes_with(marker) == []
    assert not (tmp_path / "pdf" / "deck.pdf").exists()


@pytest.mark.anyio
@pytest.mark.libreoffice
async def test_when_libreoffice_fails_the_frames_are_painted_and_the_pdf_drawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "soffice"
    broken.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 1\n", encoding="utf-8")
    broken.chmod(0o755)
    monkeypatch.setenv("SLIDESTREAM_SOFFICE", str(broken))
    clips = tmp_path / "clips"
    clips.mkdir()
    slides = [slide(0, audio=wav_file(clips, 0, 1.0), duration_s=1.0)]
    ctx = AssemblyContext(
        request=DeckRequest(topic=TOPIC, project="deck"),
        title=DECK_TITLE,
        project_dir=tmp_path / "deck",
        options=RenderOptions(template=CORPUS["google-slides"], subtitles=False, audio=False),
        slide_count=1,
    )
    async with StreamingDeckAssembler(ctx) as assembler:
        await assembler.add_slide(slides[0])
        files = await assembler.finish(slides)
    assert set(files.files) == {"pptx", "pdf", "mp4"}
    pdf = read_pdf(files.files["pdf"])
    assert len(pdf.texts) == 2  # the title and the slide, drawn in the template's look
    assert DECK_TITLE in " ".join(pdf.texts[0].split()) and pdf.embedded


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.libreoffice
@pytest.mark.skipif(
    find_soffice() is None, reason="LibreOffice is not installed (apt install libreoffice-impress)"
)
async def test_the_pdf_is_printed_while_narration_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every page is known once each slide's script and pictures are: LibreOffice prints them
    # (at low priority) before any slide's narration is done, and the PDF is that print.
    printing = anyio.Event()
    calls: list[dict[str, bool]] = []
    pdf = LibreOffice.pdf

    async def watched(office: LibreOffice, pptx: Path, out_dir: Path, **options: bool) -> Path:
        calls.append(options)
        printing.set()
        return await pdf(office, pptx, out_dir, **options)

    monkeypatch.setattr(LibreOffice, "pdf", watched)
    clips = tmp_path / "clips"
    clips.mkdir()
    scripted = deck_slides()[:3]
    ctx = AssemblyContext(
        request=DeckRequest(topic=TOPIC, project="deck"),
        title=DECK_TITLE,
        project_dir=tmp_path / "deck",
        options=RenderOptions(
            audio=False, video=False, subtitles=False, page_renderer="libreoffice"
        ),
        slide_count=len(scripted),
    )
    async with StreamingDeckAssembler(ctx) as assembler:
        for prepared in scripted:
            await assembler.prepare_slide(prepared)
        with anyio.fail_after(60):
            await printing.wait()
        voiced = [
            slide(i, title=s.script.title, bullets=s.script.bullets, images=s.images,
                  audio=wav_file(clips, i, 1.0), duration_s=1.0)
            for i, s in enumerate(scripted)
        ]  # fmt: skip
        for result in voiced:
            await assembler.add_slide(result)
        files = await assembler.finish(voiced)
    assert calls == [{"low_priority": True}]  # printed once, early
    assert files.pptx_path is not None
    deck = Presentation(str(files.pptx_path))
    audio = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/audio"
    narrated = [
        page for page in deck.slides if any(r.reltype == audio for r in page.part.rels.values())
    ]
    assert len(narrated) == len(scripted)  # the PPTX has the narration the print copy lacks
    printed = files.files["pdf"].read_bytes()
    assert printed.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", printed)) == len(deck.slides)


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(CORPUS))
async def test_without_libreoffice_each_template_gets_a_drawn_pdf_with_its_text(
    tmp_path: Path, name: str
) -> None:
    slides = deck_slides()[:3]
    ctx = AssemblyContext(
        request=DeckRequest(topic=TOPIC, project="deck"),
        title=DECK_TITLE,
        project_dir=tmp_path,
        options=RenderOptions(
            template=CORPUS[name], audio=False, video=False, subtitles=False, page_renderer="pillow"
        ),
        slide_count=len(slides),
    )
    async with StreamingDeckAssembler(ctx) as assembler:
        for result in slides:
            await assembler.add_slide(result)
        files = await assembler.finish(slides)
    assert files.pptx_path is not None
    pdf = read_pdf(files.files["pdf"])
    assert len(pdf.texts) == len(Presentation(str(files.pptx_path)).slides)
    assert pdf.embedded and pdf.title == DECK_TITLE
    pages = [" ".join(text.split()) for text in pdf.texts]
    assert DECK_TITLE in pages[0]
    for result, page in zip(slides, pages[1:], strict=False):
        assert result.script.title in page
        assert all(bullet in page for bullet in result.script.bullets)
    assert pdf.pictures[1]  # slide 1's picture
