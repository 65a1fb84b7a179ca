"""The shipped faces are drawn from an in-memory copy without grid-fitting."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.ttLib import TTFont
from PIL import ImageFont

from slidestream._fonts import font_path, load_font
from slidestream._fonts.faces import lato, load_face
from slidestream._fonts.unhinted import unhinted

TEXT = "Vaccines teach the immune system: AVWgy 0123, fig. 1"


def _without_instructions(path: Path) -> bytes:
    """The font with every hinting program removed: its outlines exactly as designed."""
    font = TTFont(str(path))
    for tag in ("fpgm", "prep", "cvt "):
        del font[tag]
    glyphs = font["glyf"]
    for name in font.getGlyphOrder():
        glyph = glyphs[name]
        if hasattr(glyph, "program"):
            glyph.program.fromBytecode(b"")
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


@pytest.mark.parametrize("bold", [False, True])
def test_the_shipped_faces_draw_their_outlines_with_the_same_advances(bold: bool) -> None:
    path = font_path(bold=bold)
    data = unhinted(str(path))
    assert data is not None
    plain = _without_instructions(path)
    for size in (20, 29, 46, 72, 120):
        drawn = ImageFont.truetype(io.BytesIO(data), size)
        designed = ImageFont.truetype(io.BytesIO(plain), size)
        hinted = ImageFont.truetype(str(path), size)
        mask, offset = drawn.getmask2(TEXT, "L", anchor="ls")
        expected, expected_offset = designed.getmask2(TEXT, "L", anchor="ls")
        assert (mask.size, offset) == (expected.size, expected_offset)
        assert bytes(mask) == bytes(expected)
        # Lines break where they did: widths are the same as the shipped file's.
        assert drawn.getlength(TEXT) == hinted.getlength(TEXT)
        assert abs(mask.size[1] - hinted.getmask2(TEXT, "L", anchor="ls")[0].size[1]) <= 2


def test_the_shipped_files_are_unchanged_and_drawing_uses_the_copy() -> None:
    shipped = TTFont(str(font_path()))
    assert shipped["prep"].program.getBytecode() != bytes([0xB1, 1, 1, 0x8E])
    copy = TTFont(io.BytesIO(unhinted(str(font_path())) or b""))
    assert copy["prep"].program.getBytecode() == bytes([0xB1, 1, 1, 0x8E])
    assert not isinstance(load_face(lato(), 40).path, str)
    assert not isinstance(load_font(40).path, str)


def test_a_font_without_truetype_outlines_is_drawn_from_its_file(tmp_path: Path) -> None:
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder([".notdef"])
    builder.setupCharacterMap({})
    pen = T2CharStringPen(500, None)
    builder.setupCFF("Empty-Regular", {"FullName": "Empty"}, {".notdef": pen.getCharString()}, {})
    builder.setupHorizontalMetrics({".notdef": (500, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Empty", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(tmp_path / "empty.otf"))
    assert unhinted(str(tmp_path / "empty.otf")) is None
    assert unhinted(str(tmp_path / "missing.ttf")) is None
    (tmp_path / "junk.ttf").write_bytes(b"not a font")
    assert unhinted(str(tmp_path / "junk.ttf")) is None
