"""Test doubles whose calls wait for gates, so scheduling tests need no wall-clock margins.

A :class:`Timeline` records every call (through a shared :class:`CallRecorder`), holds the
calls a test wants held until it opens their gate, and marks each call done with an event::

    timeline = Timeline()
    timeline.hold("tts", 0)                     # slide 0's narration waits ...
    ...
    await timeline.done("images", 1).wait()     # ... until slide 1's images are found
    timeline.release("tts", 0)

A schedule that wrongly waits for a held call deadlocks; tests wrap such waits in
``anyio.fail_after`` so that shows up as a failure, not a hang.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio

import slidestream as ss
from slidestream.testing import (
    CallRecorder,
    FakeImageProvider,
    FakeScriptProvider,
    FakeTTSProvider,
)

Key = tuple[str, "int | None"]


class Timeline:
    """Gates and done-events per (stage, slide index); ``index=None`` means every slide."""

    def __init__(self, recorder: CallRecorder | None = None) -> None:
        self.recorder = recorder if recorder is not None else CallRecorder()
        self._gates: dict[Key, anyio.Event] = {}
        self._done: dict[Key, anyio.Event] = {}
        self._reached: dict[tuple[str, int], anyio.Event] = {}
        self.ended: list[Key] = []
        """(stage, index) of every call, in the order the calls ended."""

    def hold(self, stage: str, index: int | None = None) -> None:
        """Calls of ``stage`` (for slide ``index``, or for every slide) wait until released."""
        self._gates.setdefault((stage, index), anyio.Event())

    def release(self, stage: str, index: int | None = None) -> None:
        """Let the held calls of ``stage`` (for ``index``) go on."""
        self._gates.setdefault((stage, index), anyio.Event()).set()

    def done(self, stage: str, index: int) -> anyio.Event:
        """Set once a call of ``stage`` for slide ``index`` has ended (in any way)."""
        return self._done.setdefault((stage, index), anyio.Event())

    def reached(self, stage: str, count: int) -> anyio.Event:
        """Set once ``count`` calls of ``stage`` are in flight at the same time."""
        event = self._reached.setdefault((stage, count), anyio.Event())
        if self.recorder.in_flight[stage] >= count:
            event.set()
        return event

    @contextlib.asynccontextmanager
    async def call(self, stage: str, index: int) -> AsyncIterator[None]:
        """Record a call, wait for its gates, and mark it done when it ends."""
        try:
            async with self.recorder.record(stage, index):
                for (waited, count), event in self._reached.items():
                    if waited == stage and self.recorder.in_flight[stage] >= count:
                        event.set()
                for key in ((stage, None), (stage, index)):
                    gate = self._gates.get(key)
                    if gate is not None:
                        await gate.wait()
                yield
        finally:
            self.ended.append((stage, index))
            self.done(stage, index).set()


class GatedScripts(FakeScriptProvider):
    """:class:`FakeScriptProvider` (``write_slide`` only) whose calls go through a timeline."""

    def __init__(self, timeline: Timeline, **options: Any) -> None:
        super().__init__(**options)
        self.timeline = timeline

    async def outline(self, request: ss.DeckRequest) -> ss.Outline:
        async with self.timeline.call("outline", -1):
            return await super().outline(request)

    async def write_slide(
        self, request: ss.DeckRequest, outline: ss.Outline, index: int
    ) -> ss.SlideScript:
        async with self.timeline.call("script", index):
            return await super().write_slide(request, outline, index)


class GatedStreamingScripts(GatedScripts):
    """Like :class:`GatedScripts`, and writes every slide in one stream, in slide order."""

    async def stream_slides(
        self, request: ss.DeckRequest, outline: ss.Outline
    ) -> AsyncIterator[ss.SlideScript]:
        for index in range(len(outline.items)):
            async with self.timeline.call("script", index):
                script = await FakeScriptProvider.write_slide(self, request, outline, index)
            yield script


class GatedImages(FakeImageProvider):
    """:class:`FakeImageProvider` whose calls go through a timeline."""

    def __init__(self, timeline: Timeline, **options: Any) -> None:
        options.setdefault("size", (32, 18))
        super().__init__(**options)
        self.timeline = timeline

    async def find_images(
        self, request: ss.DeckRequest, slide: ss.SlideScript, *, limit: int
    ) -> list[ss.ImageAsset]:
        async with self.timeline.call("images", slide.index):
            return await super().find_images(request, slide, limit=limit)


class GatedTTS(FakeTTSProvider):
    """:class:`FakeTTSProvider` whose calls go through a timeline."""

    def __init__(self, timeline: Timeline, **options: Any) -> None:
        super().__init__(**options)
        self.timeline = timeline

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> ss.SpeechClip:
        index = ss.current_slide_index()
        async with self.timeline.call("tts", -1 if index is None else index):
            return await super().synthesize(text, voice=voice, language=language)


def gated_pipeline(
    timeline: Timeline,
    output_dir: Any,
    *,
    slides: int = 5,
    streaming: bool = True,
    sequential: bool = False,
    **options: Any,
) -> ss.StreamingPipeline:
    """A pipeline over the gated doubles; deck files are left to the assembler tests."""
    scripts = GatedStreamingScripts if streaming else GatedScripts
    pipeline_class = ss.SequentialPipeline if sequential else ss.StreamingPipeline
    options.setdefault("assembler", ss.render.NullAssembler)
    return pipeline_class(
        script_provider=scripts(timeline, slides=slides),
        image_provider=GatedImages(timeline),
        tts_provider=GatedTTS(timeline),
        output_dir=output_dir,
        **options,
    )
