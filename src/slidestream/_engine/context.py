"""What one run knows: its request, folder, providers, limits, clock, slides and event sink.

:class:`RunContext` is created inside the run's task and handed to every stage.
:meth:`RunContext.slot` is the one place a provider call takes its limit (from the shared
:class:`~slidestream.Limits`, under the key of the service the provider calls);
:class:`SlideRecord` is everything one slide's stages produced.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream

from .._cache import ProviderAnswers, RunCache
from .._context import _slide_index
from .._events import Event
from .._limits import (
    LimitChanged,
    Limits,
    LimitStatistics,
    ServiceKey,
    SupportsMemberLimits,
    member_keys,
)
from .._limits._signal import member_slots
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


def _stage_providers(providers: Providers) -> dict[Stage, object]:
    found: dict[Stage, object] = {Stage.OUTLINE: providers.script, Stage.SCRIPT: providers.script}
    if providers.images is not None:
        found[Stage.IMAGES] = providers.images
    if providers.tts is not None:
        found[Stage.TTS] = providers.tts
    return found


def _service_keys(stage_providers: dict[Stage, object]) -> dict[Stage, tuple[ServiceKey, ...]]:
    """The services each stage's calls are limited under: its provider's, or, for a chain,
    its members' (each call a chain makes to a member takes that member's limit)."""
    return {
        stage: member_keys(provider) or (ServiceKey.of(provider),)
        for stage, provider in stage_providers.items()
    }


class RunContext:
    """The state one run's stages share; create it inside the run's task."""

    def __init__(
        self,
        *,
        request: DeckRequest,
        project_dir: Path,
        providers: Providers,
        limits: Limits,
        options: RenderOptions,
        assembler_factory: AssemblerFactory,
        send: MemoryObjectSendStream[Event],
        cache: RunCache | None = None,
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
        self.cache = cache
        """The cache this run reads and writes (None: no cache); it records what was reused."""
        self.answers = (
            ProviderAnswers(
                cache, request, script=providers.script, images=providers.images, tts=providers.tts
            )
            if cache is not None
            else None
        )
        """The providers' cached answers (None: no cache)."""
        stage_providers = _stage_providers(providers)
        self.service_keys = _service_keys(stage_providers)
        """The services each stage's provider calls, whose limits its calls are kept under."""
        self._chains = frozenset(
            stage
            for stage, provider in stage_providers.items()
            if isinstance(provider, SupportsMemberLimits)
        )
        self._service_names = frozenset(
            str(key) for keys in self.service_keys.values() for key in keys
        )
        self.timeouts = timeouts if timeouts is not None else Timeouts()
        """How long each provider call may take (see :mod:`.deadlines`)."""
        self._send = send
        self._loop = anyio.lowlevel.current_token().native_token
        self.run_number = limits.next_run()
        """This run's place among the runs sharing :attr:`limits` (earlier goes first)."""
        self._limit_changes: collections.deque[LimitChanged] = collections.deque()
        self._unwatch = limits.watch(self._on_limit_changed)

    def now(self) -> float:
        """Seconds since the run started."""
        return self.clock.now()

    async def emit(self, event: Event) -> None:
        """Hand ``event`` to the consumer; waits while the consumer's buffer is full.

        Limit changes that could not be handed over at once go first, so the consumer sees
        them in order.
        """
        while self._limit_changes:
            await self._send.send(self._limit_changes.popleft())
        await self._send.send(event)

    def close(self) -> None:
        """Stop watching for limit changes (the run is over); those not yet handed over go
        out with the next :meth:`emit`."""
        self._unwatch()

    def _on_limit_changed(self, event: LimitChanged) -> None:
        # Called synchronously by whichever run moved the limit: forward only changes of
        # this run's services made in this event loop, without ever blocking the caller.
        try:
            same_loop = anyio.lowlevel.current_token().native_token is self._loop
        except RuntimeError:
            return
        if not same_loop or event.service not in self._service_names:
            return
        if not self._limit_changes:
            try:
                self._send.send_nowait(event)
                return
            except anyio.WouldBlock:
                pass
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return
        self._limit_changes.append(event)

    def slot(
        self, stage: Stage, slide_index: int | None
    ) -> contextlib.AbstractAsyncContextManager[object]:
        """Hold a slot under the limit of the service ``stage``'s provider calls.

        Every provider call goes through here. The limit belongs to the service (see
        :meth:`ServiceKey.of`), so every run sharing :attr:`limits` shares it; waiting calls
        are let in by ``slide_index``, smallest first. While the slot is held, the provider's
        retry loop can report throttling with :func:`slidestream.report_throttled`. Stages
        without a provider get a slot at once.
        """
        keys = self.service_keys.get(stage)
        if keys is None:
            return contextlib.nullcontext()
        if stage in self._chains:
            return self._member_slots(stage, slide_index)
        return self.limits.slot(keys[0], stage=stage, index=slide_index, run=self.run_number)

    @contextlib.asynccontextmanager
    async def _member_slots(self, stage: Stage, slide_index: int | None) -> AsyncIterator[None]:
        """For a chain's call: each call it makes to a member (through
        :func:`slidestream.member_slot`) takes a slot under that member's own service."""

        def open_slot(member: object) -> contextlib.AbstractAsyncContextManager[object]:
            if isinstance(member, SupportsMemberLimits):  # a chain in the chain: its members
                return contextlib.nullcontext()
            key = ServiceKey.of(member)
            return self.limits.slot(key, stage=stage, index=slide_index, run=self.run_number)

        token = member_slots.set(open_slot)
        try:
            yield
        finally:
            member_slots.reset(token)

    def cpu(self, slide_index: int | None) -> contextlib.AbstractAsyncContextManager[object]:
        """Hold a share of the CPU budget for local work on slide ``slide_index``."""
        return self.limits.cpu(index=slide_index, run=self.run_number)

    def limit_figures(self) -> list[LimitStatistics]:
        """The figures of the limits this run used (shared ones count every run's calls)."""
        figures = self.limits.statistics()
        keys = dict.fromkeys(key for keys in self.service_keys.values() for key in keys)
        used = [figures[key] for key in keys if key in figures and figures[key].calls]
        cpu = figures[ServiceKey.CPU]
        return [*used, cpu] if cpu.calls else used

    def record(self, script: SlideScript, error: SlideError | None = None) -> SlideRecord:
        """Start the record of the slide ``script`` is for."""
        record = SlideRecord(script=script, errors=[error] if error else [])
        self.slides[script.index] = record
        return record
