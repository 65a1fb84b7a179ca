"""Atomic writes and project folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from slidestream import ConfigurationError, InvalidInputError, OutputError
from slidestream._files import (
    atomic_write_bytes,
    atomic_writer,
    expand_home,
    resolve_project_dir,
    slugify,
    temporary_sibling,
)
from slidestream.providers.images.local import LocalImageProvider
from slidestream.providers.script.markdown import MarkdownScriptProvider, load_outline


def test_atomic_write_replaces_and_respects_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(temporary_sibling(target).stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_slugify() -> None:
    assert slugify("Quantum computing!") == "quantum-computing"
    assert slugify("日本語") == "deck"
    assert len(slugify("x" * 500)) <= 60


def test_explicit_projects_stay_inside_the_output_folder(tmp_path: Path) -> None:
    assert resolve_project_dir(tmp_path, "t", "deck") == (tmp_path / "deck").resolve()
    with pytest.raises(InvalidInputError, match="path separator"):
        resolve_project_dir(tmp_path, "t", "a/../../b")


def test_a_home_folder_is_expanded_and_an_unknown_user_left_as_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert expand_home("~/decks/a.md") == tmp_path / "decks" / "a.md"
    assert expand_home("~no-such-user-here/a.png") == Path("~no-such-user-here/a.png")
    assert expand_home(Path("plain/a.png")) == Path("plain/a.png")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_an_output_folder_that_is_a_loop_of_links_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for project in (None, "deck"):
        with pytest.raises(OutputError, match="loop of symbolic links"):
            resolve_project_dir(tmp_path / "a", "A topic", project)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_an_outline_or_image_folder_that_is_a_loop_of_links_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(InvalidInputError, match="Cannot read"):
        load_outline(tmp_path / "a")
    with pytest.raises(InvalidInputError, match="Cannot read"):
        MarkdownScriptProvider(tmp_path / "a")
    with pytest.raises(ConfigurationError, match="does not exist"):
        LocalImageProvider(tmp_path / "a")
