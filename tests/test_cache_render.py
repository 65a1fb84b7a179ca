"""Deck pieces from the cache: what an edited deck draws and encodes again, and what it reuses."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from PIL import Image
from pptx import Presentation

import slidestream as ss
from slidestream._fonts import faces
from slidestream._types import CacheKind
from slidestream.providers.script.markdown import MarkdownScriptProvider
from slidestream.render import _deck
from slidestream.render._audio import SAMPLE_RATE
from slidestream.render._libreoffice import LibreOffice, find_soffice
from slidestream.render._pieces import pptx_digest
from slidestream.testing import CallRecorder, FakeImageProvider, FakeTTSProvider

from .media import decoded_seconds, parse_subtitles, stream_end

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

NARRATIONS = [
    "The moon pulls the sea towards it.",
    "Twice a day the water comes in again.",
    "Spring tides come with full moon.",
]
OPTIONS = ss.RenderOptions(pdf=False, page_renderer="pillow")


class Work:
    """Counts the frames the assembler draws and the segments it encodes, by slide number."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.frames: Counter[int] = Counter()
        self.segments: Counter[int] = Counter()
        draw, encode = _deck.render_frame, _deck.encode_still_segment

        def counted_frame(slide: ss.SlideResult, **kwargs: Any) -> Path:
            self.frames[slide.index] += 1
            return draw(slide, **kwargs)

        async def counted_segment(frame: Path, out: Path, duration_s: float, **kw: Any) -> Path:
            self.segments[int(out.stem.split("-")[1]) - 1] += 1
            return await encode(frame, out, duration_s, **kw)

        monkeypatch.setattr(_deck, "render_frame", counted_frame)
        monkeypatch.setattr(_deck, "encode_still_segment", counted_segment)

    def reset(self) -> None:
        self.frames.clear()
        self.segments.clear()


def write_deck(path: Path, narrations: Sequence[str], images: Sequence[str] = ()) -> Path:
    parts = ["---\ntitle: Tides\n---\n# Tides\n"]
    for number, narration in enumerate(narrations):
        picture = f"\n![a picture]({images[number]})\n" if images else ""
        parts.append(f"## Part {number + 1}\n\n- A first point\n{picture}\n{narration}\n")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


async def make(tmp_path: Path, deck: Path, recorder: CallRecorder, **options: Any) -> ss.DeckResult:
    pipeline = ss.StreamingPipeline(
        script_provider=MarkdownScriptProvider(deck),
        image_provider=FakeImageProvider(size=(64, 36), recorder=recorder, cacheable=True),
        tts_provider=FakeTTSProvider(recorder=recorder, cacheable=True, words_per_second=4),
        output_dir=tmp_path / "out",
        render_options=OPTIONS,
        cache_dir=tmp_path / "cache",
    )
    return await pipeline.run("Tides", project="tides", **options)


def tts_calls(recorder: CallRecorder) -> list[int]:
    return sorted(call.index for call in recorder.of("tts"))


def reused(deck: ss.DeckResult, kind: CacheKind) -> list[bool]:
    return [kind.timing_key in slide.timings for slide in deck.slides]


def check_files(deck: ss.DeckResult, narrations: Sequence[str]) -> None:
    """The deck files are whole and agree with the slides' narration."""
    pieces = sum(
        max(round((s.duration_s + (OPTIONS.pause_s if s.index < 2 else 0)) * SAMPLE_RATE), 0)
        for s in deck.slides
    )
    assert deck.video_path is not None and deck.audio_path is not None
    assert stream_end(deck.video_path, "v") == pytest.approx(pieces / SAMPLE_RATE, abs=0.05)
    assert stream_end(deck.video_path, "a") == pytest.approx(pieces / SAMPLE_RATE, abs=0.1)
    assert decoded_seconds(deck.audio_path) == pytest.approx(pieces / SAMPLE_RATE, abs=0.1)
    assert deck.subtitles_path is not None
    cues = parse_subtitles(deck.subtitles_path.read_text(encoding="utf-8"))
    spoken = " ".join(cue.text for cue in cues).replace("\n", " ")
    for narration in narrations:
        assert narration.split()[-1] in spoken
    assert deck.pptx_path is not None
    notes = [
        slide.notes_slide.notes_text_frame.text
        for slide in Presentation(str(deck.pptx_path)).slides
        if slide.has_notes_slide
    ]
    assert all(any(n in note for note in notes) for n in narrations)


async def test_an_edited_narration_speaks_and_encodes_that_slide_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = Work(monkeypatch)
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS)
    first = await make(tmp_path, deck_file, CallRecorder())
    assert work.frames == Counter({0: 1, 1: 1, 2: 1})
    assert work.segments == Counter({0: 1, 1: 1, 2: 1})
    assert not any(reused(first, CacheKind.SEGMENT))
    check_files(first, NARRATIONS)

    work.reset()
    recorder = CallRecorder()
    again = await make(tmp_path, deck_file, recorder)
    assert recorder.calls == [] and not work.frames and not work.segments
    for kind in (CacheKind.FRAME, CacheKind.SEGMENT, CacheKind.PIECE, CacheKind.TTS):
        assert reused(again, kind) == [True, True, True]
    # The PPTX's clips are cut from the narration track, which is taken whole from the cache.
    assert "video frames 3/3, video segments 3/3, levelled audio pieces 3/3" in again.report()
    assert "cached_track" in again.timings, "the narration track is not encoded again"
    check_files(again, NARRATIONS)

    edited = [NARRATIONS[0], "Twice a day the water comes in, and then it goes out.", NARRATIONS[2]]
    write_deck(deck_file, edited)
    work.reset()
    recorder = CallRecorder()
    deck = await make(tmp_path, deck_file, recorder)
    assert tts_calls(recorder) == [1] and recorder.of("images") == []
    assert work.segments == Counter({1: 1})
    # The narration is not drawn on the frame, so the edited slide's frame is reused too.
    assert not work.frames and reused(deck, CacheKind.FRAME) == [True, True, True]
    assert reused(deck, CacheKind.SEGMENT) == [True, False, True]
    assert reused(deck, CacheKind.PIECE) == [True, False, True]
    assert deck.slides[1].duration_s > again.slides[1].duration_s
    assert "cached_track" not in deck.timings
    check_files(deck, edited)
    manifest = json.loads((tmp_path / "out" / "tides" / "slidestream.json").read_text())
    assert manifest["cache"]["reused"]["segment"] == 2
    assert manifest["cache"]["problems"] == []


async def test_a_new_picture_redraws_one_frame_and_a_new_voice_draws_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, colour in (("a.png", "red"), ("b.png", "blue"), ("c.png", "green")):
        Image.new("RGB", (80, 60), colour).save(tmp_path / name)
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS, images=["a.png", "b.png", "b.png"])
    await make(tmp_path, deck_file, CallRecorder())
    work = Work(monkeypatch)

    write_deck(deck_file, NARRATIONS, images=["a.png", "c.png", "b.png"])
    recorder = CallRecorder()
    deck = await make(tmp_path, deck_file, recorder)
    assert recorder.calls == [], "no narration is spoken again"
    assert work.frames == Counter({1: 1}) and work.segments == Counter({1: 1})
    assert reused(deck, CacheKind.PIECE) == [True, True, True]
    check_files(deck, NARRATIONS)

    work.reset()
    recorder = CallRecorder()
    deck = await make(tmp_path, deck_file, recorder, voice="another")
    assert tts_calls(recorder) == [0, 1, 2]
    assert not work.frames and reused(deck, CacheKind.FRAME) == [True, True, True]
    # The test voice speaks the same samples, so pieces and segments are reused as well.
    assert not work.segments
    check_files(deck, NARRATIONS)


def _blobs(cache: Path, kind: CacheKind) -> list[Path]:
    return sorted(p for p in (cache / "v1" / kind.value).glob("*/*") if p.suffix != ".json")


async def test_damaged_render_pieces_are_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS)
    await make(tmp_path, deck_file, CallRecorder())
    cache = tmp_path / "cache"
    segment, frame, piece = (
        _blobs(cache, kind)[0] for kind in (CacheKind.SEGMENT, CacheKind.FRAME, CacheKind.PIECE)
    )
    segment.write_bytes(segment.read_bytes()[:200])  # truncated, as by a power cut
    frame.write_bytes(b"\x89PNG not a picture")
    piece.unlink()
    work = Work(monkeypatch)
    deck = await make(tmp_path, deck_file, CallRecorder())
    assert sum(work.frames.values()) == 1
    # The remade frame is the same picture, so only the damaged segment is encoded again.
    assert sum(work.segments.values()) == 1
    assert reused(deck, CacheKind.PIECE).count(False) == 1
    check_files(deck, NARRATIONS)
    manifest = json.loads((tmp_path / "out" / "tides" / "slidestream.json").read_text())
    problems = " ".join(manifest["cache"]["problems"])
    assert "segment entry" in problems and "frame entry" in problems
    assert "piece entry" in problems

    work.reset()
    again = await make(tmp_path, deck_file, CallRecorder())
    assert not work.frames and not work.segments, "the remade pieces were kept"
    assert all(reused(again, CacheKind.SEGMENT))


async def test_pieces_of_another_render_version_are_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS)
    await make(tmp_path, deck_file, CallRecorder())
    monkeypatch.setattr("slidestream.render._pieces.render_version", lambda: "another")
    work = Work(monkeypatch)
    deck = await make(tmp_path, deck_file, CallRecorder())
    assert sum(work.frames.values()) == 3 and sum(work.segments.values()) == 3
    assert not any(reused(deck, CacheKind.PIECE)) and all(reused(deck, CacheKind.TTS))


async def test_a_newly_installed_font_redraws_the_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames are drawn with the fonts installed: one that was missing may replace boxes."""
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS)
    await make(tmp_path, deck_file, CallRecorder())
    installed = faces.font_files()
    added = Path("/usr/share/fonts/truetype/new/NotoSansCJK-Regular.ttc")
    monkeypatch.setattr(faces, "font_files", lambda: (*installed, added))
    work = Work(monkeypatch)
    recorder = CallRecorder()
    deck = await make(tmp_path, deck_file, recorder)
    assert recorder.calls == [], "nothing is spoken or found again"
    assert work.frames == Counter({0: 1, 1: 1, 2: 1})
    assert not any(reused(deck, CacheKind.FRAME))


async def test_without_a_cache_the_assembler_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS)
    work = Work(monkeypatch)
    for _ in range(2):
        pipeline = ss.StreamingPipeline(
            script_provider=MarkdownScriptProvider(deck_file),
            tts_provider=FakeTTSProvider(cacheable=True, words_per_second=4),
            output_dir=tmp_path / "out",
            render_options=OPTIONS,
            cache_dir=None,
        )
        deck = await pipeline.run("Tides", project="tides")
        assert not any(key.startswith("cached_") for s in deck.slides for key in s.timings)
    assert sum(work.frames.values()) == 6 and sum(work.segments.values()) == 6


@pytest.fixture
def printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """A copy of every PPTX LibreOffice is asked to print, in order."""
    copies: list[Path] = []
    pdf = LibreOffice.pdf

    async def kept(office: LibreOffice, pptx: Path, work_dir: Path, **options: bool) -> Path:
        copy = tmp_path / f"printed-{len(copies)}.pptx"
        copy.write_bytes(pptx.read_bytes())
        copies.append(copy)
        return await pdf(office, pptx, work_dir, **options)

    monkeypatch.setattr(LibreOffice, "pdf", kept)
    return copies


@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice is not installed")
async def test_the_same_deck_again_prints_no_pdf(tmp_path: Path, printed: list[Path]) -> None:
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS[:2])
    options = ss.RenderOptions(
        audio=False, video=False, subtitles=False, page_renderer="libreoffice"
    )
    decks = []
    for narrations in (NARRATIONS[:2], NARRATIONS[:2], ["Another line.", NARRATIONS[1]]):
        write_deck(deck_file, narrations)
        pipeline = ss.StreamingPipeline(
            script_provider=MarkdownScriptProvider(deck_file),
            tts_provider=FakeTTSProvider(cacheable=True, words_per_second=4),
            output_dir=tmp_path / "out",
            render_options=options,
            cache_dir=tmp_path / "cache",
        )
        decks.append(await pipeline.run("Tides", project="tides"))
    # The edited narration is in the PPTX's notes, so that PDF is printed again.
    assert len(printed) == 2
    assert ["cached_page" in deck.timings for deck in decks] == [False, True, False]
    assert decks[0].files["pdf"].read_bytes()[:5] == b"%PDF-"


@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice is not installed")
async def test_a_print_waiting_for_idle_cores_is_not_counted_as_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A print at the lowest priority can wait long for the cores; the cache reports the
    # CPU time it took, not the wait, as the work a second run does not redo.
    waited_s = 4.0
    pdf = LibreOffice.pdf

    async def starved(office: LibreOffice, pptx: Path, work_dir: Path, **options: bool) -> Path:
        if options.get("low_priority"):
            await anyio.sleep(waited_s)
        return await pdf(office, pptx, work_dir, **options)

    monkeypatch.setattr(LibreOffice, "pdf", starved)
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS[:2])
    options = ss.RenderOptions(
        audio=False, video=False, subtitles=False, page_renderer="libreoffice"
    )
    decks = []
    for _ in range(2):
        pipeline = ss.StreamingPipeline(
            script_provider=MarkdownScriptProvider(deck_file),
            tts_provider=FakeTTSProvider(cacheable=True),
            output_dir=tmp_path / "out",
            render_options=options,
            cache_dir=tmp_path / "cache",
        )
        decks.append(await pipeline.run("Tides", project="tides"))
    assert decks[0].timings["total"] > waited_s  # the first run did wait
    assert 0 < decks[1].timings["cached_page"] < waited_s


@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice is not installed")
async def test_a_pdf_printed_while_narration_goes_on_is_found_again(
    tmp_path: Path, printed: list[Path]
) -> None:
    # The voice is done before the pictures, so each slide already has its narration when
    # its pages are known: the copy LibreOffice prints must still hold no clip, or it would
    # differ from run to run (slides arrive in any order) and never be found in the cache.
    deck_file = write_deck(tmp_path / "deck.md", NARRATIONS[:3])
    options = ss.RenderOptions(video=False, subtitles=False, page_renderer="libreoffice")
    decks = []
    for _ in range(2):
        pipeline = ss.StreamingPipeline(
            script_provider=MarkdownScriptProvider(deck_file),
            image_provider=FakeImageProvider(
                latency=lambda index: 0.2 + 0.1 * index, size=(64, 36), cacheable=True
            ),
            tts_provider=FakeTTSProvider(cacheable=True),
            output_dir=tmp_path / "out",
            render_options=options,
            cache_dir=tmp_path / "cache",
        )
        decks.append(await pipeline.run("Tides", project="tides"))
    assert len(printed) == 1
    assert ["cached_page" in deck.timings for deck in decks] == [False, True]
    names = [info.filename for page in printed for info in _zip_entries(page)]
    assert not any(name.startswith("ppt/media/media") for name in names)  # no clip printed
    final = [info.filename for info in _zip_entries(decks[0].files["pptx"])]
    assert any(name.startswith("ppt/media/media") for name in final)  # the PPTX has them


def _zip_entries(path: Path) -> list[Any]:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return archive.infolist()


def _deck_of(titles: Sequence[str], order: Sequence[int], path: Path) -> Path:
    """A PPTX with one slide per title, added in ``order`` and then put in title order."""
    from pptx import Presentation as New

    prs = New()
    ids = {}
    for number in order:
        slide = prs.slides.add_slide(prs.slide_layouts[5])
        assert slide.shapes.title is not None
        slide.shapes.title.text = titles[number]
        ids[number] = slide.slide_id
    listing = prs.slides._sldIdLst
    elements = {int(element.id): element for element in listing}
    for number in sorted(ids):
        element = elements[ids[number]]
        listing.remove(element)
        listing.append(element)
    prs.save(str(path))
    return path


def test_a_pptx_digest_ignores_the_order_slides_were_added_in(tmp_path: Path) -> None:
    titles = ["One", "Two", "Three"]
    first = pptx_digest(_deck_of(titles, [0, 1, 2], tmp_path / "a.pptx"))
    assert pptx_digest(_deck_of(titles, [2, 0, 1], tmp_path / "b.pptx")) == first
    assert pptx_digest(_deck_of(["One", "Two", "Four"], [0, 1, 2], tmp_path / "c.pptx")) != first
    assert pptx_digest(_deck_of(["Two", "One", "Three"], [0, 1, 2], tmp_path / "d.pptx")) != first


@pytest.mark.parametrize("cached", [True, False])
async def test_an_assembler_is_given_the_runs_cache(tmp_path: Path, cached: bool) -> None:
    seen: list[ss.render.AssemblyContext] = []

    def factory(context: ss.render.AssemblyContext) -> ss.render.NullAssembler:
        seen.append(context)
        return ss.render.NullAssembler(context)

    pipeline = ss.StreamingPipeline(
        script_provider=MarkdownScriptProvider(write_deck(tmp_path / "deck.md", NARRATIONS)),
        tts_provider=FakeTTSProvider(cacheable=True),
        output_dir=tmp_path / "out",
        assembler=factory,
        cache_dir=tmp_path / "cache" if cached else None,
    )
    await pipeline.run("Tides")
    (context,) = seen
    assert (context.cache is not None) is cached
    if context.cache is not None:
        assert context.cache.store.root == tmp_path / "cache"
