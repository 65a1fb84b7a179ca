"""The drawn PDF: scenes as vector pages, read back with pypdf.

Text must come back as text in embedded fonts, pictures stored once at a sane resolution, and
a page whose text reportlab cannot draw (shaping scripts, fonts it cannot embed) painted as one
picture rather than drawn wrong.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from PIL import Image

from slidestream._fonts.faces import FontFace
from slidestream.render import StreamingDeckAssembler
from slidestream.render._layout import Box, ImagePlacement
from slidestream.render._libreoffice import LibreOffice
from slidestream.render._scene import (
    BulletMark,
    Gradient,
    ImageItem,
    LineItem,
    Paragraph,
    Scene,
    ShapeItem,
    Solid,
    TextItem,
)
from slidestream.render._typeface import LATO, Typeface
from slidestream.render._vector import MAX_DPI, prepare_page, vector_pdf_bytes

from ._render_data import context, image_asset, slide
from .media import read_pdf

SIZE = (960.0, 540.0)
PICTURE_SIZE = (1920, 1080)


def text(lines: list[str], *, face: Typeface = LATO, box: Box | None = None) -> TextItem:
    return TextItem(
        box or Box(60, 60, 800, 300),
        (Paragraph(tuple(lines), marked=True),),
        24,
        (20, 30, 40),
        face=face,
        bullet=BulletMark((40, 90, 200)),
        indent=20,
    )


def picture(width: int, height: int, *, alpha: bool = False, fmt: str = "PNG") -> bytes:
    image = Image.new("RGBA" if alpha else "RGB", (width, height), (200, 60, 30, 128))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def scene(*items: object) -> Scene:
    return Scene(*SIZE, Gradient(((0.0, (255, 255, 255)), (1.0, (200, 210, 230)))), items)  # type: ignore[arg-type]


def write(tmp_path: Path, *scenes: Scene) -> Path:
    pages = [prepare_page(one, PICTURE_SIZE, tmp_path / "pictures") for one in scenes]
    path = tmp_path / "deck.pdf"
    path.write_bytes(vector_pdf_bytes(pages, SIZE, title="A deck — drawn"))
    return path


def flat(value: str) -> str:
    return " ".join(value.split())


def cff_font(path: Path) -> Path:
    """A font with PostScript (CFF) outlines, which reportlab cannot embed."""
    builder = FontBuilder(1000, isTTF=False)
    letters = [chr(code) for code in range(ord("a"), ord("z") + 1)] + [" "]
    names = {char: f"g{ord(char)}" for char in letters}
    builder.setupGlyphOrder([".notdef", *names.values()])
    builder.setupCharacterMap({ord(char): name for char, name in names.items()})
    pen = T2CharStringPen(500, None)
    pen.moveTo((50, 0))
    pen.lineTo((50, 700))
    pen.lineTo((450, 700))
    pen.lineTo((450, 0))
    pen.closePath()
    outline = pen.getCharString()
    strings = {".notdef": outline, **dict.fromkeys(names.values(), outline)}
    builder.setupCFF("Boxes-Regular", {"FullName": "Boxes Regular"}, strings, {})
    builder.setupHorizontalMetrics(dict.fromkeys(strings, (500, 50)))
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Boxes", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=800, usWinAscent=800, usWinDescent=200)
    builder.setupPost()
    builder.save(str(path))
    return path


def test_text_is_text_in_embedded_fonts_and_shapes_are_drawn(tmp_path: Path) -> None:
    page = scene(
        ShapeItem(Box(40, 40, 300, 200), Solid((30, 60, 90)), kind="roundRect", radius=12),
        ShapeItem(Box(400, 40, 100, 100), None, kind="ellipse", outline=(0, 0, 0), outline_width=2),
        LineItem(60, 500, 900, 500, (10, 10, 10), 3),
        text(["Germs carry molecules", "the body can recognise"]),
        TextItem(Box(60, 480, 840, 20), (Paragraph(("3 / 8",)),), 10, (90, 90, 90), align="r"),
    )
    pdf = read_pdf(write(tmp_path, page, scene(text(["Memory cells respond fast"]))))
    assert len(pdf.texts) == 2 and pdf.embedded and pdf.title == "A deck — drawn"
    assert "Germs carry molecules the body can recognise" in flat(pdf.texts[0])
    assert "3 / 8" in pdf.texts[0]
    assert "Memory cells respond fast" in flat(pdf.texts[1])
    assert all(name.endswith(("Lato-Regular", "Lato-Bold")) for name in set().union(*pdf.fonts))
    assert pdf.pictures == [[], []]  # fills and gradients are vectors, not pictures


def test_other_scripts_are_drawn_with_fallback_fonts_as_text(tmp_path: Path) -> None:
    pdf = read_pdf(write(tmp_path, scene(text(["Vaccines 疫苗 train", "Ελληνικά и кириллица"]))))
    flat_text = flat(pdf.texts[0])
    assert "Ελληνικά и кириллица" in flat_text
    assert "train" in flat_text and pdf.embedded
    if len(set().union(*pdf.fonts)) > 1:  # a CJK font is installed
        assert "疫苗" in flat_text


@pytest.mark.parametrize(
    "lines",
    [["An Arabic word: مرحبا بالعالم"], ["עברית עם ניקוד: שָׁלוֹם"], ["हिन्दी में नमस्ते"]],
    ids=["arabic", "hebrew", "devanagari"],
)
def test_a_page_that_needs_shaping_is_painted_and_the_others_stay_vector(
    tmp_path: Path, lines: list[str]
) -> None:
    pdf = read_pdf(write(tmp_path, scene(text(["Plain text page"])), scene(text(lines))))
    assert "Plain text page" in pdf.texts[0] and pdf.pictures[0] == []
    assert pdf.texts[1].strip() == "" and pdf.pictures[1] == ["/DCTDecode"]


def test_a_font_that_cannot_be_embedded_paints_its_page(tmp_path: Path) -> None:
    face = FontFace(str(cff_font(tmp_path / "boxes.otf")))
    boxes = Typeface("Boxes", face, face, exact=False, synthetic_bold=True)
    pdf = read_pdf(write(tmp_path, scene(text(["drawn as boxes"], face=boxes))))
    assert pdf.texts[0].strip() == "" and pdf.pictures[0] == ["/DCTDecode"]


def test_pictures_are_stored_cropped_at_most_at_300_dpi(tmp_path: Path) -> None:
    box = Box(500, 100, 400, 225)
    big = ImageItem(picture(4000, 3000), ImagePlacement(box, crop_top=0.125, crop_bottom=0.125))
    clear = ImageItem(picture(300, 200, alpha=True), ImagePlacement(Box(60, 300, 150, 100)))
    photo = ImageItem(picture(320, 180, fmt="JPEG"), ImagePlacement(Box(60, 420, 160, 90)))
    broken = ImageItem(b"not a picture", ImagePlacement(Box(300, 420, 160, 90)))
    path = write(tmp_path, scene(big, clear, photo, broken, text(["Pictures"])))
    pdf = read_pdf(path)
    assert sorted(pdf.pictures[0]) == ["/DCTDecode", "/DCTDecode", "/FlateDecode"]
    assert "Pictures" in pdf.texts[0]

    from pypdf import PdfReader

    resources = PdfReader(path).pages[0]["/Resources"]["/XObject"]
    sizes = sorted(
        (int(xobject["/Width"]), int(xobject["/Height"]), "/SMask" in xobject)
        for xobject in (value.get_object() for value in resources.values())
    )
    most = round(box.w * MAX_DPI / 72)
    assert (most, round(box.h * MAX_DPI / 72), False) in sizes  # 4000 px cut to 300 dpi
    assert (300, 200, True) in sizes  # its transparency kept
    assert (320, 180, False) in sizes


def test_a_picture_background_fills_the_page(tmp_path: Path) -> None:
    from slidestream.render._scene import PictureFill

    page = Scene(*SIZE, PictureFill(picture(1280, 720)), (text(["Over a picture"]),))
    pdf = read_pdf(write(tmp_path, page))
    assert pdf.pictures[0] == ["/DCTDecode"] and "Over a picture" in pdf.texts[0]


@pytest.mark.anyio
async def test_the_built_in_look_is_drawn_without_libreoffice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Installed or not, LibreOffice is never asked to print the built-in look's PDF: its pages
    # are drawn from the scenes the frames are painted from, a slide's as soon as it is added.
    async def refused(*args: object, **options: object) -> Path:
        raise AssertionError("LibreOffice was asked to print the built-in look")

    monkeypatch.setattr(LibreOffice, "pdf", refused)
    slides = [
        slide(0, title="Antigens", bullets=["Germs carry molecules"], images=[image_asset()]),
        slide(1, title="Memory cells", bullets=["The next response is fast"]),
    ]
    ctx = context(tmp_path, slide_count=2, title="How vaccines work", audio=False, video=False)
    async with StreamingDeckAssembler(ctx) as assembler:
        for one in reversed(slides):
            await assembler.add_slide(one)
        files = await assembler.finish(slides)
    pdf = read_pdf(files.files["pdf"])
    assert pdf.embedded and pdf.title == "How vaccines work"
    pages = [flat(page) for page in pdf.texts]
    assert "How vaccines work" in pages[0]
    assert "Antigens" in pages[1] and "Germs carry molecules" in pages[1]
    assert "Memory cells" in pages[2] and "The next response is fast" in pages[2]
    assert pdf.pictures[1] == ["/DCTDecode"]  # the slide's picture, once


def test_drawing_pages_prints_nothing(tmp_path: Path) -> None:
    # A fresh process: font tables are read once per process, and the library must not write
    # fontTools' warnings about the shipped fonts' dates on the user's stderr.
    program = (
        "from slidestream.render._scene import Paragraph, Scene, Solid, TextItem\n"
        "from slidestream.render._layout import Box\n"
        "from slidestream.render._paint import paint\n"
        "from slidestream.render._vector import prepare_page, vector_pdf_bytes\n"
        "item = TextItem(Box(10, 10, 400, 100), (Paragraph(('Quiet',)),), 20, (0, 0, 0))\n"
        "scene = Scene(960, 540, Solid((255, 255, 255)), (item,))\n"
        "paint(scene, (480, 270))\n"
        "import sys, pathlib\n"
        "page = prepare_page(scene, (480, 270), pathlib.Path(sys.argv[1]))\n"
        "vector_pdf_bytes([page], (960, 540))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
