from __future__ import annotations

import pytest

from slidestream._fonts.fallback import face_for, split_runs
from slidestream.render._layout import (
    CONTINUED,
    MAX_CROP,
    Box,
    body_height,
    builtin_geometry,
    fit_title,
    join_lines,
    place_image,
    plan_pages,
    text_width,
    wrap,
)
from slidestream.render._typeface import LATO

GEOMETRY = builtin_geometry()
SENTENCE = "The quick brown fox jumps over the lazy dog while the cat watches from the fence"


def test_wrap_keeps_every_line_inside_the_width_and_every_word() -> None:
    lines = wrap(SENTENCE, 22, 300)
    assert len(lines) > 1
    assert all(text_width(line, 22) <= 300 * LATO.safety for line in lines)
    assert " ".join(lines) == SENTENCE


def test_wrap_breaks_a_word_longer_than_the_line() -> None:
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 2
    lines = wrap(word, 22, 200)
    assert "".join(lines) == word
    assert all(text_width(line, 22) <= 200 * LATO.safety for line in lines)


def test_a_word_of_thousands_of_characters_is_broken_measuring_little(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from slidestream.render import _layout

    measured: list[int] = []
    real = _layout.text_width

    def counting(text: str, size: float, **options: object) -> float:
        measured.append(len(text))
        return real(text, size, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(_layout, "text_width", counting)
    word = "Mississippi" * 500
    lines = wrap(word, 40, 800, bold=True)
    assert "".join(lines) == word
    assert all(real(line, 40, bold=True) <= 800 * LATO.safety for line in lines)
    assert all(real(line + word[0], 40, bold=True) > 800 * LATO.safety for line in lines[:-1])
    # Each line is found with a few dozen measurements of about a line, not the whole word.
    assert sum(measured) < 40 * len(word)
    assert len(fit_title(word, GEOMETRY.title, max_size=44, min_size=28).lines) <= 2


def test_wrap_breaks_cjk_text_between_characters() -> None:
    text = "量子コンピュータは、量子力学の原理を利用して計算を行うコンピュータです。"
    lines = wrap(text, 22, 200)
    assert len(lines) > 1
    assert "".join(lines) == text
    assert all(not line.startswith("、") and not line.startswith("。") for line in lines)


def test_title_shrinks_before_it_wraps_past_two_lines() -> None:
    short = fit_title("Short title", GEOMETRY.title, max_size=30, min_size=20)
    assert short.size == 30
    assert short.lines == ["Short title"]
    long = fit_title(
        SENTENCE + " and the dog sleeps on the porch all day",
        GEOMETRY.title,
        max_size=30,
        min_size=20,
    )
    assert long.size < 30
    assert len(long.lines) <= 2
    assert long.height <= GEOMETRY.title.h + 0.5


def test_a_short_slide_is_one_page_at_the_largest_size() -> None:
    [page] = plan_pages("Title", ["One", "Two", "Three"], GEOMETRY, image_size=(960, 540))
    assert page.body_size == GEOMETRY.body_max
    assert page.body_box == GEOMETRY.body_with_image
    assert page.image is not None
    assert page.pages == 1
    assert [b.lines for b in page.bullets] == [["One"], ["Two"], ["Three"]]


def test_text_shrinks_to_the_floor_before_it_splits() -> None:
    bullets = [SENTENCE] * 8
    [page] = plan_pages("Title", bullets, GEOMETRY)
    assert GEOMETRY.body_min <= page.body_size < GEOMETRY.body_max
    assert body_height(page.bullets, page.body_size) <= page.body_box.h + 0.5


def test_too_much_text_continues_on_a_second_slide_in_order() -> None:
    bullets = [f"{i}: {SENTENCE}" for i in range(12)]
    pages = plan_pages("Busy slide", bullets, GEOMETRY, image_size=(800, 600))
    assert len(pages) >= 2
    assert pages[0].title_text == "Busy slide"
    assert all(p.title_text == "Busy slide" + CONTINUED for p in pages[1:])
    assert pages[0].image is not None
    assert all(p.image is None for p in pages[1:])
    assert len({p.body_size for p in pages}) == 1
    assert pages[0].body_size >= GEOMETRY.body_min
    texts = [" ".join(b.lines) for p in pages for b in p.bullets]
    assert texts == bullets
    for page in pages:
        assert body_height(page.bullets, page.body_size) <= page.body_box.h + 0.5


def test_one_huge_bullet_is_split_and_marked_as_continued() -> None:
    huge = " ".join([SENTENCE] * 40)
    pages = plan_pages("Huge", [huge], GEOMETRY)
    assert len(pages) >= 2
    bullets = [b for p in pages for b in p.bullets]
    assert not bullets[0].continued
    assert all(b.continued for b in bullets[1:])
    assert " ".join(line for b in bullets for line in b.lines) == huge


def test_a_single_page_plan_shrinks_further_then_cuts_with_an_ellipsis() -> None:
    bullets = [f"{i}: {SENTENCE}" for i in range(40)]
    [page] = plan_pages("Frame", bullets, GEOMETRY, max_pages=1)
    assert page.body_size == GEOMETRY.body_hard_min
    assert page.truncated
    assert page.bullets[-1].lines[-1].endswith("…")
    assert body_height(page.bullets, page.body_size) <= page.body_box.h + 0.5


def test_slide_with_only_an_image_uses_the_whole_body() -> None:
    [page] = plan_pages("Picture", [], GEOMETRY, image_size=(400, 300))
    assert page.image is not None
    assert page.image.box.w >= GEOMETRY.body.w * 0.5


@pytest.mark.parametrize(
    ("size", "cropped"),
    [((1000, 800), True), ((1920, 1080), False), ((600, 900), False), ((390, 320), False)],
)
def test_images_keep_their_aspect_ratio(size: tuple[int, int], cropped: bool) -> None:
    box = Box(500, 150, 390, 320)
    placement = place_image(*size, box)
    assert placement.cropped == cropped
    shown_w = size[0] * (1 - placement.crop_left - placement.crop_right)
    shown_h = size[1] * (1 - placement.crop_top - placement.crop_bottom)
    assert placement.box.w / placement.box.h == pytest.approx(shown_w / shown_h, rel=1e-6)
    assert max(placement.crop_left * 2, placement.crop_top * 2) <= MAX_CROP + 1e-9
    b = placement.box
    assert box.x - 1e-6 <= b.x
    assert b.right <= box.right + 1e-6
    assert box.y - 1e-6 <= b.y
    assert b.bottom <= box.bottom + 1e-6


def test_characters_lato_lacks_fall_back_to_a_font_that_has_them() -> None:
    georgian = "ქართული"
    face = face_for(georgian[0], bold=False)
    if face.is_lato:
        pytest.skip("no installed font covers Georgian (DejaVu Sans does)")
    assert "dejavu" in face.path.lower() or not face.is_lato
    runs = split_runs(f"Hello {georgian} world")
    assert [run.face.is_lato for run in runs] == [True, False, True]
    assert "".join(run.text for run in runs) == f"Hello {georgian} world"
    assert face_for("A", bold=False).is_lato


def test_box_drawing_characters_fall_back_too() -> None:
    face = face_for("╔", bold=True)
    if face.is_lato:
        pytest.skip("no installed font covers box drawing characters")
    assert not face.is_lato


def test_a_huge_cjk_bullet_splits_without_inventing_spaces() -> None:
    text = "量子コンピュータは量子力学の原理を利用して計算を行います。" * 150
    pages = plan_pages("量子", [text], GEOMETRY)
    assert len(pages) >= 2
    parts = [join_lines(b.lines) for p in pages for b in p.bullets]
    assert "".join(parts) == text
