"""The local-folder image provider: matching by the words in file names."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import slidestream as ss
from slidestream._images import load_local_image
from slidestream.providers.images.local import stem, words
from slidestream.providers.offline import LocalImageProvider

REQUEST = ss.DeckRequest(topic="Deck", project="p")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, colour in [
        ("herd-immunity.png", (200, 40, 40)),
        ("git_branches.jpg", (40, 200, 40)),
        ("mergeConflict.png", (40, 40, 200)),
        ("nested/branch-diagram.png", (90, 90, 90)),
        ("vaccines.webp", (10, 10, 10)),
    ]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), colour).save(path)
    (tmp_path / "branches.txt").write_text("not an image")
    (tmp_path / "broken-branch.png").write_bytes(b"not really a png")
    return tmp_path


def slide(title: str, query: str | None = None, bullets: tuple[str, ...] = ()) -> ss.SlideScript:
    return ss.SlideScript(index=0, title=title, image_query=query, bullets=list(bullets))


def test_stemming_lite() -> None:
    assert stem("Branches") == "branch"
    assert stem("vaccines") == "vaccine"
    assert stem("merging") == "merg" == stem("merged")
    assert stem("class") == "class"
    assert words("mergeConflict_final-v2") == {"merge", "conflict", "v2"}


@pytest.mark.anyio
async def test_matches_by_file_name_words(folder: Path) -> None:
    provider = LocalImageProvider(folder)
    [image] = await provider.find_images(REQUEST, slide("Herd immunity protects"), limit=1)
    assert image.source_url == (folder / "herd-immunity.png").as_uri()
    assert (image.width, image.height, image.mime_type) == (40, 30, "image/png")
    assert image.data == (folder / "herd-immunity.png").read_bytes()
    [jpeg] = await provider.find_images(REQUEST, slide("Merging", "git branch"), limit=1)
    assert jpeg.mime_type == "image/jpeg"
    assert jpeg.source_url.endswith("git_branches.jpg")


@pytest.mark.anyio
async def test_ties_break_by_name_and_broken_files_are_skipped(folder: Path) -> None:
    provider = LocalImageProvider(folder)
    found = await provider.find_images(REQUEST, slide("Branch"), limit=5)
    names = [Path(image.source_url or "").name for image in found]
    assert names == ["git_branches.jpg", "branch-diagram.png"]
    assert provider.match(slide("Branch"), limit=5)[0].name == "broken-branch.png"


@pytest.mark.anyio
async def test_query_outweighs_title_and_no_match_is_empty(folder: Path) -> None:
    provider = LocalImageProvider(folder)
    [image] = await provider.find_images(REQUEST, slide("Herd immunity", "merge conflict"), limit=1)
    assert image.source_url is not None
    assert image.source_url.endswith("mergeConflict.png")
    assert await provider.find_images(REQUEST, slide("Quantum computing"), limit=3) == []
    assert await provider.find_images(REQUEST, slide("Vaccines"), limit=0) == []


def test_missing_folder_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ss.ConfigurationError, match="does not exist"):
        LocalImageProvider(tmp_path / "nope")
    monkeypatch.setenv("SLIDESTREAM_IMAGE_DIR", str(tmp_path))
    assert LocalImageProvider().folder == tmp_path.resolve()


def test_one_loader_reads_and_verifies_local_images(folder: Path) -> None:
    asset = load_local_image(folder / "vaccines.webp", attribution="mine")
    assert (asset.mime_type, asset.width, asset.height) == ("image/webp", 40, 30)
    assert asset.data == (folder / "vaccines.webp").read_bytes()  # kept byte for byte
    assert asset.source_url == (folder / "vaccines.webp").resolve().as_uri()
    assert asset.attribution == "mine"
    with pytest.raises(ValueError, match="not an image"):
        load_local_image(folder / "broken-branch.png")
    with pytest.raises(ValueError, match="too large"):
        load_local_image(folder / "herd-immunity.png", max_pixels=100)
    truncated = folder / "cut.png"
    truncated.write_bytes((folder / "herd-immunity.png").read_bytes()[:60])
    with pytest.raises(ValueError, match="damaged"):
        load_local_image(truncated)
    with pytest.raises(FileNotFoundError):
        load_local_image(folder / "missing.png")


def test_a_huge_file_named_like_an_image_is_refused_without_reading_it_whole(
    tmp_path: Path,
) -> None:
    import tracemalloc

    not_image, png_head = tmp_path / "zeros.png", tmp_path / "long.png"
    with not_image.open("wb") as handle:
        handle.truncate(500_000_000)  # sparse: nothing on disk
    with png_head.open("wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(500_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"not an image \(500000000 bytes starting"):
            load_local_image(not_image)
        with pytest.raises(ValueError, match=r"too large a file .* at most 10 megapixels"):
            load_local_image(png_head, max_pixels=10_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


def test_words_in_any_script_are_whole_words() -> None:
    assert words("Zürich-lakes") == {"zürich", "lake"}
    assert words("cafe\u0301_menu") == words("café menu") == {"café", "menu"}  # macOS names: NFD
    assert words("вакцина и иммунитет") >= {"вакцина", "иммунитет"}
    assert words("Ελλάδα") == {"ελλάδα"}
    assert words("टीकाकरण कैसे") == {"टीकाकरण", "कैसे"}  # vowel signs stay in the word


@pytest.mark.anyio
async def test_file_names_outside_ascii_match_slides_in_their_language(tmp_path: Path) -> None:
    for name in ["Zürich.png", "cafe\u0301.png", "вакцина.png"]:
        Image.new("RGB", (40, 30), (1, 2, 3)).save(tmp_path / name)
    provider = LocalImageProvider(tmp_path)
    [zurich] = await provider.find_images(REQUEST, slide("Zürich at night"), limit=1)
    assert zurich.source_url.endswith("Z%C3%BCrich.png")
    [cafe] = await provider.find_images(REQUEST, slide("Le café"), limit=1)
    assert "caf" in cafe.source_url
    [vaccine] = await provider.find_images(REQUEST, slide("Как работает вакцина"), limit=1)
    assert vaccine.source_url.endswith("%D0%B0.png")
    assert await provider.find_images(REQUEST, slide("Rich people"), limit=1) == []
