"""``slidestream.batch`` in one process: inputs, folder names, shared limits, failures, files."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import anyio
import pytest

import slidestream as ss
from slidestream import PipelineError
from slidestream._batch._folders import STAGING_DIR
from slidestream.testing import (
    CallRecorder,
    FakeImageProvider,
    FakeStreamingScriptProvider,
    FakeTTSProvider,
)

pytestmark = pytest.mark.anyio

NO_FILES = ss.RenderOptions(pptx=False, audio=False, subtitles=False, video=False)
OUTLINE = """# {title}

## First idea
- one point
The narrator explains the first idea.

## Second idea
- another point
"""


def script(slides: int = 3, latency: float = 0.0) -> functools.partial[object]:
    return functools.partial(FakeStreamingScriptProvider, slides=slides, script_latency=latency)


def write_outline(folder: Path, name: str, title: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(OUTLINE.format(title=title), encoding="utf-8")
    return path


async def test_each_topic_becomes_a_complete_deck_in_its_own_folder(tmp_path: Path) -> None:
    events: list[ss.BatchEvent] = []
    results = await ss.batch(
        ["Tides", "Volcanoes", "Bees"],
        script_provider=script(),
        image_provider="test-images",
        tts_provider="test-tts",
        output_dir=tmp_path,
        render_options=ss.RenderOptions(video=False, pdf=False),
        on_event=events.append,
    )
    assert [r.project for r in results] == ["tides", "volcanoes", "bees"]
    assert [r.input for r in results] == ["Tides", "Volcanoes", "Bees"]
    for result in results:
        assert result.ok and result.error is None and result.worker is None
        assert result.deck is not None
        folder = tmp_path / result.project
        assert result.deck.project_dir == folder
        assert result.deck.pptx_path == folder / f"{result.project}.pptx"
        assert result.deck.pptx_path.read_bytes()[:2] == b"PK"
        assert sorted(result.deck.files) == ["mp3", "pptx", "srt", "vtt"]
        assert all(path.is_file() for path in result.deck.files.values())
        assert len(result.deck.slides) == 3
        # Images keep their saved path and drop their bytes.
        image = result.deck.slides[0].images[0]
        assert image.data == b"" and image.path is not None and image.path.is_file()
        manifest = json.loads((folder / "slidestream.json").read_text())
        assert manifest["status"] == "complete"
        assert manifest["deck"]["pptx_path"] == str(folder / f"{result.project}.pptx")
    assert not (tmp_path / STAGING_DIR).exists()
    kinds = {(e.project, e.kind) for e in events}
    for project in ("tides", "volcanoes", "bees"):
        assert {
            (project, ss.BatchEventKind.STARTED),
            (project, ss.BatchEventKind.FINISHED),
        } <= kinds
    slides_done = [e for e in events if e.kind == "progress" and e.data["kind"] == "slide"]
    assert len(slides_done) == 9
    assert all(isinstance(e.data["index"], int) for e in slides_done)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_one_tts_limit_holds_across_every_deck(tmp_path: Path) -> None:
    recorder = CallRecorder()
    results = await ss.batch(
        [f"Topic {n}" for n in range(4)],
        script_provider=script(latency=0.01),
        tts_provider=FakeTTSProvider(latency=0.2, recorder=recorder),
        max_concurrent_tts=2,
        output_dir=tmp_path,
        render_options=NO_FILES,
    )
    assert all(r.ok for r in results)
    # Four decks, each allowed two TTS calls by its own pipeline: the batch holds two in all.
    assert len(recorder.of("tts")) == 12
    assert recorder.max_in_flight["tts"] == 2


async def test_decks_at_once_bounds_the_decks_in_progress(tmp_path: Path) -> None:
    running = peak = 0

    def watch(event: ss.BatchEvent) -> None:
        nonlocal running, peak
        if event.kind is ss.BatchEventKind.STARTED:
            running += 1
            peak = max(peak, running)
        elif event.result is not None:
            running -= 1

    results = await ss.batch(
        [f"Topic {n}" for n in range(5)],
        script_provider=script(slides=2, latency=0.02),
        tts_provider="test-tts",
        decks_at_once=2,
        output_dir=tmp_path,
        render_options=NO_FILES,
        on_event=watch,
    )
    assert all(r.ok for r in results)
    assert peak == 2


async def test_a_folder_of_outlines_and_a_topic_file_expand_in_order(tmp_path: Path) -> None:
    outlines = tmp_path / "course"
    write_outline(outlines, "02-waves.md", "Waves")
    write_outline(outlines, "01-light.md", "Light")
    (outlines / "notes.txt").write_text("not an outline")
    topics = tmp_path / "topics.txt"
    topics.write_text("# the second half\nMagnets\n\n  Lenses  \n", encoding="utf-8")
    results = await ss.batch(
        [outlines, topics],
        script_provider=script(slides=2),
        tts_provider="test-tts",
        output_dir=tmp_path / "out",
        render_options=NO_FILES,
    )
    assert [r.project for r in results] == ["01-light", "02-waves", "magnets", "lenses"]
    assert results[0].input == outlines / "01-light.md"
    assert results[2].input == "Magnets"
    light = results[0].deck
    assert light is not None
    assert light.title == "Light" and light.request.topic == "Light"
    assert [s.script.title for s in light.slides] == ["First idea", "Second idea"]
    assert light.slides[0].script.narration == "The narrator explains the first idea."


async def test_folder_names_are_unique_in_a_batch_and_a_rerun_replaces_its_decks(
    tmp_path: Path,
) -> None:
    other = tmp_path / "tides"
    other.mkdir()
    (other / "slidestream.json").write_text(json.dumps({"request": {"topic": "Tidal power"}}))
    options = {
        "script_provider": script(slides=1),
        "tts_provider": "test-tts",
        "output_dir": tmp_path,
        "render_options": NO_FILES,
    }
    first = await ss.batch(["Tides", "Tides", "Bees"], **options)
    assert [r.project for r in first] == ["tides-2", "tides-3", "bees"]
    assert (other / "slidestream.json").is_file()  # another deck's folder is left alone
    marker = tmp_path / "bees" / "old-file"
    marker.write_text("from the first run")
    again = await ss.batch(["Bees"], **options)
    assert again[0].project == "bees"
    assert not marker.exists()  # the folder holds the new deck only
    assert (tmp_path / "bees" / "slidestream.json").is_file()
    assert not (tmp_path / STAGING_DIR).exists()


class _BrokenOutlines(FakeStreamingScriptProvider):
    """Fails the outline of topics that start with "Broken"."""

    async def outline(self, request: ss.DeckRequest) -> ss.Outline:
        if request.topic.startswith("Broken"):
            raise PipelineError("the outline service refused this topic", stage="outline")
        return await super().outline(request)


async def test_a_failing_deck_is_reported_and_the_batch_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_outline(folder, "good.md", "Good")
    (folder / "bad.md").write_text("# Title\n## A slide\n![x](missing.png)\n", encoding="utf-8")
    events: list[ss.BatchEvent] = []
    results = await ss.batch(
        [folder, "Broken topic", "Fine topic"],
        script_provider=functools.partial(_BrokenOutlines, slides=2),
        tts_provider="test-tts",
        output_dir=tmp_path / "out",
        render_options=NO_FILES,
        on_event=events.append,
    )
    by_project = {r.project: r for r in results}
    assert set(by_project) == {"bad", "good", "broken-topic", "fine-topic"}
    assert not by_project["bad"].ok and "missing.png" in (by_project["bad"].error or "")
    assert not by_project["broken-topic"].ok
    assert "refused this topic" in (by_project["broken-topic"].error or "")
    assert by_project["broken-topic"].deck is None
    assert by_project["good"].ok and by_project["fine-topic"].ok
    failed = {e.project for e in events if e.kind is ss.BatchEventKind.FAILED}
    assert failed == {"bad", "broken-topic"}
    # A failed deck leaves no folder behind, half-written or otherwise.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fine-topic", "good"]


async def test_a_configuration_error_stops_the_batch_before_any_deck(tmp_path: Path) -> None:
    with pytest.raises(ss.ProviderNotFoundError, match="test-ttz"):
        await ss.batch(["Tides"], script_provider=script(), tts_provider="test-ttz")
    with pytest.raises(ss.ConfigurationError, match="No script provider"):
        await ss.batch(["Tides"], tts_provider="test-tts", output_dir=tmp_path)
    with pytest.raises(ss.InvalidInputError, match="does not exist"):
        await ss.batch([tmp_path / "nowhere.md"], tts_provider="test-tts")
    with pytest.raises(ss.InvalidInputError, match="workers"):
        await ss.batch(["Tides"], script_provider=script(), workers=2, cluster="tcp://x:1")
    assert not any(tmp_path.iterdir())


async def test_a_misconfigured_provider_inside_a_deck_stops_the_batch(tmp_path: Path) -> None:
    def unconfigured() -> FakeTTSProvider:
        raise ss.ConfigurationError("TTS_API_KEY is not set: set it, or choose --tts piper.")

    with pytest.raises(ss.ConfigurationError, match="TTS_API_KEY"):
        await ss.batch(
            ["Tides", "Bees"],
            script_provider=script(),
            tts_provider=unconfigured,
            output_dir=tmp_path,
            render_options=NO_FILES,
        )
    assert list(tmp_path.iterdir()) == []


async def test_cancelling_a_batch_leaves_no_half_written_deck(tmp_path: Path) -> None:
    started = anyio.Event()
    recorder = CallRecorder()

    def on_event(event: ss.BatchEvent) -> None:
        if event.kind is ss.BatchEventKind.PROGRESS and event.data["kind"] == "audio":
            started.set()

    async with anyio.create_task_group() as task_group:

        async def run() -> None:
            await ss.batch(
                ["Slow one", "Slow two"],
                script_provider=script(slides=4),
                image_provider=FakeImageProvider(latency=0.01, size=(64, 36)),
                tts_provider=FakeTTSProvider(
                    latency=lambda i: 0.01 if i == 0 else 30, recorder=recorder
                ),
                output_dir=tmp_path,
                render_options=NO_FILES,
                on_event=on_event,
            )

        task_group.start_soon(run)
        await started.wait()
        task_group.cancel_scope.cancel()
    assert list(tmp_path.iterdir()) == []
    assert all(call.end is not None for call in recorder.calls)


async def test_decks_reuse_the_cache_unless_told_not_to(tmp_path: Path) -> None:
    recorder = CallRecorder()
    options = {
        # One slide a deck: later slides share their narration across topics, and whether one
        # deck then finds the other's clip depends on timing.
        "script_provider": functools.partial(FakeStreamingScriptProvider, slides=1, cacheable=True),
        "tts_provider": FakeTTSProvider(recorder=recorder, cacheable=True),
        "output_dir": tmp_path,
        "render_options": NO_FILES,
    }
    first = await ss.batch(["Tides", "Bees"], **options)
    made = len(recorder.of("tts"))
    again = await ss.batch(["Tides", "Bees"], **options)
    assert made == 2 and len(recorder.of("tts")) == made  # the second batch spoke nothing
    assert all(r.ok for r in first + again)
    await ss.batch(["Tides", "Bees"], **options, cache_dir=None)
    assert len(recorder.of("tts")) == made + 2


async def test_a_batch_runs_under_limits_it_is_given(tmp_path: Path) -> None:
    limits = ss.Limits(tts=2, cpu=2)
    tts = FakeTTSProvider(latency=0.05)
    results = await ss.batch(
        ["Tides", "Bees", "Glaciers"],
        script_provider=script(slides=2),
        tts_provider=tts,
        limits=limits,
        output_dir=tmp_path,
        render_options=NO_FILES,
    )
    assert all(r.ok for r in results)
    figures = limits.statistics(ss.ServiceKey.of(tts))
    assert (figures.calls, figures.cap, figures.in_flight) == (6, 2, 0)
    assert figures.peak_in_flight == 2
    with pytest.raises(ss.InvalidInputError, match="not both"):
        await ss.batch(["Tides"], script_provider=script(), limits=limits, max_concurrent_tts=3)
