"""A batch's folders: a finished deck takes its place whole, archives unpack safely."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

import slidestream as ss
from slidestream._batch._folders import (
    install,
    pack,
    relocate,
    relocate_manifest,
    unpack,
)
from slidestream._batch._inputs import BatchInput, assign_projects, expand_inputs


def make_deck_folder(folder: Path, text: str) -> Path:
    (folder / "audio").mkdir(parents=True)
    (folder / "audio" / "slide-01.wav").write_text(text)
    (folder / "deck.pptx").write_text(text)
    return folder


def test_install_moves_a_deck_in_and_replaces_an_older_one_whole(tmp_path: Path) -> None:
    final = tmp_path / "out" / "deck"
    install(make_deck_folder(tmp_path / "stage" / "a", "first"), final, tmp_path / "trash")
    assert (final / "deck.pptx").read_text() == "first"
    (final / "stale-file").write_text("old")
    install(make_deck_folder(tmp_path / "stage" / "b", "second"), final, tmp_path / "trash")
    assert (final / "deck.pptx").read_text() == "second"
    assert (final / "audio" / "slide-01.wav").read_text() == "second"
    assert not (final / "stale-file").exists()
    assert list((tmp_path / "trash").iterdir()) == []
    assert not (tmp_path / "stage" / "b").exists()


def test_a_packed_deck_unpacks_to_the_same_files(tmp_path: Path) -> None:
    source = make_deck_folder(tmp_path / "made", "narration")
    unpack(pack(source), tmp_path / "copy")
    assert (tmp_path / "copy" / "deck.pptx").read_text() == "narration"
    assert (tmp_path / "copy" / "audio" / "slide-01.wav").read_text() == "narration"


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/escape.txt", "link"])
def test_an_archive_that_leaves_its_folder_or_links_is_refused(tmp_path: Path, name: str) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        member = tarfile.TarInfo(name)
        if name == "link":
            member.type = tarfile.SYMTYPE
            member.linkname = "/etc/passwd"
            archive.addfile(member)
        else:
            member.size = 2
            archive.addfile(member, io.BytesIO(b"hi"))
    with pytest.raises(ss.InvalidInputError, match="unsafe"):
        unpack(out.getvalue(), tmp_path / "deck")
    assert not (tmp_path / "escape.txt").exists()
    assert list((tmp_path / "deck").iterdir()) == []


def test_relocate_moves_every_path_of_a_deck(tmp_path: Path) -> None:
    old, new = tmp_path / "stage" / "deck", tmp_path / "out" / "deck"
    request = ss.DeckRequest(topic="Tides", project="deck")
    slide = ss.SlideResult(
        index=0,
        script=ss.SlideScript(index=0, title="T"),
        audio_path=old / "audio" / "slide-01.wav",
        images=[
            ss.ImageAsset(data=b"x", mime_type="image/png", width=1, height=1, path=old / "i.png")
        ],
    )
    deck = ss.DeckResult(
        request=request,
        title="Tides",
        slides=[slide],
        project_dir=old,
        pptx_path=old / "deck.pptx",
        files={"pptx": old / "deck.pptx"},
        subtitles_path=Path("/elsewhere/kept.srt"),
    )
    moved = relocate(deck, old, new)
    assert moved.project_dir == new and moved.pptx_path == new / "deck.pptx"
    assert moved.files == {"pptx": new / "deck.pptx"}
    assert moved.slides[0].audio_path == new / "audio" / "slide-01.wav"
    assert moved.slides[0].images[0].path == new / "i.png"
    assert moved.subtitles_path == Path("/elsewhere/kept.srt")


def test_relocate_manifest_rewrites_the_paths_under_the_old_folder(tmp_path: Path) -> None:
    old, new = tmp_path / "stage" / "deck", tmp_path / "out" / "deck"
    old.mkdir(parents=True)
    manifest = {
        "status": "complete",
        "deck": {"pptx_path": str(old / "deck.pptx"), "files": {"mp3": str(old / "a.mp3")}},
        "request": {"topic": str(old) + "-not-inside"},
    }
    (old / "slidestream.json").write_text(json.dumps(manifest))
    relocate_manifest(old, old, new)
    moved = json.loads((old / "slidestream.json").read_text())
    assert moved["deck"] == {
        "pptx_path": str(new / "deck.pptx"),
        "files": {"mp3": str(new / "a.mp3")},
    }
    assert moved["request"]["topic"] == str(old) + "-not-inside"


def test_inputs_expand_and_get_unique_folder_names(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("# B\n## s\n")
    (tmp_path / "a.MD").write_text("# A\n## s\n")
    items = expand_inputs([tmp_path, "Quantum computing!", "Quantum computing!"])
    assert [i.base_name() for i in items] == ["a", "b", "quantum-computing", "quantum-computing"]
    names = assign_projects(items, tmp_path / "out", ["A", "B", "Q", "Q"])
    assert names == ["a", "b", "quantum-computing", "quantum-computing-2"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ss.InvalidInputError, match="holds no Markdown"):
        expand_inputs(tmp_path / "empty")
    empty = tmp_path / "topics.txt"
    empty.write_text("# only a comment\n\n")
    with pytest.raises(ss.InvalidInputError, match="no topics"):
        expand_inputs(empty)
    assert expand_inputs("Tides") == [BatchInput(source="Tides")]


def test_a_file_named_like_a_deck_is_left_alone_and_the_deck_takes_the_next_name(
    tmp_path: Path,
) -> None:
    outline = tmp_path / "intro.md"
    outline.write_text("# Intro\n## s\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "intro").write_text("the user's own file")
    names = assign_projects(expand_inputs(outline), out, ["Intro"])
    assert names == ["intro-2"]


def test_a_topic_too_long_to_be_a_file_name_is_a_topic() -> None:
    topic = "x" * 800
    assert expand_inputs(topic) == [BatchInput(source=topic)]


def test_a_folder_gives_no_deck_for_its_hidden_files(tmp_path: Path) -> None:
    for name in ("intro.md", ".draft.md", "._intro.md"):
        (tmp_path / name).write_text("# Intro\n## s\n")
    assert [item.base_name() for item in expand_inputs(tmp_path)] == ["intro"]
