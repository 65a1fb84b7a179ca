"""Time limits: a provider call that never returns becomes that slide's error, the outline's
the run's; a whole-run deadline ends a run that takes too long. On asyncio and trio.

The hanging providers wait forever (``anyio.sleep_forever``), so the outcome does not depend
on how fast the machine is: only the limits end the calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

import slidestream as ss
from slidestream import cli, providers
from slidestream.testing import (
    FakeImageProvider,
    FakeScriptProvider,
    FakeStreamingScriptProvider,
    FakeTTSProvider,
    FunctionImageProvider,
    FunctionScriptProvider,
    FunctionTTSProvider,
)

SHORT = 0.2


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pipeline(tmp_path: Path, timeouts: Any, **options: Any) -> ss.StreamingPipeline:
    settings: dict[str, Any] = {
        "script_provider": FakeScriptProvider(slides=2),
        "image_provider": FakeImageProvider(size=(32, 18)),
        "tts_provider": FakeTTSProvider(),
        "output_dir": tmp_path,
        "assembler": ss.render.NullAssembler,
        "timeouts": timeouts,
    }
    settings.update(options)
    return ss.StreamingPipeline(**settings)


async def hang(*args: object, **kwargs: object) -> Any:
    await anyio.sleep_forever()


async def hang_on_first(value: Any) -> Any:
    if ss.current_slide_index() == 0:
        await anyio.sleep_forever()
    return value


@pytest.mark.anyio
async def test_a_write_slide_that_never_returns_becomes_that_slides_error(tmp_path: Path) -> None:
    def write(request: ss.DeckRequest, outline: ss.Outline, index: int) -> Any:
        if index == 0:
            return hang()
        return ss.SlideScript(index=index, title="Written", narration="Hello there.")

    script = FunctionScriptProvider(write_slide=write, slides=2)
    with anyio.fail_after(30):
        deck = await pipeline(tmp_path, ss.Timeouts(script=SHORT), script_provider=script).run("H")
    first, second = deck.slides
    assert first.errors[0].stage == "script"
    assert "no answer for slide 1 within 0.2 s, the script time limit" in first.errors[0].message
    assert "--timeout script=SECONDS" in first.errors[0].message
    assert first.script.title  # its outline item stands in
    assert first.audio_path is not None  # and is still narrated
    assert second.script.title == "Written" and not second.errors


@pytest.mark.anyio
@pytest.mark.parametrize("stage", ["images", "tts"])
async def test_a_hanging_image_or_tts_call_becomes_that_slides_error(
    tmp_path: Path, stage: str
) -> None:
    image = FakeImageProvider(size=(32, 18))
    tts = FakeTTSProvider()
    if stage == "images":

        async def find(request: ss.DeckRequest, slide: ss.SlideScript, *, limit: int) -> Any:
            return await hang_on_first(await image.find_images(request, slide, limit=limit))

        options: dict[str, Any] = {"image_provider": FunctionImageProvider(find)}
    else:

        async def speak(text: str, **kwargs: Any) -> Any:
            return await hang_on_first(await tts.synthesize(text, **kwargs))

        options = {"tts_provider": FunctionTTSProvider(speak)}
    timeouts = ss.Timeouts(**{stage: SHORT})
    with anyio.fail_after(30):
        deck = await pipeline(tmp_path, timeouts, **options).run("Hangs")
    first, second = deck.slides
    assert [e.stage for e in first.errors] == [stage]
    assert f"the {stage} time limit" in first.errors[0].message
    assert not second.errors and second.images and second.audio_path is not None


@pytest.mark.anyio
async def test_a_hanging_outline_fails_the_run(tmp_path: Path) -> None:
    script = FunctionScriptProvider(outline=hang)
    with pytest.raises(ss.PipelineError, match=r"within 0\.2 s, the outline time limit"):
        with anyio.fail_after(30):
            await pipeline(tmp_path, SHORT, script_provider=script).run("Stuck")
    manifest = json.loads((tmp_path / "stuck" / "slidestream.json").read_text())
    assert manifest["status"] == "failed" and "time limit" in manifest["error"]


@pytest.mark.anyio
async def test_a_slide_stream_that_stalls_is_finished_slide_by_slide(tmp_path: Path) -> None:
    async def stream(request: ss.DeckRequest, outline: ss.Outline) -> Any:
        yield ss.SlideScript(index=0, title="Streamed", narration="One.")
        await anyio.sleep_forever()

    script = FunctionScriptProvider(stream_slides=stream, slides=3)
    with anyio.fail_after(30):
        deck = await pipeline(tmp_path, ss.Timeouts(script=SHORT), script_provider=script).run(
            "Stall"
        )
    assert deck.slides[0].script.title == "Streamed"
    assert [c[0] for c in script.calls].count("write_slide") == 2
    assert all(not s.errors for s in deck.slides)


@pytest.mark.anyio
async def test_a_run_past_its_deadline_fails_and_keeps_what_was_finished(tmp_path: Path) -> None:
    done = anyio.Event()

    async def speak(text: str, **kwargs: Any) -> Any:
        if ss.current_slide_index() == 0:
            return await FakeTTSProvider().synthesize(text, **kwargs)
        await done.wait()  # slide 2 waits until slide 1 is complete, then forever
        await anyio.sleep_forever()

    pipe = pipeline(
        tmp_path,
        ss.Timeouts(run=1.0, tts=None),
        tts_provider=FunctionTTSProvider(speak),
        max_concurrent_tts=2,
    )
    with pytest.raises(ss.PipelineError, match=r"did not finish within its deadline of 1 s"):
        with anyio.fail_after(30):
            async with pipe.stream("Slow", project="slow") as events:
                async for event in events:
                    if isinstance(event, ss.SlideResult):
                        done.set()
    folder = tmp_path / "slow"
    assert (folder / "audio" / "slide-01.wav").is_file()
    manifest = json.loads((folder / "slidestream.json").read_text())
    assert manifest["status"] == "failed" and "deadline" in manifest["error"]


@pytest.mark.anyio
async def test_time_waiting_for_a_slot_does_not_count(tmp_path: Path) -> None:
    # One TTS slot and three slides whose calls take 0.6 of the limit each: the third waits
    # 1.2 limits for its slot and still succeeds.
    limit = 1.0
    tts = FakeTTSProvider()

    async def speak(text: str, **kwargs: Any) -> Any:
        await anyio.sleep(limit * 0.6)
        return await tts.synthesize(text, **kwargs)

    pipe = pipeline(
        tmp_path,
        ss.Timeouts(tts=limit),
        script_provider=FakeScriptProvider(slides=3),
        tts_provider=FunctionTTSProvider(speak),
        max_concurrent_tts=1,
    )
    with anyio.fail_after(30):
        deck = await pipe.run("Queue")
    assert all(not s.errors for s in deck.slides)
    assert deck.timings["tts"] > limit


def test_limits_come_from_the_environment_and_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLIDESTREAM_TIMEOUT", "tts=30, images=none")
    monkeypatch.setenv("SLIDESTREAM_DEADLINE", "600")
    from_env = ss.Timeouts.from_env()
    assert (from_env.tts, from_env.images, from_env.run) == (30, None, 600)
    assert from_env.outline == ss.Timeouts().outline
    pipe = ss.StreamingPipeline(script_provider=FakeScriptProvider())
    assert pipe.timeouts == from_env
    assert ss.StreamingPipeline(script_provider=FakeScriptProvider(), timeouts=9).timeouts == (
        ss.Timeouts.every(9)
    )
    args = cli.build_parser().parse_args(
        ["make", "T", "--timeout", "60", "--timeout", "tts=5", "--deadline", "90"]
    )
    assert cli.timeouts_from(args) == ss.Timeouts(outline=60, script=60, images=60, tts=5, run=90)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "is not a time limit"),
        ("soon", "is not a time limit"),
        ("inf", "is not a time limit"),
        ("voice=3", "'voice' is not a stage"),
    ],
)
def test_bad_limits_are_refused_with_what_to_write(
    text: str, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["make", "T", "--timeout", text])
    assert caught.value.code == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    monkeypatch.setenv("SLIDESTREAM_TIMEOUT", text)
    with pytest.raises(ss.ConfigurationError, match="SLIDESTREAM_TIMEOUT"):
        ss.Timeouts.from_env()
    with pytest.raises(ss.InvalidInputError):
        ss.Timeouts(tts=-1)


def test_the_cli_reports_a_hanging_provider_as_a_slide_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def stuck() -> FunctionTTSProvider:
        async def speak(text: str, **kwargs: Any) -> Any:
            return await hang_on_first(await FakeTTSProvider().synthesize(text, **kwargs))

        return FunctionTTSProvider(speak)

    with providers.override({"stuck-tts": stuck, "quick-script": FakeStreamingScriptProvider}):
        code = cli.main(
            ["make", "Stuck", "--out", str(tmp_path), "--script", "quick-script", "--images",
             "none", "--tts", "stuck-tts", "--slides", "2", "--no-video", "--timeout", "tts=0.2"]
        )  # fmt: skip
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK
    assert "Slide 1 done with errors: tts: function-tts gave no answer for slide 1" in out
    assert "[✔ slide] Slide 2 complete" in out
