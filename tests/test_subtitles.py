"""Subtitle cues: grouping, sentence fallback, offsets, and SRT/WebVTT output."""

from __future__ import annotations

import itertools
import unicodedata

import pytest

from slidestream import WordTiming
from slidestream.render._subtitles import (
    MAX_CUE_S,
    Cue,
    deck_cues,
    format_srt,
    format_vtt,
    group_words,
    sentence_cues,
    slide_cues,
    wrap,
)

from .media import parse_subtitles


def timed(text: str, *, step: float = 0.4) -> list[WordTiming]:
    return [
        WordTiming(word, round(n * step, 3), round(n * step + step * 0.9, 3))
        for n, word in enumerate(text.split())
    ]


LONG = (
    "Photosynthesis turns light into chemical energy that plants store as sugar, and almost "
    "every food chain on Earth depends on it in one way or another. It happens in the "
    "chloroplasts. Water is split, oxygen is released, and carbon dioxide is fixed."
)


def assert_readable(cues: list[Cue]) -> None:
    for cue in cues:
        assert len(wrap(cue.text)) <= 2, cue.text
        assert all(len(line) <= 42 for line in wrap(cue.text))
        assert cue.end_s - cue.start_s <= MAX_CUE_S + 1e-9
    for before, after in itertools.pairwise(cues):
        assert before.end_s <= after.start_s


def test_words_grouped_into_readable_cues() -> None:
    words = timed(LONG)
    cues = group_words(words)
    assert_readable(cues)
    assert " ".join(c.text for c in cues).split() == LONG.split()
    assert cues[0].start_s == 0.0
    assert cues[-1].end_s == words[-1].end_s


def test_cues_break_at_sentence_ends() -> None:
    cues = group_words(timed("Short one. Another short one. A third."))
    assert [c.text for c in cues] == ["Short one.", "Another short one.", "A third."]


def test_slow_speech_is_cut_by_duration() -> None:
    cues = group_words(timed("a b c d e f g h i j k l", step=1.5))
    assert len(cues) >= 3
    assert_readable(cues)


def test_sentence_level_timings_are_split_by_characters() -> None:
    sentence = "This very long sentence is timed as one piece by the engine and has to be split up."
    cues = group_words([WordTiming(sentence, 1.0, 9.0)])
    assert len(cues) >= 2
    assert_readable(cues)
    assert cues[0].start_s == pytest.approx(1.0)
    assert cues[-1].end_s == pytest.approx(9.0)


def test_sentence_fallback_shares_time_by_characters() -> None:
    cues = sentence_cues("One. A much longer second sentence here.", 10.0)
    assert [c.text for c in cues] == ["One.", "A much longer second sentence here."]
    assert cues[0].start_s == 0.0
    assert cues[-1].end_s == pytest.approx(10.0)
    assert cues[0].end_s - cues[0].start_s < cues[1].end_s - cues[1].start_s


def test_sentence_fallback_splits_long_sentences() -> None:
    cues = sentence_cues(LONG, 30.0)
    assert_readable([Cue(c.start_s, c.start_s + 1, c.text) for c in cues])
    assert " ".join(c.text for c in cues).split() == LONG.split()


def test_slide_cues_prefer_words_and_stay_within_the_clip() -> None:
    words = timed("Hello there. General idea.")
    assert slide_cues(words, "ignored", 10.0)[0].text == "Hello there."
    assert slide_cues([], "Hello there.", 2.0) == [Cue(0.0, 2.0, "Hello there.")]
    clipped = slide_cues(words, "", 1.0)
    assert clipped[-1].end_s <= 1.0


def test_deck_cues_offset_each_slide() -> None:
    first = [Cue(0.0, 1.0, "a"), Cue(1.0, 2.0, "b")]
    second = [Cue(0.5, 1.5, "c")]
    cues = deck_cues([(0.0, first), (2.6, second)])
    assert [(c.start_s, c.end_s, c.text) for c in cues] == [
        (0.0, 1.0, "a"),
        (1.0, 2.0, "b"),
        (3.1, 4.1, "c"),
    ]


def test_deck_cues_never_overlap() -> None:
    cues = deck_cues([(0.0, [Cue(0.0, 3.0, "a")]), (2.0, [Cue(0.0, 1.0, "b")])])
    assert cues[0].end_s <= cues[1].start_s


@pytest.mark.parametrize("fmt", [format_srt, format_vtt])
def test_formats_parse_back(fmt: object) -> None:
    cues = deck_cues(
        [(0.0, group_words(timed(LONG))), (40.0, sentence_cues("Second slide. It ends.", 3.0))]
    )
    text = fmt(cues)  # type: ignore[operator]
    parsed = parse_subtitles(text)
    assert len(parsed) == len(cues)
    for got, want in zip(parsed, cues, strict=True):
        assert got.start_s == pytest.approx(want.start_s, abs=0.001)
        assert got.end_s == pytest.approx(want.end_s, abs=0.001)
        assert got.text.split() == want.text.split()
        assert len(got.text.splitlines()) <= 2
    for before, after in itertools.pairwise(parsed):
        assert before.end_s <= after.start_s
    assert parsed[-1].end_s <= 43.0


def test_srt_and_vtt_syntax() -> None:
    cues = [Cue(3661.5, 3662.25, "Hi")]
    assert format_srt(cues) == "1\n01:01:01,500 --> 01:01:02,250\nHi\n"
    assert format_vtt(cues) == "WEBVTT\n\n01:01:01.500 --> 01:01:02.250\nHi\n"


def test_rounding_keeps_cues_apart() -> None:
    cues = [Cue(0.0, 1.0004, "a"), Cue(1.0004, 2.0, "b")]
    parsed = parse_subtitles(format_srt(cues))
    assert parsed[0].end_s <= parsed[1].start_s


CHINESE = (
    "光合作用是植物利用阳光把二氧化碳和水转化为葡萄糖和氧气的过程。这个过程发生在叶绿体中，"
    "需要叶绿素吸收光能。它是地球上几乎所有生命的能量来源，也是大气中氧气的主要来源。"
)


def display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_chinese_narration_without_spaces_is_cut_into_readable_cues() -> None:
    cues = sentence_cues(CHINESE, 20.0)
    assert len(cues) >= 3
    assert "".join(c.text for c in cues) == CHINESE
    for cue in cues:
        lines = wrap(cue.text)
        assert len(lines) <= 2, cue.text
        assert all(display_width(line) <= 42 for line in lines), lines
    assert cues[0].text.endswith("。") or len(wrap(cues[0].text)) == 2


def test_chinese_word_timings_are_joined_without_spaces() -> None:
    spoken = ["光合作用", "是", "植物", "的", "过程", "。"]
    words = [WordTiming(w, n * 0.3, n * 0.3 + 0.3) for n, w in enumerate(spoken)]
    cues = group_words(words)
    assert [c.text for c in cues] == ["光合作用是植物的过程。"]


def test_a_chinese_sentence_timed_as_one_piece_is_split() -> None:
    sentence = CHINESE.split("。")[0] + "。"
    cues = group_words([WordTiming(sentence, 0.0, 8.0)])
    assert len(cues) >= 2
    assert "".join(c.text for c in cues) == sentence
    assert all(display_width(line) <= 42 for c in cues for line in wrap(c.text))
    assert cues[-1].end_s == pytest.approx(8.0)


def test_a_longer_arrow_in_the_text_never_becomes_a_timing_arrow() -> None:
    text = format_srt([Cue(0.0, 1.0, "a ---> b ----> c")])
    assert text.count("-->") == 1
    vtt = format_vtt([Cue(0.0, 1.0, "a ---> b")])
    assert vtt.count("-->") == 1


def test_word_timings_without_length_fall_back_to_sentence_cues() -> None:
    words = [WordTiming(w, 0.0, 0.0) for w in ["Hello", "world.", "Again", "here."]]
    cues = slide_cues(words, "Hello world. Again here.", 4.0)
    assert [c.text for c in cues] == ["Hello world.", "Again here."]
    assert cues[-1].end_s == pytest.approx(4.0)


def test_a_latin_stop_after_chinese_text_stays_on_its_cue() -> None:
    cues = group_words([WordTiming("叶绿体吸收光能，这是一个很长的要点用来测试换行。.", 0.0, 4.0)])
    assert cues[-1].text.endswith("换行。.")
    assert all(c.text != "." for c in cues)
