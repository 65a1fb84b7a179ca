"""Data types: validation, immutability and JSON serialisation."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest

import slidestream as ss
from slidestream._types import Stage


def test_every_event_has_a_kind() -> None:
    outline = ss.Outline(title="T", items=[ss.OutlineItem("A", ["x"])])
    script = ss.SlideScript(index=0, title="A")
    deck = ss.DeckResult(request=ss.DeckRequest(topic="t", project="p"), title="T", slides=[])
    events = [
        ss.OutlineReady(outline),
        ss.SlideScripted(script),
        ss.ImagesReady(0, []),
        ss.AudioReady(0, Path("a.wav"), 1.0),
        ss.SlideResult(index=0, script=script),
        ss.DeckReady(deck),
    ]
    assert [e.kind for e in events] == ["outline", "script", "images", "audio", "slide", "deck"]
    for event in events:
        data = event.to_dict()
        assert data["kind"] == event.kind
        json.dumps(data)


def test_to_dict_encodes_bytes_and_paths() -> None:
    image = ss.ImageAsset(
        data=b"\x89PNG", mime_type="image/png", width=1, height=1, path=Path("/x")
    )
    assert image.to_dict()["data"] == "iVBORw=="
    assert image.to_dict()["path"] == "/x"
    assert "data" not in image.to_dict(include_data=False)


def test_models_are_frozen() -> None:
    script = ss.SlideScript(index=0, title="A")
    with pytest.raises(dataclasses.FrozenInstanceError):
        script.title = "B"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("topic", "  ", "topic is empty"),
        ("slides", 0, "slides=0 is out of range"),
        ("images_per_slide", 11, "images_per_slide=11"),
        ("language", "", "language is empty"),
    ],
)
def test_requests_are_validated(field: str, value: object, message: str) -> None:
    options: dict[str, object] = {"topic": "t", "project": "p", field: value}
    with pytest.raises(ss.InvalidInputError, match=message):
        ss.DeckRequest(**options)  # type: ignore[arg-type]


def test_the_error_tree() -> None:
    assert issubclass(ss.ProviderRateLimitError, ss.ProviderError)
    assert issubclass(ss.ProviderError, ss.SlidestreamError)
    assert issubclass(ss.InvalidInputError, ValueError)
    error = ss.ProviderError("boom", provider="p", stage="tts", slide_index=2, status_code=503)
    assert (error.provider, error.stage, error.slide_index, error.status_code) == (
        "p",
        "tts",
        2,
        503,
    )


def test_all_is_complete() -> None:
    public = {name for name in dir(ss) if not name.startswith("_")}
    modules = {"cli", "providers", "render", "server", "testing"}
    assert public - modules - set(ss.__all__) == set()
    assert ss.__all__ == sorted(ss.__all__)
    for name in ss.__all__:
        assert getattr(ss, name) is not None


def test_a_slide_error_takes_its_stage_by_name() -> None:
    # API.md names it SlideError(stage, message): typed user code (an assembler's tests, a
    # provider wrapper) passes the stage's name, which mypy --strict used to refuse.
    hints = typing.get_type_hints(ss.SlideError.__init__)
    assert str in typing.get_args(hints["stage"])
    error = ss.SlideError("tts", "no voice")
    assert error.stage is Stage.TTS
    assert error == ss.SlideError(Stage.TTS, "no voice")
    assert error.to_dict() == {"stage": "tts", "message": "no voice", "provider": None}
    with pytest.raises(ValueError, match="talk"):
        ss.SlideError("talk", "no such stage")
