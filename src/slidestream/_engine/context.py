"""What one run knows: its request, folder, providers, limits, clock, slides and event sink.

:class:`RunContext` is created inside the run's task (so its limiters belong to the run's
event loop) and handed to every stage. :meth:`RunContext.slot` is the one place a
concurrency limit is taken; :class:`SlideRecord` is everything one slide's stages produced.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from .._context import _slide_index
from .._events import Event
from .._limits import ConcurrencyLimits
from .._models import (
    DeckRequest,
    ImageAsset,
    SlideError,
    SlideResult,
    SlideScript,
    StageSpan,
    WordTiming,
)
from .._timeouts import Timeouts
from .._types import Stage
from ..providers._protocols import ImageProvider, ScriptProvider, SupportsAclose, TTSProvider
from ..render import AssemblerFactory, RenderOptions

__all__ = [
    "Clock",
    "Providers",
    "RunContext",
    "SlideRecord",
    "Stopwatch",
    "aclose_all",
    "for_slide",
]


@dataclass(frozen=True)
class Providers:
    """The providers of one run."""

    script: ScriptProvider
    images: ImageProvider | None
    tts: TTSProvider | None


async def aclose_all(providers: Iterable[object]) -> None:
    """Close each provider that holds resources, even while the run is being cancelled."""
    for provider in providers:
        if isinstance(provider, SupportsAclose):
            with anyio.CancelScope(shield=True):
                await provider.aclose()


@dataclass
class SlideRecord:
    """What one slide's stages produced so far; becomes its :class:`SlideResult`."""

    script: SlideScript
    errors: list[SlideError] = field(default_factory=list)
    images: list[ImageAsset] = field(default_factory=list)
    audio_path: Path | None = None
    duration_s: float = 0.0
    words: list[WordTiming] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per :class:`Stage` (the keys are ``Stage`` members)."""
    providers: dict[str, str] = field(default_factory=dict)
    """Which provider made each stage's output, by :class:`Stage`."""
    result: SlideResult | None = None
    """The completed slide, once every stage is done."""

    @property
    def index(self) -> int:
        """The slide's 0-based index."""
        return self.script.index

    def snapshot(self, ready_s: float) -> SlideResult:
        """The slide as it stands now, ``ready_s`` seconds into the run."""
        return SlideResult(
            index=self.index,
            script=self.script,
            images=list(self.images),
            audio_path=self.audio_path,
            duration_s=self.duration_s,
            timings=dict(self.timings),
            errors=list(self.errors),
            words=list(self.words),
            ready_s=ready_s,
            providers=dict(self.providers),
        )


@dataclass
class Stopwatch:
    """A running span; ``duration_s`` is final once its block is left."""

    start_s: float
    end_s: float | None = None

    @property
    def duration_s(self) -> float:
        """Seconds from the start to the end (0 while still running)."""
        return 0.0 if self.end_s is None else self.end_s - self.start_s


class Clock:
    """Seconds since the run started, and the :class:`StageSpan` of every stage that ran."""

    def __init__(self) -> None:
        self._started = anyio.current_time()
        self.spans: list[StageSpan] = []

    def now(self) -> float:
        """Seconds since the run started."""
        return anyio.current_time() - self._started

    def add(self, stage: Stage, index: int | None, start_s: float, end_s: float) -> None:
        """Record a span measured elsewhere (a slide taken from a stream)."""
        self.spans.append(StageSpan(stage=stage, index=index, start_s=start_s, end_s=end_s))

    @contextlib.contextmanager
    def span(self, stage: Stage, index: int | None) -> Iterator[Stopwatch]:
        """Record the block as a span of ``stage`` (for slide ``index``), even when it fails."""
        watch = Stopwatch(self.now())
        try:
            yield watch
        finally:
            watch.end_s = self.now()
            self.add(stage, index, watch.start_s, watch.end_s)


@contextlib.contextmanager
def for_slide(index: int) -> Iterator[None]:
    """Make :func:`slidestream.current_slide_index` return ``index`` inside the block."""
    token = _slide_index.set(index)
    try:
        yield
    finally:
        _slide_index.reset(token)


class RunContext:
    """The state one run's stages share; create it inside the run's task."""

    def __init__(
        self,
        *,
        request: DeckRequest,
        project_dir: Path,
        providers: Providers,
        limits: ConcurrencyLimits,
        options: RenderOptions,
        assembler_factory: AssemblerFactory,
        send: MemoryObjectSendStream[Event],
        timeouts: Timeouts | None = None,
    ) -> None:
        self.request = request
        self.project_dir = project_dir
        self.providers = providers
        self.options = options
        self.assembler_factory = assembler_factory
        self.clock = Clock()
        self.slides: dict[int, SlideRecord] = {}
        """One record per slide, by index, from the moment its script exists."""
        self.stream_error: str | None = None
        """Why ``stream_slides()`` stopped early, if it did; named in later script errors."""
        self.limits = limits
        self.timeouts = timeouts if timeouts is not None else Timeouts()
        """How long each provider call may take (see :mod:`.deadlines`)."""
        self._send = send

    def now(self) -> float:
        """Seconds since the run started."""
        return self.clock.now()

    async def emit(self, event: Event) -> None:
        """Hand ``event`` to the consumer; waits while the consumer's buffer is full."""
        await self._send.send(event)

    def slot(
        self, stage: Stage, slide_index: int | None
    ) -> contextlib.AbstractAsyncContextManager[object]:
        """Hold one of ``stage``'s concurrency slots for the block (for slide ``slide_index``).

        Every limited call goes through here, so how limits are kept (today: one
        :class:`anyio.CapacityLimiter` per stage for this run, from :attr:`limits`) can change
        in this one method. Stages without a limit get a slot at once.
        """
        limiter = self._run_limiters.get(stage)
        return limiter if limiter is not None else contextlib.nullcontext()

    @functools.cached_property
    def _run_limiters(self) -> dict[Stage, anyio.CapacityLimiter]:
        return {
            Stage.SCRIPT: anyio.CapacityLimiter(self.limits.scripts),
            Stage.IMAGES: anyio.CapacityLimiter(self.limits.images),
            Stage.TTS: anyio.CapacityLimiter(self.limits.tts),
        }

    def record(self, script: SlideScript, error: SlideError | None = None) -> SlideRecord:
        """Start the record of the slide ``script`` is for."""
        record = SlideRecord(script=script, errors=[error] if error else [])
        self.slides[script.index] = record
        return record
