"""Property-based tests of the subtitle cue builder and the layout planner.

Arbitrary Unicode, word timings in any order and of any length, narrations and durations;
titles and bullets of any size, with or without an image: cues come out ordered, apart and
inside the audio, SRT and WebVTT read back as the cues they were made from; every page of a
slide plan holds its text inside its boxes, and no word is lost unless a one-page frame
says it cut the text.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from slidestream._models import WordTiming
from slidestream.render._layout import (
    body_height,
    builtin_geometry,
    join_lines,
    line_pitch,
    plan_pages,
    text_width,
)
from slidestream.render._subtitles import (
    MAX_LINE_CHARS,
    MAX_LINES,
    Cue,
    deck_cues,
    format_srt,
    format_vtt,
    slide_cues,
    wrap,
)

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LAYOUT_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

_TIME = st.floats(min_value=-5.0, max_value=120.0, allow_nan=False, allow_infinity=False)
_WORD = st.builds(
    WordTiming,
    st.one_of(st.text(max_size=25), st.sampled_from(["Hi.", "well,", "-->", "<b>&", "\x1b[2J"])),
    _TIME,
    _TIME,
)
_DURATION = st.floats(min_value=0.0, max_value=90.0, allow_nan=False)


def _checked(cues: list[Cue], end_s: float) -> None:
    """Cues are ordered, do not overlap, last a while and lie inside ``[0, end_s]``."""
    for cue in cues:
        assert 0 <= cue.start_s < cue.end_s <= end_s + 1e-9, cue
        assert cue.text.strip()
    for before, after in itertools.pairwise(cues):
        assert before.end_s <= after.start_s + 1e-9, (before, after)


@SETTINGS
@given(st.lists(_WORD, max_size=40), st.text(max_size=400), _DURATION)
@example([], "One. Two, three! " * 40, 12.0)
@example([WordTiming("a b c d e f", 0.0, 60.0)], "", 10.0)
@example([WordTiming("x", 3.0, 1.0), WordTiming("y", 2.0, 2.0)], "", 5.0)
def test_a_slides_cues_are_ordered_apart_and_inside_its_audio(
    words: list[WordTiming], narration: str, duration_s: float
) -> None:
    # Word timings reach the builder checked (``checked_words``): in order, inside the clip.
    usable = sorted(
        (
            WordTiming(w.text, w.start_s, min(w.end_s, duration_s))
            for w in words
            if 0 <= w.start_s <= w.end_s and w.start_s < duration_s
        ),
        key=lambda w: w.start_s,
    )
    cues = slide_cues(usable, narration, duration_s)
    _checked(cues, duration_s)
    for cue in cues:  # readable: two lines of 42 characters at most, unless one long word
        assert len(wrap(cue.text, MAX_LINE_CHARS)) <= MAX_LINES or len(cue.text.split()) == 1


_SLIDE = st.tuples(st.text(max_size=200), _DURATION)


@SETTINGS
@given(st.lists(_SLIDE, max_size=8), st.floats(min_value=0.0, max_value=2.0))
@example([("Hello --> there. <i>&amp;</i>\x1b[31m red \u202e", 3.0)], 0.5)
def test_deck_cues_read_back_from_srt_and_vtt_as_they_were_made(
    slides: list[tuple[str, float]], pause_s: float
) -> None:
    timeline, at = [], 0.0
    for narration, duration_s in slides:
        timeline.append((at, slide_cues([], narration, duration_s)))
        at += duration_s + pause_s
    cues = deck_cues(timeline)
    _checked(cues, at)
    srt, vtt = format_srt(cues), format_vtt(cues)
    for document, separator in ((srt, ","), (vtt, ".")):
        stamps = re.findall(
            rf"^(\d\d):(\d\d):(\d\d){re.escape(separator)}(\d{{3}}) --> "
            rf"(\d\d):(\d\d):(\d\d){re.escape(separator)}(\d{{3}})$",
            document,
            flags=re.MULTILINE,
        )
        millis = [
            (
                ((int(h1) * 60 + int(m1)) * 60 + int(s1)) * 1000 + int(f1),
                ((int(h2) * 60 + int(m2)) * 60 + int(s2)) * 1000 + int(f2),
            )
            for h1, m1, s1, f1, h2, m2, s2, f2 in stamps
        ]
        assert document.count("-->") == len(millis)  # no "-->" inside a cue's text
        assert all(start < end for start, end in millis)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(millis))
        assert not millis or millis[-1][1] <= round(at * 1000)
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", document)  # no control character
    assert srt.count(" --> ") == vtt.count(" --> ")
    assert "<" not in vtt.replace("&lt;", "") and "\n\n\n" not in srt


_BULLET = st.one_of(
    st.text(max_size=300),
    st.builds(lambda w, n: " ".join([w] * n), st.text(min_size=1, max_size=12), st.integers(1, 80)),
    st.sampled_from(["x" * 400, "漢字かな交じり文" * 20, "مرحبا بالعالم " * 10, "\u200b" * 50]),
)


@LAYOUT_SETTINGS
@given(
    st.text(max_size=200),
    st.lists(_BULLET, max_size=14),
    st.one_of(st.none(), st.tuples(st.integers(1, 30_000), st.integers(1, 30_000))),
    st.sampled_from([None, 1]),
)
@example("T", ["word " * 400], (4000, 3000), None)
@example("T", ["word " * 400], None, 1)
# After a character Lato lacks, the digits and spaces that follow stay in the fallback font.
@example("", ["0000\x80000000000000000000000000000000 00000000"], None, None)
def test_every_page_of_a_slide_plan_holds_its_text_inside_its_boxes(
    title: str, bullets: list[str], image_size: tuple[int, int] | None, max_pages: int | None
) -> None:
    geometry = builtin_geometry()
    pages = plan_pages(title, bullets, geometry, image_size=image_size, max_pages=max_pages)
    assert pages and [page.page for page in pages] == list(range(len(pages)))
    assert all(page.pages == len(pages) for page in pages)
    if max_pages == 1:
        assert len(pages) == 1
    for page in pages:
        assert geometry.body_hard_min <= page.body_size <= geometry.body_max
        assert body_height(page.bullets, page.body_size) <= page.body_box.h + 0.5
        title_block = page.title
        assert len(title_block.lines) <= 2
        assert len(title_block.lines) * line_pitch(title_block.size) <= page.title_box.h + 0.5
        width = page.body_box.w - page.indent
        for bullet in page.bullets:
            for line in bullet.lines:  # a single character wider than the box is the one
                assert len(line) <= 1 or text_width(line, page.body_size) <= width + 0.5
        if page.image is not None:
            box, slide = page.image.box, geometry
            assert box.x >= 0 and box.right <= slide.width + 0.5
            assert box.y >= 0 and box.bottom <= slide.height + 0.5
    if not any(page.truncated for page in pages):
        wanted = [word for text in bullets for word in text.split()]
        kept = [
            word
            for page in pages
            for bullet in page.bullets
            for word in join_lines(bullet.lines).split()
        ]
        assert "".join(kept) == "".join(wanted)  # every character, in order
