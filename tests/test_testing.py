"""The function-backed test doubles: answers scripted with sync or async functions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

import slidestream as ss
from slidestream import providers
from slidestream.providers import SlideStream, SlideStreamingScriptProvider
from slidestream.testing import (
    FakeImageProvider,
    FakeTTSProvider,
    FunctionImageProvider,
    FunctionScriptProvider,
    FunctionTTSProvider,
)

pytestmark = pytest.mark.anyio
REQUEST = ss.DeckRequest(topic="Tides", project="tides", slides=3)
OUTLINE = ss.Outline(title="Tides", items=[ss.OutlineItem("Moon"), ss.OutlineItem("Sun")])


def planned(request: ss.DeckRequest) -> ss.Outline:
    return ss.Outline(
        title=request.topic.upper(), items=[ss.OutlineItem(f"Part {n}") for n in "AB"]
    )


async def written(request: ss.DeckRequest, outline: ss.Outline, index: int) -> ss.SlideScript:
    await anyio.lowlevel.checkpoint()
    return ss.SlideScript(index=index, title=outline.items[index].title, narration="Said.")


async def test_script_functions_may_be_sync_or_async() -> None:
    script = FunctionScriptProvider(outline=planned, write_slide=written)
    outline = await script.outline(REQUEST)
    assert outline.title == "TIDES"
    slide = await script.write_slide(REQUEST, outline, 1)
    assert (slide.index, slide.title, slide.narration) == (1, "Part B", "Said.")
    assert [call for call, _ in script.calls] == ["outline", "write_slide"]
    assert isinstance(script, ss.ScriptProvider)
    assert not isinstance(script, SlideStreamingScriptProvider)  # no stream_slides given


async def test_without_functions_the_script_is_deterministic() -> None:
    script = FunctionScriptProvider(slides=2)
    outline = await script.outline(ss.DeckRequest(topic="Tides", project="t"))
    assert len(outline.items) == 2
    assert (await script.write_slide(REQUEST, outline, 0)).title == outline.items[0].title


def slides_list(request: ss.DeckRequest, outline: ss.Outline) -> list[ss.SlideScript]:
    return [ss.SlideScript(index=i, title=item.title) for i, item in enumerate(outline.items)]


def slides_generator(request: ss.DeckRequest, outline: ss.Outline) -> Iterator[ss.SlideScript]:
    yield from slides_list(request, outline)


async def slides_async_generator(
    request: ss.DeckRequest, outline: ss.Outline
) -> AsyncIterator[ss.SlideScript]:
    for slide in slides_list(request, outline):
        await anyio.lowlevel.checkpoint()
        yield slide


async def slides_coroutine(request: ss.DeckRequest, outline: ss.Outline) -> list[ss.SlideScript]:
    return slides_list(request, outline)


@pytest.mark.parametrize(
    "function", [slides_list, slides_generator, slides_async_generator, slides_coroutine]
)
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_stream_slides_takes_any_kind_of_function(function: object) -> None:
    script = FunctionScriptProvider(stream_slides=function)  # type: ignore[arg-type]
    assert isinstance(script, SlideStreamingScriptProvider)
    stream = script.stream_slides(REQUEST, OUTLINE)
    assert isinstance(stream, SlideStream)
    async with stream:
        assert [slide.title async for slide in stream] == ["Moon", "Sun"]


async def test_closing_a_scripted_stream_closes_the_function_generator() -> None:
    closed = anyio.Event()

    async def endless(
        request: ss.DeckRequest, outline: ss.Outline
    ) -> AsyncIterator[ss.SlideScript]:
        try:
            index = 0
            while True:
                yield ss.SlideScript(index=index, title=f"S{index}")
                index += 1
        finally:
            closed.set()

    script = FunctionScriptProvider(stream_slides=endless)
    async with script.stream_slides(REQUEST, OUTLINE) as stream:
        assert (await stream.__anext__()).title == "S0"
    assert closed.is_set()


async def test_tts_and_images_answer_with_the_function_or_its_error() -> None:
    fake_clip = await FakeTTSProvider().synthesize("Hello there.", voice=None, language="en")

    def speak(text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
        if "fail" in text:
            raise ss.ProviderError("scripted failure", provider="function-tts", stage="tts")
        assert (voice, language) == ("v", "de")
        return fake_clip

    tts = FunctionTTSProvider(speak)
    assert await tts.synthesize("Hello there.", voice="v", language="de") is fake_clip
    with pytest.raises(ss.ProviderError, match="scripted failure"):
        await tts.synthesize("Please fail.", voice="v", language="de")
    assert tts.calls == ["Hello there.", "Please fail."]
    assert isinstance(tts, ss.TTSProvider)

    slide = ss.SlideScript(index=0, title="Moon")
    images = await FakeImageProvider().find_images(REQUEST, slide, limit=1)

    async def find(
        request: ss.DeckRequest, slide: ss.SlideScript, *, limit: int
    ) -> list[ss.ImageAsset]:
        return images[:limit]

    finder = FunctionImageProvider(find, name="my-images")
    assert await finder.find_images(REQUEST, slide, limit=1) == images
    assert finder.calls == [slide] and finder.name == "my-images"
    assert isinstance(finder, ss.ImageProvider)


async def test_a_pipeline_runs_on_function_doubles(tmp_path: Path) -> None:
    order: list[int] = []

    async def streamed(
        request: ss.DeckRequest, outline: ss.Outline
    ) -> AsyncIterator[ss.SlideScript]:
        for index, item in enumerate(outline.items):
            yield ss.SlideScript(index=index, title=item.title, narration=f"Slide {index}.")

    async def speak(text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
        order.append(int(text.split()[1].rstrip(".")))
        return await FakeTTSProvider().synthesize(text, voice=voice, language=language)

    with providers.override({"edge-tts": lambda: FunctionTTSProvider(speak)}):
        deck = await ss.StreamingPipeline(
            script_provider=FunctionScriptProvider(outline=planned, stream_slides=streamed),
            tts_provider="edge-tts",
            output_dir=tmp_path,
            assembler=ss.render.NullAssembler,
        ).run("Function doubles")
    assert [slide.script.title for slide in deck.slides] == ["Part A", "Part B"]
    assert sorted(order) == [0, 1]
    assert all(slide.ok for slide in deck.slides)
