"""The one sentence splitter (TTS providers, subtitles) and text chunks for request limits."""

from __future__ import annotations

import pytest

from slidestream._text import chunk_text, split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One. Two! Three? Four…  Five.", ["One.", "Two!", "Three?", "Four…", "Five."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("(See the chart.) Next point.", ["(See the chart.)", "Next point."]),
        ("Ask Dr. Smith. Then e.g. rest.", ["Ask Dr. Smith.", "Then e.g. rest."]),
        ("Pi is 3.14 or so. Über alles. Ça va.", ["Pi is 3.14 or so.", "Über alles.", "Ça va."]),
        ("It grew 5%. 2024 was better.", ["It grew 5%.", "2024 was better."]),
        ("A stop. and lower case goes on.", ["A stop. and lower case goes on."]),
        ("今日は晴れです。明日は雨です。", ["今日は晴れです。", "明日は雨です。"]),
        ("  spaced\n\n out  text  ", ["spaced out text"]),
        ("", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_chunks_pack_sentences_and_cut_only_overlong_ones() -> None:
    text = "First sentence here. Second one. A third, rather longer sentence follows it."
    assert chunk_text(text, 40) == [
        "First sentence here. Second one.",
        "A third, rather longer sentence follows",
        "it.",
    ]
    assert chunk_text(text, 1000) == [text]
    assert all(len(piece) <= 12 for piece in chunk_text(text, 12))
    assert " ".join(chunk_text(text, 12)) == text
    with pytest.raises(ValueError, match="at least 1"):
        chunk_text(text, 0)
