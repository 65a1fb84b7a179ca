"""The cache on the command line: `--cache-dir`, `--no-cache`, `--fresh`, `slidestream cache`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slidestream import cli, providers
from slidestream._cache import CacheStore, usage
from slidestream._types import CacheKind
from slidestream.testing import FakeImageProvider, FakeTTSProvider


@pytest.fixture(autouse=True)
def _cacheable_doubles() -> Iterator[None]:
    """``--images cached-images --tts cached-tts``: test doubles whose answers are cached."""
    doubles = {
        "cached-images": lambda: FakeImageProvider(size=(64, 36), cacheable=True),
        "cached-tts": lambda: FakeTTSProvider(cacheable=True),
    }
    with providers.override(doubles):
        yield


DECK = """\
---
title: Tides
---
# Tides

## The moon pulls

- Gravity lifts the sea

The moon pulls the sea towards it.

## In and out

- Twice a day

The water comes in and goes out again twice every day.
"""


def make(tmp_path: Path, *options: str) -> list[str]:
    deck = tmp_path / "tides.md"
    deck.write_text(DECK, encoding="utf-8")
    argv = ["make", str(deck), "--images", "cached-images", "--tts", "cached-tts", "--no-video"]
    return [*argv, "--out", str(tmp_path / "out"), *options]


def test_a_second_make_says_what_came_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    assert cli.main(make(tmp_path, "--cache-dir", str(cache))) == cli.EXIT_OK
    first = capsys.readouterr().out
    assert "from the cache" not in first
    assert cli.main(make(tmp_path, "--cache-dir", str(cache))) == cli.EXIT_OK
    second = capsys.readouterr().out
    assert "from the cache: images 2/2, narration clips 2/2" in second

    assert cli.main(["cache", "info", "--cache-dir", str(cache)]) == cli.EXIT_OK
    info = capsys.readouterr().out
    assert f"Cache folder: {cache}" in info
    assert "narration clips" in info and "images" in info and "narration tracks" in info

    held = usage(CacheStore(cache)).entries  # answers, and the deck files' pieces
    assert cli.main(["cache", "prune", "--cache-dir", str(cache), "--max-size", "0"]) == 0
    assert f"Removed {held} entries" in capsys.readouterr().out
    assert usage(CacheStore(cache)).entries == 0


def test_no_cache_leaves_the_cache_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "default-cache"
    monkeypatch.setenv("SLIDESTREAM_CACHE_DIR", str(cache))
    for _ in range(2):
        assert cli.main(make(tmp_path, "--no-cache")) == cli.EXIT_OK
        assert "from the cache" not in capsys.readouterr().out
    assert not cache.exists()
    assert cli.main(make(tmp_path)) == cli.EXIT_OK  # the default folder from the environment
    kept = usage(CacheStore(cache))
    assert kept.kinds[CacheKind.IMAGES].entries == 2 and kept.kinds[CacheKind.TTS].entries == 2


def test_fresh_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    assert cli.main(make(tmp_path, "--cache-dir", str(cache))) == cli.EXIT_OK
    assert cli.main(make(tmp_path, "--cache-dir", str(cache), "--fresh")) == cli.EXIT_OK
    assert "from the cache: images 2/2, narration clips 2/2" in capsys.readouterr().out
    held = usage(CacheStore(cache)).entries
    assert cli.main(["cache", "clear", "--cache-dir", str(cache)]) == cli.EXIT_OK
    assert f"Removed {held} entries" in capsys.readouterr().out
    assert usage(CacheStore(cache)).entries == 0


def test_a_bad_size_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["cache", "prune", "--cache-dir", str(tmp_path), "--max-size", "lots"])
    assert code == cli.EXIT_USAGE
    assert "is not a size" in capsys.readouterr().err


def test_a_cache_folder_that_is_a_file_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "cache"
    taken.write_text("not a folder", encoding="utf-8")
    argv = ["make", "Tides", "--script", "test-script", "--images", "none", "--tts", "none"]
    code = cli.main([*argv, "--out", str(tmp_path / "out"), "--cache-dir", str(taken)])
    assert code == 2
    assert "is a file: give a folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cache_commands_on_a_folder_that_cannot_be_used_say_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("not a folder", encoding="utf-8")
    for command in ("info", "prune", "clear"):
        assert cli.main(["cache", command, "--cache-dir", str(taken)]) == cli.EXIT_USAGE
        assert "is a file: give a folder" in capsys.readouterr().err
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert cli.main(["cache", "clear", "--cache-dir", str(loop)]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert f"cannot clear the cache in {loop}" in err.lower() and "this is a bug" not in err
