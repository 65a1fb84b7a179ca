from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from slidestream._fonts.bidi import bidi_levels, visual_order
from slidestream._fonts.fallback import face_for, raqm_available, split_runs
from slidestream.render._frames import render_frame
from slidestream.render._layout import THEME, builtin_geometry
from slidestream.render._look import BuiltinLook
from slidestream.render._paint import Canvas
from tests._render_data import IMAGE_COLOUR, image_asset, slide

SCALE = 2  # pixels per point at 1920 x 1080
LOOK = BuiltinLook("Test Deck")


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


def _region(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    return image.crop(tuple(round(v * SCALE) for v in box))


def _ink(image: Image.Image, background: tuple[int, int, int] = THEME.background) -> int:
    """How many pixels differ clearly from the background."""
    diff = ImageChops.difference(image.convert("RGB"), Image.new("RGB", image.size, background))
    return sum(1 for v in diff.convert("L").getdata() if v > 60)


def test_a_frame_shows_title_bullets_and_image(tmp_path: Path) -> None:
    path = render_frame(
        slide(1, images=[image_asset(1200, 800)]),
        look=LOOK,
        count=3,
        path=tmp_path / "frames" / "slide-002.png",
    )
    assert path == tmp_path / "frames" / "slide-002.png"
    assert [p.name for p in path.parent.iterdir()] == ["slide-002.png"]  # no temp file left
    image = _open(path)
    assert image.size == (1920, 1080)
    assert image.mode == "RGB"
    stats = ImageStat.Stat(image.convert("L"))
    assert stats.stddev[0] > 20  # not blank
    geometry = builtin_geometry()
    title = _region(
        image, (geometry.title.x, geometry.title.y, geometry.title.right, geometry.title.bottom)
    )
    assert _ink(title) > 2000
    body = geometry.body_with_image
    assert _ink(_region(image, (body.x, body.y, body.right, body.bottom))) > 2000
    box = geometry.image
    centre = _region(
        image, (box.x + box.w * 0.1, box.y + box.h * 0.6, box.x + box.w * 0.3, box.bottom - 20)
    )
    r, g, b = (round(c) for c in ImageStat.Stat(centre).mean)
    assert abs(r - IMAGE_COLOUR[0]) < 12
    assert abs(g - IMAGE_COLOUR[1]) < 12
    assert abs(b - IMAGE_COLOUR[2]) < 12


def test_without_an_image_the_text_uses_the_full_width(tmp_path: Path) -> None:
    long = ["A point that is long enough to run past the middle of the slide in one line"]
    path = render_frame(slide(0, bullets=long), look=LOOK, count=3, path=tmp_path / "f.png")
    image = _open(path)
    geometry = builtin_geometry()
    right = _region(
        image, (geometry.image.x, geometry.body.y, geometry.body.right, geometry.body.y + 40)
    )
    assert _ink(right) > 200


def test_other_sizes_scale_the_same_layout(tmp_path: Path) -> None:
    path = render_frame(
        slide(0, images=[image_asset()]),
        look=LOOK,
        count=3,
        path=tmp_path / "small.png",
        size=(960, 540),
    )
    assert _open(path).size == (960, 540)


def test_an_uncompressed_frame_holds_the_pixels_of_the_png(tmp_path: Path) -> None:
    shown = slide(1, images=[image_asset(1200, 800)])
    png = render_frame(shown, look=LOOK, count=3, path=tmp_path / "slide.png")
    ppm = render_frame(shown, look=LOOK, count=3, path=tmp_path / "slide.ppm")
    assert ppm.read_bytes().startswith(b"P6")
    assert ppm.stat().st_size > 1920 * 1080 * 3  # not compressed
    assert ImageChops.difference(_open(png), _open(ppm)).getbbox() is None


def test_frames_render_the_same_from_many_threads(tmp_path: Path) -> None:
    slides = [slide(i, images=[image_asset(640 + 40 * i, 480)]) for i in range(4)]
    sequential = [
        render_frame(s, look=LOOK, count=4, path=tmp_path / f"seq-{s.index}.png").read_bytes()
        for s in slides
    ]
    threads = [
        threading.Thread(
            target=render_frame,
            args=(s,),
            kwargs={"look": LOOK, "count": 4, "path": tmp_path / f"par-{s.index}.png"},
        )
        for s in slides
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [(tmp_path / f"par-{i}.png").read_bytes() for i in range(4)] == sequential


def _line(text: str) -> Image.Image:
    canvas = Canvas((800, 120), (255, 255, 255))
    canvas.line(10, 10, text, 24, (0, 0, 0))
    return canvas.image


def _lato_only(text: str) -> Image.Image:
    from slidestream.render._fonts import load_font

    canvas = Canvas((800, 120), (255, 255, 255))
    canvas.draw.text((20, 20 + 46), text, font=load_font(48), fill=(0, 0, 0), anchor="ls")
    return canvas.image


def test_characters_lato_lacks_are_drawn_with_a_fallback_font() -> None:
    georgian = "ქართული ენა"
    if face_for("ქ", bold=False).is_lato:
        pytest.skip("no installed font covers Georgian (DejaVu Sans does)")
    fallback = _line(georgian)
    tofu = _lato_only(georgian)
    assert _ink(fallback, (255, 255, 255)) > 300
    assert ImageChops.difference(fallback, tofu).getbbox() is not None
    # each glyph differs: tofu boxes all look alike, real glyphs do not
    first, second = (_line(c) for c in "ქა")
    assert ImageChops.difference(first, second).getbbox() is not None


def test_a_cjk_title_uses_a_cjk_font_when_one_is_installed(tmp_path: Path) -> None:
    face = face_for("漢", bold=True)
    if face.is_lato:
        pytest.skip("no CJK font installed (e.g. apt install fonts-noto-cjk); see docs/fonts.md")
    path = render_frame(
        slide(0, title="量子コンピュータの仕組み", bullets=["量子ビットは0と1を同時に表す"]),
        look=LOOK,
        count=3,
        path=tmp_path / "cjk.png",
    )
    geometry = builtin_geometry()
    title = _region(
        _open(path),
        (geometry.title.x, geometry.title.y, geometry.title.right, geometry.title.bottom),
    )
    assert _ink(title) > 2000
    one, two = (_line(c) for c in "量子")
    assert ImageChops.difference(one, two).getbbox() is not None


def test_arabic_is_shaped_right_to_left_when_raqm_is_available() -> None:
    if face_for("ب", bold=False).is_lato:
        pytest.skip("no installed font covers Arabic")
    if not raqm_available():
        pytest.skip("Pillow was built without libraqm: Arabic is drawn unshaped (docs/fonts.md)")
    joined = _line("بب")
    apart = _line("ب ب")
    assert ImageChops.difference(joined, apart).getbbox() is not None


def test_the_fonts_doc_code_runs(capsys: pytest.CaptureFixture[str]) -> None:
    doc = (Path(__file__).parent.parent / "docs" / "fonts.md").read_text(encoding="utf-8")
    blocks = doc.split("```python\n")[1:]
    assert blocks
    for block in blocks:
        exec(compile(block.split("```")[0], "docs/fonts.md", "exec"), {})
    assert "'Hello" in capsys.readouterr().out


def _columns_with_ink(image: Image.Image) -> list[bool]:
    grey = image.convert("L")
    width, height = grey.size
    pixels = grey.load()
    return [any(pixels[x, y] < 128 for y in range(height)) for x in range(width)]


def _gaps(image: Image.Image) -> list[int]:
    """Widths (pixels) of the blank stretches between inked stretches, left to right."""
    ink = _columns_with_ink(image)
    start = ink.index(True)
    end = len(ink) - ink[::-1].index(True)
    gaps, run = [], 0
    for column in ink[start:end]:
        if column:
            if run:
                gaps.append(run)
            run = 0
        else:
            run += 1
    return gaps


def test_right_to_left_words_keep_their_spaces_among_left_to_right_ones() -> None:
    if face_for("ע", bold=False).is_lato:
        pytest.skip("no installed font covers Hebrew (DejaVu Sans does)")
    text = "Hello עולם world"
    runs = visual_order(split_runs(text))
    # The Hebrew word is reordered on its own: the spaces stay between the words.
    assert [run.text for run in runs] == ["Hello ", "עולם", " world"]
    assert [run.rtl for run in runs] == [False, True, False]
    word_gap = min(_gaps(_line("Hello there world")))
    widest = sorted(_gaps(_line(text)), reverse=True)[:2]
    assert len(widest) == 2
    assert all(gap >= 0.6 * word_gap for gap in widest)  # both spaces are still drawn


def test_numbers_and_neutrals_follow_the_paragraph_direction() -> None:
    assert bidi_levels("1 / 3") == [0] * 5  # a page number stays "1 / 3"
    # A number after a Hebrew word goes with it; the spaces around them keep their places.
    assert bidi_levels("Hello עולם 123 world") == [0] * 6 + [1] * 5 + [2] * 3 + [0] * 6
    order = [run.text for run in visual_order(split_runs("a אב 12 c"))]
    assert order == ["a ", "12", "אב ", " c"]
    # Paragraphs read left to right, as PPTX viewers lay out a paragraph not marked RTL.
    assert [r.text for r in visual_order(split_runs("שלום world"))] == ["שלום", " world"]
