"""Drawing one line of any script with the shared font helpers (frames, pages, illustrations)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageStat

from slidestream._fonts import load_font
from slidestream._fonts.draw import Anchor, draw_line
from slidestream._fonts.faces import font_dirs
from slidestream._fonts.fallback import face_for, raqm_available


@pytest.mark.parametrize("anchor", ["la", "ls", "mm", "ma", "rd"])
def test_a_latin_line_is_drawn_exactly_as_pillow_draws_it(anchor: Anchor) -> None:
    text = "Hello, Wörld — fig. 1"
    ours, pillows = Image.new("L", (900, 200)), Image.new("L", (900, 200))
    width = draw_line(ImageDraw.Draw(ours), (450.5, 100), text, size=53, fill=(255,), bold=True,
                      anchor=anchor)  # fmt: skip
    ImageDraw.Draw(pillows).text((450.5, 100), text, font=load_font(53, bold=True), fill=255,
                                 anchor=anchor)  # fmt: skip
    assert ours.getbbox() is not None
    assert ImageChops.difference(ours, pillows).getbbox() is None
    assert width == pytest.approx(load_font(53, bold=True).getlength(text))


def test_a_right_to_left_word_is_drawn_from_right_to_left() -> None:
    face = face_for("א", bold=False)
    if face.is_lato:
        pytest.skip("no installed font covers Hebrew (e.g. apt install fonts-dejavu-core)")
    if not raqm_available():
        pytest.skip("Pillow was built without libraqm: runs are drawn in stored order")
    drawn, reversed_, logical = (Image.new("L", (300, 120)) for _ in range(3))
    draw_line(ImageDraw.Draw(drawn), (20, 80), "אבג", size=48, fill=(255,))
    # Pillow's basic layout draws characters in the order they are stored, left to right.
    basic = ImageFont.truetype(
        face.path, 48, index=face.index, layout_engine=ImageFont.Layout.BASIC
    )
    ImageDraw.Draw(reversed_).text((20, 80), "גבא", font=basic, fill=255, anchor="ls")
    ImageDraw.Draw(logical).text((20, 80), "אבג", font=basic, fill=255, anchor="ls")
    # Hebrew letters do not join: drawn right to left, the word looks like the reversed string
    # drawn left to right (up to a pixel or two of placement).
    assert _unlike(drawn, reversed_) < 0.25 * _unlike(drawn, logical)


def _unlike(a: Image.Image, b: Image.Image) -> float:
    """How different two drawings of text look, wherever each sits (mean pixel difference)."""
    boxes = a.getbbox(), b.getbbox()
    assert boxes[0] is not None and boxes[1] is not None
    size = (boxes[0][2] - boxes[0][0], boxes[0][3] - boxes[0][1])
    a, b = a.crop(boxes[0]), b.crop(boxes[1]).resize(size)
    return float(ImageStat.Stat(ImageChops.difference(a, b)).mean[0])


def test_fonts_are_found_for_a_user_without_a_home_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where no home folder is known, os.path.expanduser leaves "~" as it is (Path.home raises).
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)
    dirs = font_dirs()
    assert Path("/usr/share/fonts") in dirs
    assert all(folder.is_absolute() for folder in dirs)
