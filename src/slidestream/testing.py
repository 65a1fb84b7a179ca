"""Test doubles: script, image and TTS providers that need no network and no keys.

Two families, as pydantic-ai has ``TestModel`` and ``FunctionModel``:

- ``Fake*`` doubles make plausible output on their own, with latency and failure injection;
- ``Function*`` doubles answer with functions you write (sync or async), for tests that
  script exactly what a provider returns or raises.

Put them behind registry names with :func:`slidestream.providers.override`, so code that
names providers (``tts_provider="edge-tts"``, ``--tts edge-tts``) runs unchanged.

Use them to test code built on slidestream, the way httpx's ``MockTransport`` is used::

    from slidestream.testing import (
        CallRecorder, FakeImageProvider, FakeStreamingScriptProvider, FakeTTSProvider
    )

    recorder = CallRecorder()
    pipeline = ss.StreamingPipeline(
        script_provider=FakeStreamingScriptProvider(script_latency=0.1, recorder=recorder),
        image_provider=FakeImageProvider(latency=0.05, recorder=recorder),
        tts_provider=FakeTTSProvider(latency=0.2, fail_slides={2}, recorder=recorder),
        output_dir=tmp_path,
    )
    deck = await pipeline.run("Photosynthesis")
    assert recorder.max_in_flight["tts"] <= 3

Every ``Fake*`` double has configurable latency (seconds, or a function of the slide index),
failure injection (``fail_every=N`` fails every Nth call, ``fail_slides={i, ...}`` fails
those slides), and real outputs: the image double returns a real PNG, the TTS double real
WAV audio (silence or a quiet tone) whose duration follows the word count, with word timings.

A pipeline never caches a double's answers (each call reaches the double, as a test expects)
unless the double is made with ``cacheable=True`` (``Fake*``) or ``cache_identity={...}``
(``Function*``); then it is cached like a real provider, e.g. to test incremental re-renders
by counting the calls that remain.

A ``Function*`` double calls your function with the protocol method's arguments::

    def speak(text: str, *, voice: str | None, language: str) -> SpeechClip:
        if "error" in text:
            raise ProviderError("scripted failure", provider="function-tts", stage="tts")
        return SpeechClip(audio=wav_bytes, format="wav", duration_s=1.0)

    tts = FunctionTTSProvider(speak)
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import struct
from collections import Counter
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar, cast

import anyio
import anyio.lowlevel
from PIL import Image, ImageDraw

from ._context import current_slide_index
from ._exceptions import ProviderError
from ._models import (
    DeckRequest,
    ImageAsset,
    Outline,
    OutlineItem,
    SlideScript,
    SpeechClip,
    WordTiming,
)
from .providers import Provider, SlideStream, SupportsAclose
from .providers._common.audio import mono_wav

__all__ = [
    "CallRecord",
    "CallRecorder",
    "FakeImageProvider",
    "FakeScriptProvider",
    "FakeStreamingScriptProvider",
    "FakeTTSProvider",
    "FunctionImageProvider",
    "FunctionScriptProvider",
    "FunctionTTSProvider",
    "Latency",
]

Latency: TypeAlias = float | Callable[[int], float]
"""Seconds per call, or a function of the slide index (``-1`` for deck-level calls)."""

_SECTION_TITLES = [
    "Why {topic} matters",
    "The core idea",
    "How it works",
    "A worked example",
    "Common pitfalls",
    "Where it is used",
    "Measuring success",
    "What comes next",
    "Key takeaways",
    "Questions to explore",
]
_PALETTE = [(32, 76, 140), (196, 84, 52), (46, 125, 90), (120, 72, 160), (200, 150, 40)]


@dataclass
class CallRecord:
    """One provider call: what it was for and when it ran (``anyio.current_time()`` seconds)."""

    stage: str
    index: int
    start: float
    end: float | None = None
    outcome: str = "running"
    """``"running"``, ``"ok"``, ``"failed"`` or ``"cancelled"``."""


class CallRecorder:
    """Records every call the test doubles make, with in-flight counts per stage.

    Share one recorder between providers to see how their calls interleave.
    """

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def record(self, stage: str, index: int) -> AsyncIterator[CallRecord]:
        """Record a call of ``stage`` for slide ``index`` for the duration of the block."""
        call = CallRecord(stage, index, anyio.current_time())
        self.calls.append(call)
        self.in_flight[stage] += 1
        self.max_in_flight[stage] = max(self.max_in_flight[stage], self.in_flight[stage])
        try:
            yield call
            call.outcome = "ok"
        except anyio.get_cancelled_exc_class():
            call.outcome = "cancelled"
            raise
        except BaseException:
            call.outcome = "failed"
            raise
        finally:
            call.end = anyio.current_time()
            self.in_flight[stage] -= 1

    def of(self, stage: str) -> list[CallRecord]:
        """The calls of one stage, in the order they started."""
        return [call for call in self.calls if call.stage == stage]

    def first(self, stage: str, index: int) -> CallRecord:
        """The first call of ``stage`` for slide ``index``."""
        return next(c for c in self.calls if c.stage == stage and c.index == index)

    @property
    def running(self) -> int:
        """How many calls are in flight right now, over all stages."""
        return sum(self.in_flight.values())


class _FakeBase(Provider):
    stage = "call"

    def __init__(
        self,
        *,
        latency: Latency = 0.0,
        fail_every: int | None = None,
        fail_slides: Iterable[int] = (),
        recorder: CallRecorder | None = None,
        cacheable: bool = False,
    ) -> None:
        if fail_every is not None and fail_every < 1:
            raise ValueError("fail_every must be at least 1")
        self.cacheable = cacheable
        self.latency = latency
        self.fail_every = fail_every
        self.fail_slides = frozenset(fail_slides)
        self.recorder = recorder if recorder is not None else CallRecorder()
        self.call_count = 0

    def _delay(self, latency: Latency, index: int) -> float:
        return float(latency(index) if callable(latency) else latency)

    @contextlib.asynccontextmanager
    async def _call(
        self, index: int, *, stage: str | None = None, latency: Latency | None = None
    ) -> AsyncIterator[None]:
        stage = stage or self.stage
        self.call_count += 1
        number = self.call_count
        async with self.recorder.record(stage, index):
            await anyio.sleep(self._delay(self.latency if latency is None else latency, index))
            if index in self.fail_slides or (self.fail_every and number % self.fail_every == 0):
                raise ProviderError(
                    f"injected failure on call {number} (slide {index})",
                    provider=self.name,
                    stage=stage,
                    slide_index=index,
                )
            yield


def _default_outline(request: DeckRequest, default_slides: int) -> Outline:
    """A deterministic outline: ``request.slides`` (or ``default_slides``) items."""
    count = request.slides or default_slides
    items = [
        OutlineItem(
            _SECTION_TITLES[i % len(_SECTION_TITLES)].format(topic=request.topic)
            + (f" ({i // len(_SECTION_TITLES) + 1})" if i >= len(_SECTION_TITLES) else ""),
            [f"Point {k + 1} of part {i + 1}" for k in range(3)],
        )
        for i in range(count)
    ]
    return Outline(title=request.topic, items=items)


def _default_script(outline: Outline, index: int, words: int = 40) -> SlideScript:
    """A deterministic slide for outline item ``index``."""
    item = outline.items[index]
    return SlideScript(
        index=index,
        title=item.title,
        bullets=list(item.key_points),
        narration=_narration(item.title, item.key_points, words),
        image_query=item.title,
    )


def _narration(title: str, points: list[str], words: int) -> str:
    sentences = [f"This slide is about {title.lower()}."]
    sentences += [f"{point.rstrip('.')} is one of the ideas worth remembering." for point in points]
    filler = "Each idea builds on the one before it and prepares the next step in the story."
    text = " ".join(sentences)
    while len(text.split()) < words:
        text += " " + filler
    return " ".join(text.split()[:words]).rstrip(".,") + "."


class FakeScriptProvider(_FakeBase):
    """Writes a deterministic outline and slides (``write_slide`` only, one call per slide).

    Args:
        slides: slide count when the request does not say.
        outline_latency: seconds for ``outline()``.
        script_latency: seconds per slide script.
        words_per_slide: narration length, in words.
        fail_outline: make ``outline()`` fail.
    """

    name = "test-script"
    stage = "script"

    def __init__(
        self,
        *,
        slides: int = 5,
        outline_latency: float = 0.0,
        script_latency: Latency = 0.0,
        words_per_slide: int = 40,
        fail_outline: bool = False,
        fail_every: int | None = None,
        fail_slides: Iterable[int] = (),
        recorder: CallRecorder | None = None,
        cacheable: bool = False,
    ) -> None:
        super().__init__(
            latency=script_latency,
            fail_every=fail_every,
            fail_slides=fail_slides,
            recorder=recorder,
            cacheable=cacheable,
        )
        self.default_slides = slides
        self.outline_latency = outline_latency
        self.words_per_slide = words_per_slide
        self.fail_outline = fail_outline

    def cache_identity(self) -> dict[str, Any] | None:
        """What changes the slides written (None, never cached, unless ``cacheable``)."""
        if not self.cacheable:
            return None
        return {"slides": self.default_slides, "words_per_slide": self.words_per_slide}

    async def outline(self, request: DeckRequest) -> Outline:
        """A title and ``request.slides`` (or ``slides``) items derived from the topic."""
        async with self.recorder.record("outline", -1):
            await anyio.sleep(self.outline_latency)
            if self.fail_outline:
                raise ProviderError("injected outline failure", provider=self.name, stage="outline")
        return _default_outline(request, self.default_slides)

    def _script(self, outline: Outline, index: int) -> SlideScript:
        return _default_script(outline, index, self.words_per_slide)

    async def write_slide(self, request: DeckRequest, outline: Outline, index: int) -> SlideScript:
        """Slide ``index`` of ``outline``, after ``script_latency``."""
        async with self._call(index):
            return self._script(outline, index)


class FakeStreamingScriptProvider(FakeScriptProvider):
    """Like :class:`FakeScriptProvider`, and also writes every slide in one stream.

    ``stream_slides()`` yields the slides one after another, each after ``script_latency``,
    as an LLM streaming a whole deck in one response would.
    """

    def stream_slides(self, request: DeckRequest, outline: Outline) -> SlideStream:
        """Each slide in order, one ``script_latency`` apart."""
        return SlideStream(self._slides(outline))

    async def _slides(self, outline: Outline) -> AsyncIterator[SlideScript]:
        for index in range(len(outline.items)):
            async with self._call(index):
                script = self._script(outline, index)
            yield script


def _png(width: int, height: int, index: int, title: str) -> bytes:
    colour = _PALETTE[index % len(_PALETTE)]
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    light = tuple(min(255, c + 70) for c in colour)
    draw.ellipse((width // 2, height // 4, width // 2 + height // 2, height * 3 // 4), fill=light)
    draw.text((width // 16, height // 12), title[:40], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=1)
    return out.getvalue()


class FakeImageProvider(_FakeBase):
    """Returns real PNG images (a coloured card per slide) after ``latency`` seconds."""

    name = "test-images"
    stage = "images"

    def __init__(
        self,
        *,
        latency: Latency = 0.0,
        size: tuple[int, int] = (960, 540),
        attribution: str | None = "Test image generated by slidestream.testing",
        license: str | None = "CC0-1.0",
        fail_every: int | None = None,
        fail_slides: Iterable[int] = (),
        recorder: CallRecorder | None = None,
        cacheable: bool = False,
    ) -> None:
        super().__init__(
            latency=latency,
            fail_every=fail_every,
            fail_slides=fail_slides,
            recorder=recorder,
            cacheable=cacheable,
        )
        self.size = size
        self.attribution = attribution
        self.license = license

    def cache_identity(self) -> dict[str, Any] | None:
        """What changes the images (None, never cached, unless ``cacheable``)."""
        if not self.cacheable:
            return None
        return {"size": list(self.size), "attribution": self.attribution, "license": self.license}

    async def find_images(
        self, request: DeckRequest, slide: SlideScript, *, limit: int
    ) -> list[ImageAsset]:
        """``limit`` PNG images for ``slide``."""
        async with self._call(slide.index):
            width, height = self.size
            pngs = [
                await anyio.to_thread.run_sync(_png, width, height, slide.index + k, slide.title)
                for k in range(limit)
            ]
            return [
                ImageAsset(
                    data=png,
                    mime_type="image/png",
                    width=width,
                    height=height,
                    source_url=f"https://example.invalid/test-image/{slide.index}/{k}",
                    attribution=self.attribution,
                    license=self.license,
                )
                for k, png in enumerate(pngs)
            ]


def _wav(duration_s: float, sample_rate: int, tone_hz: float | None) -> bytes:
    frames = round(duration_s * sample_rate)
    if tone_hz:
        period = max(1, round(sample_rate / tone_hz))
        cycle = b"".join(
            struct.pack("<h", int(3000 * math.sin(2 * math.pi * n / period))) for n in range(period)
        )
        pcm = (cycle * (frames // period + 1))[: frames * 2]
    else:
        pcm = bytes(frames * 2)

    return mono_wav(pcm, sample_rate)


class FakeTTSProvider(_FakeBase):
    """Returns real WAV audio whose length follows the word count, with word timings.

    Args:
        words_per_second: speaking rate; a clip lasts ``words / words_per_second`` seconds.
        tone: a quiet 400 Hz tone instead of silence (useful to check audio reaches the video).
    """

    name = "test-tts"
    stage = "tts"

    def __init__(
        self,
        *,
        latency: Latency = 0.0,
        words_per_second: float = 2.5,
        tone: bool = False,
        sample_rate: int = 16000,
        fail_every: int | None = None,
        fail_slides: Iterable[int] = (),
        recorder: CallRecorder | None = None,
        cacheable: bool = False,
    ) -> None:
        super().__init__(
            latency=latency,
            fail_every=fail_every,
            fail_slides=fail_slides,
            recorder=recorder,
            cacheable=cacheable,
        )
        if words_per_second <= 0:
            raise ValueError("words_per_second must be positive")
        self.words_per_second = words_per_second
        self.tone = tone
        self.sample_rate = sample_rate

    def cache_identity(self) -> dict[str, Any] | None:
        """What changes the audio (None, never cached, unless ``cacheable``)."""
        if not self.cacheable:
            return None
        return {
            "words_per_second": self.words_per_second,
            "tone": self.tone,
            "sample_rate": self.sample_rate,
        }

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        """WAV audio lasting ``words / words_per_second`` seconds."""
        index = current_slide_index()
        index = -1 if index is None else index
        async with self._call(index):
            words = text.split()
            step = 1.0 / self.words_per_second
            duration = max(0.5, len(words) * step)
            timings = [
                WordTiming(word, round(i * step, 3), round(i * step + step * 0.9, 3))
                for i, word in enumerate(words)
            ]
            tone = 400.0 if self.tone else None
            audio = await anyio.to_thread.run_sync(_wav, duration, self.sample_rate, tone)
            return SpeechClip(audio=audio, format="wav", duration_s=duration, words=timings)


# -- function-backed doubles ------------------------------------------------------------------

_T = TypeVar("_T")

_OutlineFunction: TypeAlias = Callable[[DeckRequest], "Outline | Awaitable[Outline]"]
"""``outline(request)``, sync or async."""
_WriteSlideFunction: TypeAlias = Callable[
    [DeckRequest, Outline, int], "SlideScript | Awaitable[SlideScript]"
]
"""``write_slide(request, outline, index)``, sync or async."""
_StreamSlidesFunction: TypeAlias = Callable[[DeckRequest, Outline], Any]
"""``stream_slides(request, outline)``: an iterable or async iterable of slides (a generator or
an async generator function), or an awaitable of an iterable."""
_SynthesizeFunction: TypeAlias = Callable[..., "SpeechClip | Awaitable[SpeechClip]"]
"""``synthesize(text, *, voice, language)``, sync or async."""
_FindImagesFunction: TypeAlias = Callable[..., "list[ImageAsset] | Awaitable[list[ImageAsset]]"]
"""``find_images(request, slide, *, limit)``, sync or async."""


async def _result(value: _T | Awaitable[_T]) -> _T:
    """``value``, awaited when the function was async."""
    if inspect.isawaitable(value):
        return await cast("Awaitable[_T]", value)
    return value


async def _iterate(produced: Any) -> AsyncIterator[SlideScript]:
    """The slides of whatever a ``stream_slides`` function returned."""
    produced = await _result(produced)
    if isinstance(produced, AsyncIterable):
        iterator = aiter(produced)
        try:
            async for slide in iterator:
                yield slide
        finally:
            if isinstance(iterator, SupportsAclose):
                await iterator.aclose()
        return
    for slide in produced:
        await anyio.lowlevel.checkpoint()
        yield slide


class FunctionScriptProvider(Provider):
    """A script provider whose answers come from functions you pass (sync or async).

    Args:
        outline: ``outline(request) -> Outline``; by default a deterministic outline of
            ``request.slides`` (or ``slides``) items, as :class:`FakeScriptProvider` writes.
        write_slide: ``write_slide(request, outline, index) -> SlideScript``; by default a
            deterministic slide for the outline item.
        stream_slides: ``stream_slides(request, outline)`` returning the slides (a list,
            a generator or an async generator). Only when it is given does the provider
            offer ``stream_slides()``, so the pipeline streams; without it the pipeline
            calls ``write_slide`` per slide.
        slides: the slide count of the default outline when the request does not say.
        name: the provider's name in errors and reports.
        cache_identity: what makes the functions' answers what they are, when they may be
            cached (see :meth:`cache_identity`); by default they are never cached.

    Every call is recorded in :attr:`calls` as ``(method, arguments)``.
    """

    stream_slides: Callable[[DeckRequest, Outline], SlideStream]

    def __init__(
        self,
        *,
        outline: _OutlineFunction | None = None,
        write_slide: _WriteSlideFunction | None = None,
        stream_slides: _StreamSlidesFunction | None = None,
        slides: int = 5,
        name: str = "function-script",
        cache_identity: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self._identity = cache_identity
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._outline = outline
        self._write_slide = write_slide
        self._default_slides = slides
        if stream_slides is not None:
            function = stream_slides

            def streamed(request: DeckRequest, outline: Outline) -> SlideStream:
                self.calls.append(("stream_slides", (request, outline)))
                return SlideStream(_iterate(function(request, outline)))

            self.stream_slides = streamed

    def cache_identity(self) -> Mapping[str, Any] | None:
        """The ``cache_identity`` given: None (never cached) unless you say what identifies
        the functions' answers."""
        return self._identity

    async def outline(self, request: DeckRequest) -> Outline:
        """``outline(request)`` of the function given, else the default outline."""
        self.calls.append(("outline", (request,)))
        if self._outline is None:
            return _default_outline(request, self._default_slides)
        return await _result(self._outline(request))

    async def write_slide(self, request: DeckRequest, outline: Outline, index: int) -> SlideScript:
        """``write_slide(request, outline, index)`` of the function given, else the default."""
        self.calls.append(("write_slide", (request, outline, index)))
        if self._write_slide is None:
            return _default_script(outline, index)
        return await _result(self._write_slide(request, outline, index))


class FunctionTTSProvider(Provider):
    """A TTS provider that answers with ``function(text, voice=..., language=...)``.

    The function may be sync or async; it returns a :class:`SpeechClip` or raises (a
    :class:`ProviderError` to play a failed service). Calls are recorded in :attr:`calls`.
    Its clips are cached only when ``cache_identity`` is given (see
    :meth:`FunctionScriptProvider.cache_identity`).
    """

    def __init__(
        self,
        function: _SynthesizeFunction,
        *,
        name: str = "function-tts",
        cache_identity: Mapping[str, Any] | None = None,
    ) -> None:
        self.function = function
        self.name = name
        self._identity = cache_identity
        self.calls: list[str] = []

    def cache_identity(self) -> Mapping[str, Any] | None:
        """The ``cache_identity`` given (None: never cached)."""
        return self._identity

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        """What the function returns for these arguments."""
        self.calls.append(text)
        return await _result(self.function(text, voice=voice, language=language))


class FunctionImageProvider(Provider):
    """An image provider that answers with ``function(request, slide, limit=...)``.

    The function may be sync or async; it returns a list of :class:`ImageAsset` or raises.
    Calls are recorded in :attr:`calls` (the slide of each). Its images are cached only when
    ``cache_identity`` is given.
    """

    def __init__(
        self,
        function: _FindImagesFunction,
        *,
        name: str = "function-images",
        cache_identity: Mapping[str, Any] | None = None,
    ) -> None:
        self.function = function
        self.name = name
        self._identity = cache_identity
        self.calls: list[SlideScript] = []

    def cache_identity(self) -> Mapping[str, Any] | None:
        """The ``cache_identity`` given (None: never cached)."""
        return self._identity

    async def find_images(
        self, request: DeckRequest, slide: SlideScript, *, limit: int
    ) -> list[ImageAsset]:
        """What the function returns for these arguments."""
        self.calls.append(slide)
        return await _result(self.function(request, slide, limit=limit))
