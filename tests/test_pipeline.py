"""The streaming pipeline's schedule, limits, failures and results, through the test doubles."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import anyio
import pytest

import slidestream as ss
from slidestream.testing import (
    CallRecorder,
    FakeImageProvider,
    FakeScriptProvider,
    FakeStreamingScriptProvider,
    FakeTTSProvider,
)

from .scripted import Timeline, gated_pipeline

pytestmark = pytest.mark.anyio


def make_pipeline(
    tmp_path: Path,
    *,
    recorder: CallRecorder,
    streaming: bool = True,
    sequential: bool = False,
    slides: int = 5,
    tts_fail: tuple[int, ...] = (),
    **limits: int,
) -> ss.StreamingPipeline:
    script_class = FakeStreamingScriptProvider if streaming else FakeScriptProvider
    pipeline_class = ss.SequentialPipeline if sequential else ss.StreamingPipeline
    return pipeline_class(
        script_provider=script_class(slides=slides, recorder=recorder),
        image_provider=FakeImageProvider(size=(64, 36), recorder=recorder),
        tts_provider=FakeTTSProvider(fail_slides=tts_fail, recorder=recorder),
        output_dir=tmp_path,
        assembler=ss.render.NullAssembler,  # scheduling tests: deck files are tested elsewhere
        **limits,
    )


@pytest.mark.parametrize("streaming", [True, False], ids=["stream_slides", "write_slide"])
async def test_slide_one_is_spoken_before_the_last_script_is_written(
    tmp_path: Path, streaming: bool
) -> None:
    # The last script is held until slide 1's images and narration are done: a schedule
    # that waited for every script first would never finish.
    timeline = Timeline()
    timeline.hold("script", 5)
    pipeline = gated_pipeline(timeline, tmp_path, slides=6, streaming=streaming)

    async def release_the_last_script() -> None:
        await timeline.done("images", 0).wait()
        await timeline.done("tts", 0).wait()
        timeline.release("script", 5)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(release_the_last_script)
            deck = await pipeline.run("Tides")
    assert all(slide.ok for slide in deck.slides)
    assert timeline.ended.index(("tts", 0)) < timeline.ended.index(("script", 5))


async def _until_in_flight(timeline: Timeline, stage: str, count: int) -> None:
    await timeline.reached(stage, count).wait()
    # Every task that could start another call of the stage has had the chance to.
    await anyio.wait_all_tasks_blocked()


@pytest.mark.parametrize(("scripts", "images", "tts"), [(1, 1, 1), (3, 3, 3), (5, 5, 5), (2, 5, 1)])
async def test_each_limit_is_reached_and_never_exceeded(
    tmp_path: Path, scripts: int, images: int, tts: int
) -> None:
    timeline = Timeline()
    for stage in ("script", "images", "tts"):
        timeline.hold(stage)
    pipeline = gated_pipeline(
        timeline,
        tmp_path,
        slides=10,
        streaming=False,
        max_concurrent_scripts=scripts,
        max_concurrent_images=images,
        max_concurrent_tts=tts,
    )
    recorder = timeline.recorder
    with anyio.fail_after(30):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(pipeline.run, "Limits")
            await _until_in_flight(timeline, "script", scripts)
            assert recorder.in_flight["script"] == scripts
            timeline.release("script")
            await _until_in_flight(timeline, "images", images)
            await _until_in_flight(timeline, "tts", tts)
            assert recorder.in_flight["images"] == images and recorder.in_flight["tts"] == tts
            timeline.release("images")
            timeline.release("tts")
    assert recorder.max_in_flight == {"outline": 1, "script": scripts, "images": images, "tts": tts}
    for stage in ("script", "images", "tts"):
        assert len(recorder.of(stage)) == 10


async def test_a_failing_tts_call_marks_only_its_slide(tmp_path: Path) -> None:
    recorder = CallRecorder()
    pipeline = make_pipeline(tmp_path, recorder=recorder, slides=5, tts_fail=(2,))
    deck = await pipeline.run("Failures")
    assert [slide.index for slide in deck.slides] == [0, 1, 2, 3, 4]
    failed = deck.slides[2]
    assert [(e.stage, e.provider) for e in failed.errors] == [("tts", "test-tts")]
    assert "injected failure" in failed.errors[0].message
    assert failed.audio_path is None and failed.images  # the image still arrived
    for slide in deck.slides[:2] + deck.slides[3:]:
        assert slide.ok and slide.audio_path is not None and slide.audio_path.is_file()


async def test_events_arrive_in_order_and_slides_as_they_complete(tmp_path: Path) -> None:
    # Slide 1's narration is held until the consumer has seen every other slide complete.
    timeline = Timeline()
    timeline.hold("tts", 0)
    pipeline = gated_pipeline(timeline, tmp_path, slides=4, assembler=None)
    kinds: list[str] = []
    completed: list[int] = []
    with anyio.fail_after(30):
        async with pipeline.stream("Order") as events:
            async for event in events:
                kinds.append(event.kind)
                if isinstance(event, ss.SlideResult):
                    completed.append(event.index)
                    if sorted(completed) == [1, 2, 3]:
                        timeline.release("tts", 0)
    assert kinds[0] == "outline" and kinds[-1] == "deck"
    assert kinds.count("slide") == 4 and kinds.count("script") == 4
    assert completed[-1] == 0 and sorted(completed) == [0, 1, 2, 3]
    assert events.deck is not None
    assert [s.index for s in events.deck.slides] == [0, 1, 2, 3]


async def test_streaming_and_sequential_give_the_same_slides(tmp_path: Path) -> None:
    streamed = await make_pipeline(tmp_path / "a", recorder=CallRecorder()).run(
        "Same content", project="deck"
    )
    sequential = await make_pipeline(tmp_path / "b", recorder=CallRecorder(), sequential=True).run(
        "Same content", project="deck"
    )
    assert sequential.mode == "sequential" and streamed.mode == "streaming"

    def content(deck: ss.DeckResult) -> list[object]:
        return [
            (s.index, s.script, s.duration_s, s.words, [i.data for i in s.images], s.errors)
            for s in deck.slides
        ]

    assert content(streamed) == content(sequential)
    for a, b in zip(streamed.slides, sequential.slides, strict=True):
        assert a.audio_path and b.audio_path
        assert a.audio_path.read_bytes() == b.audio_path.read_bytes()


async def test_sequential_baseline_runs_one_stage_after_another(tmp_path: Path) -> None:
    recorder = CallRecorder()
    pipeline = make_pipeline(
        tmp_path, recorder=recorder, sequential=True, streaming=False, slides=4
    )
    await pipeline.run("Baseline")
    stages = [call.stage for call in recorder.calls]
    assert stages == ["outline"] + ["script"] * 4 + ["images"] * 4 + ["tts"] * 4
    assert all(recorder.max_in_flight[s] == 1 for s in ("script", "images", "tts"))


@pytest.mark.parametrize("project", ["", "..", ".", "a/b", "../escape", "/abs", "a\\b", " pad"])
async def test_a_bad_project_name_is_refused_before_anything_is_written(
    tmp_path: Path, project: str
) -> None:
    recorder = CallRecorder()
    out = tmp_path / "out"
    pipeline = make_pipeline(out, recorder=recorder)
    with pytest.raises(ss.InvalidInputError, match=r"project name|outside"):
        pipeline.stream("Topic", project=project)
    with pytest.raises(ss.InvalidInputError):
        await pipeline.run("Topic", project=project)
    assert not out.exists()
    assert recorder.calls == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []


async def test_outline_failure_ends_the_run_with_a_clear_error(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider=FakeScriptProvider(fail_outline=True), output_dir=tmp_path
    )
    with pytest.raises(ss.PipelineError, match=r"outline failed \(test-script\)") as caught:
        await pipeline.run("Broken")
    assert caught.value.stage == "outline" and caught.value.provider == "test-script"
    manifest = json.loads((tmp_path / "broken" / "slidestream.json").read_text())
    assert manifest["status"] == "failed"


async def test_every_slide_failing_ends_the_run_and_keeps_what_was_made(tmp_path: Path) -> None:
    recorder = CallRecorder()
    pipeline = make_pipeline(tmp_path, recorder=recorder, slides=3, tts_fail=(0, 1, 2))
    with pytest.raises(ss.PipelineError) as caught:
        await pipeline.run("All fail")
    error = caught.value
    assert error.stage == "tts" and error.provider == "test-tts"
    assert "Every slide failed" in str(error)
    assert len(error.slides) == 3 and all(s.images for s in error.slides)
    assert all(image.path and image.path.is_file() for s in error.slides for image in s.images)


async def test_a_failed_script_still_yields_a_slide_from_the_outline(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider=FakeScriptProvider(slides=3, fail_slides={1}),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path,
    )
    deck = await pipeline.run("Partial")
    slide = deck.slides[1]
    assert [e.stage for e in slide.errors] == ["script"]
    assert slide.script.title == "The core idea" and slide.script.narration
    assert slide.audio_path is not None  # its outline-based narration was still spoken


async def test_a_stream_that_breaks_off_is_completed_slide_by_slide(tmp_path: Path) -> None:
    class BreaksAfterTwo(FakeStreamingScriptProvider):
        async def stream_slides(self, request: ss.DeckRequest, outline: ss.Outline):  # type: ignore[no-untyped-def,override]
            count = 0
            async for script in super().stream_slides(request, outline):
                yield script
                count += 1
                if count == 2:
                    raise ss.ProviderError("connection lost", provider="test-script")

    recorder = CallRecorder()
    pipeline = ss.StreamingPipeline(
        script_provider=BreaksAfterTwo(slides=5, recorder=recorder), output_dir=tmp_path
    )
    deck = await pipeline.run("Recovered")
    assert [s.index for s in deck.slides] == [0, 1, 2, 3, 4]
    assert all(s.ok for s in deck.slides)
    assert len(recorder.of("script")) == 5


async def test_results_carry_files_timings_and_a_report(tmp_path: Path) -> None:
    recorder = CallRecorder()
    deck = await make_pipeline(tmp_path, recorder=recorder).run("Timing report", slides=3)
    assert deck.project_dir == tmp_path / "timing-report"
    assert {"outline", "script", "images", "tts", "total", "first_slide"} <= set(deck.timings)
    for slide in deck.slides:
        assert {"script", "images", "tts"} <= set(slide.timings)
        assert slide.audio_path and slide.audio_path.parent.name == "audio"
        assert slide.duration_s > 0 and slide.words
        assert slide.images[0].path and slide.images[0].path.read_bytes()[:4] == b"\x89PNG"
    report = deck.report()
    assert "Performance report: Timing report (3 slides, streaming)" in report
    assert "tts" in report and "total" in report
    data = json.loads((deck.project_dir / "slidestream.json").read_text())
    assert data["status"] == "complete" and len(data["deck"]["slides"]) == 3
    json.dumps(deck.to_dict())  # everything serialises


async def test_no_tts_and_no_images_gives_script_only_slides(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider=FakeScriptProvider(slides=2), output_dir=tmp_path
    )
    deck = await pipeline.run("Just text")
    assert all(s.ok and s.audio_path is None and not s.images for s in deck.slides)


async def test_project_defaults_to_a_slug_and_never_overwrites_another_run(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider=FakeScriptProvider(slides=1), output_dir=tmp_path
    )
    first = await pipeline.run("Énergie solaire!")
    again = await pipeline.run("Énergie solaire!")
    other = await pipeline.run("Energie solaire")
    assert first.project_dir == again.project_dir == tmp_path / "energie-solaire"
    assert other.project_dir == tmp_path / "energie-solaire-2"


async def test_providers_can_be_named_through_the_registry(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(
        script_provider="test-script",
        image_provider="test-images",
        tts_provider="test-tts",
        output_dir=tmp_path,
    )
    deck = await pipeline.run("By name", slides=2)
    assert all(s.ok and s.images and s.audio_path for s in deck.slides)


async def test_a_provider_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    pipeline = ss.StreamingPipeline(script_provider="test-tts", output_dir=tmp_path)
    with pytest.raises(ss.ConfigurationError, match="not a script provider"):
        await pipeline.run("Wrong kind")


async def test_the_current_slide_is_visible_to_providers(tmp_path: Path) -> None:
    seen: list[int | None] = []

    class Spy(FakeTTSProvider):
        async def synthesize(self, text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
            seen.append(ss.current_slide_index())
            return await super().synthesize(text, voice=voice, language=language)

    pipeline = ss.StreamingPipeline(
        script_provider=FakeScriptProvider(slides=3), tts_provider=Spy(), output_dir=tmp_path
    )
    await pipeline.run("Context")
    assert sorted(i for i in seen if i is not None) == [0, 1, 2]
    assert ss.current_slide_index() is None


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_limits_are_validated(tmp_path: Path, value: object) -> None:
    with pytest.raises(ss.InvalidInputError, match="max_concurrent_tts"):
        ss.StreamingPipeline(
            script_provider=FakeScriptProvider(),
            max_concurrent_tts=value,  # type: ignore[arg-type]
            output_dir=tmp_path,
        )


async def test_custom_assembler_receives_slides_progressively(tmp_path: Path) -> None:
    log: list[str] = []

    class Recording:
        def __init__(self, context: ss.render.AssemblyContext) -> None:
            self.context = context

        async def __aenter__(self) -> Recording:
            log.append(f"open {self.context.slide_count}")
            return self

        async def __aexit__(self, *exc: object) -> None:
            log.append("close")

        async def add_slide(self, slide: ss.SlideResult) -> None:
            log.append(f"slide {slide.index}")

        async def finish(self, slides: object) -> ss.render.DeckFiles:
            log.append("finish")
            return ss.render.DeckFiles(files={"custom": tmp_path / "x"})

    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=3),
        tts_provider=FakeTTSProvider(),
        output_dir=tmp_path,
        assembler=Recording,
    )
    async with pipeline.stream("Hook") as events:
        async for _event in events:
            pass
    assert log[0] == "open 3" and log[-2:] == ["finish", "close"]
    assert sorted(log[1:4]) == ["slide 0", "slide 1", "slide 2"]
    assert events.deck is not None and events.deck.files == {"custom": tmp_path / "x"}


async def test_assemblers_can_start_visual_work_before_the_narration(tmp_path: Path) -> None:
    # Narration is held until both slides were prepared: without early preparation the run
    # would never finish.
    log: list[str] = []
    timeline = Timeline()
    timeline.hold("tts")

    class Early(ss.render.NullAssembler):
        async def prepare_slide(self, slide: ss.SlideResult) -> None:
            log.append(f"prepare {slide.index} images={len(slide.images)}")
            if sum(entry.startswith("prepare") for entry in log) == 2:
                timeline.release("tts")

        async def add_slide(self, slide: ss.SlideResult) -> None:
            log.append(f"add {slide.index}")

    pipeline = gated_pipeline(timeline, tmp_path, slides=2, assembler=Early)
    with anyio.fail_after(30):
        await pipeline.run("Early frames")
    assert sorted(log[:2]) == ["prepare 0 images=1", "prepare 1 images=1"]
    assert sorted(log[2:]) == ["add 0", "add 1"]


async def test_a_configuration_error_stops_the_run_at_once(tmp_path: Path) -> None:
    class Misconfigured(FakeTTSProvider):
        async def synthesize(self, text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
            raise ss.ConfigurationError(f"voice {voice!r} does not speak {language!r}")

    recorder = CallRecorder()
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(slides=6, recorder=recorder),
        tts_provider=Misconfigured(),
        output_dir=tmp_path,
        assembler=ss.render.NullAssembler,
    )
    with pytest.raises(ss.ConfigurationError, match="does not speak 'fr'"):
        await pipeline.run("Config", language="fr", voice="joe")
    assert recorder.running == 0


def test_a_missing_script_provider_is_refused_at_once(tmp_path: Path) -> None:
    # It used to be accepted, and the run then made the project folder and failed with
    # "AttributeError: 'NoneType' object has no attribute 'outline'".
    with pytest.raises(ss.ConfigurationError, match="script_provider is required"):
        ss.StreamingPipeline(script_provider=None, output_dir=tmp_path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_provider_object_of_the_wrong_kind_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(ss.ConfigurationError, match="FakeTTSProvider is not an image provider"):
        ss.StreamingPipeline(
            script_provider=FakeScriptProvider(),
            image_provider=FakeTTSProvider(),
            output_dir=tmp_path,
        )


async def test_a_broken_stream_is_named_when_the_recovery_fails_too(tmp_path: Path) -> None:
    class BreaksAtOnce(FakeStreamingScriptProvider):
        async def stream_slides(self, request: ss.DeckRequest, outline: ss.Outline):  # type: ignore[no-untyped-def,override]
            raise ss.ProviderError("connection lost", provider="test-script")
            yield  # an async generator

    pipeline = ss.StreamingPipeline(
        script_provider=BreaksAtOnce(slides=2, fail_slides={1}),
        output_dir=tmp_path,
        assembler=ss.render.NullAssembler,
    )
    deck = await pipeline.run("Broken stream")
    assert deck.slides[0].ok
    (error,) = deck.slides[1].errors
    assert "after the slide stream broke off: connection lost" in error.message


async def test_comma_separated_names_make_a_fallback_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slidestream import providers

    monkeypatch.setattr("slidestream._registry._runtime", {})
    providers.register("down-tts", lambda: FakeTTSProvider(fail_every=1))
    pipeline = ss.StreamingPipeline(
        script_provider="test-script",
        tts_provider="down-tts,test-tts",
        output_dir=tmp_path,
        assembler=ss.render.NullAssembler,
    )
    deck = await pipeline.run("Chained", slides=2)
    assert all(slide.ok and slide.audio_path for slide in deck.slides)
    with pytest.raises(ss.ConfigurationError, match="Only image and TTS providers"):
        await ss.StreamingPipeline(
            script_provider="test-script,test-script", output_dir=tmp_path
        ).run("No script chains")


def test_run_takes_the_same_keyword_arguments_as_stream() -> None:
    # run() took **options: Any, so a typed user program could pass slides="8" or a
    # misspelt slide=8 without mypy saying a word.
    run = inspect.signature(ss.StreamingPipeline.run).parameters
    stream = inspect.signature(ss.StreamingPipeline.stream).parameters
    assert run == stream
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in run.values())
