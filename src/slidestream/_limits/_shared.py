""":class:`Limits`: one shareable object holding every limit, keyed by what each protects.

A limit belongs to a service (Edge TTS, one OpenAI-compatible server, an image API) or to the
local CPU, not to a run: every pipeline given the same :class:`Limits` takes its slots from the
same limits, so ten runs that use ``edge-tts`` together hold at most the Edge limit in flight.

The gates are anyio primitives, which belong to one event loop, so they are made lazily per
event loop: runs that share a :class:`Limits` within one event loop (the usual case: many runs
in one process) share every limit; runs in different event loops (threads) each get their own.
With a lease backend (:class:`~slidestream.DaskLeases`), each online service's calls also hold
a place at a gate shared with other processes, so its limit holds across all of them.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, overload

import anyio
import anyio.lowlevel

from .._constants import (
    DEFAULT_MAX_CONCURRENT_IMAGES,
    DEFAULT_MAX_CONCURRENT_SCRIPTS,
    DEFAULT_MAX_CONCURRENT_TTS,
)
from .._exceptions import InvalidInputError
from .._types import ProviderKind, Stage
from ._adaptive import AdaptiveLimit
from ._backend import LeaseBackend, SharedGate
from ._data import LimitChanged, LimitStatistics
from ._gate import Priority, PriorityGate
from ._keys import ServiceKey
from ._signal import current_slot
from ._stage import ConcurrencyLimits

__all__ = ["Limits", "Slot", "default_cpu_budget"]

Watcher = Callable[[LimitChanged], None]


def default_cpu_budget() -> int:
    """The CPUs this process may use (its affinity where the system tells, else the count)."""
    counted: int | None = None
    if hasattr(os, "process_cpu_count"):  # Python 3.13+
        counted = os.process_cpu_count()
    elif hasattr(os, "sched_getaffinity"):
        counted = len(os.sched_getaffinity(0))
    return max(1, counted or os.cpu_count() or 1)


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name}={value!r} is invalid: use a whole number >= 1.")
    return value


def _service_caps(services: Mapping[ServiceKey | str, int] | None) -> dict[ServiceKey, int]:
    """The caps ``services`` sets, by key; clear errors for what cannot be one."""
    if services is None:
        return {}
    if not isinstance(services, Mapping):
        raise InvalidInputError(
            f"services={services!r} is invalid: give a mapping of service to limit, "
            "e.g. Limits(services={'edge-tts': 2})."
        )
    caps: dict[ServiceKey, int] = {}
    for raw_key, value in services.items():
        key = ServiceKey.parse(raw_key)
        if key == ServiceKey.CPU:
            raise InvalidInputError("Set the CPU budget with Limits(cpu=N), not services=.")
        caps[key] = _check_count(f"services[{str(key)!r}]", value)
    return caps


class _Service:
    """One limit in one event loop: its gate and, for online services, how it adapts."""

    def __init__(
        self, key: ServiceKey, cap: int, *, adaptive: bool, shared: SharedGate | None = None
    ) -> None:
        self.key = key
        self.gate = PriorityGate(cap)
        self.policy = AdaptiveLimit(cap, adaptive=adaptive)
        self.shared = shared
        """The place beyond this process each call also holds (None: this process only)."""

    async def take(self, priority: Priority) -> None:
        await self.gate.acquire(priority)
        if self.shared is not None:
            try:
                await self.shared.acquire()
            except BaseException:
                self.gate.release()
                raise

    async def give(self) -> None:
        if self.shared is not None:
            await self.shared.release()  # shielded by the gate itself
        self.gate.release()

    def statistics(self) -> LimitStatistics:
        return LimitStatistics(
            service=self.key,
            in_flight=self.gate.in_flight,
            waiting=self.gate.waiting,
            limit=self.gate.limit,
            cap=self.policy.cap,
            peak_in_flight=self.gate.peak,
            calls=self.gate.admitted,
            throttled=self.policy.throttled,
            lowest_limit=self.policy.lowest,
            adaptive=self.policy.adaptive,
        )


class _LoopState:
    """The limits of one event loop."""

    def __init__(self, cpu_budget: int) -> None:
        self.cpu = _Service(ServiceKey.CPU, cpu_budget, adaptive=False)
        self.services: dict[ServiceKey, _Service] = {}


class Slot:
    """A place under one or more limits, held for one call; use it with ``async with``.

    Made by :meth:`Limits.slot` and :meth:`Limits.cpu`. While it is held it is the task's
    current slot, which :func:`report_throttled` and :func:`sleep_without_slot` act on.
    """

    def __init__(
        self,
        limits: Limits,
        services: list[_Service],
        *,
        index: int | None,
        current: bool,
        run: int = 0,
    ) -> None:
        self._limits = limits
        self._services = services
        self._current = current
        self._token: Any = None
        self._entered = False
        self.index = index
        """The slide this slot is for (None: deck-level work); smaller goes first."""
        self.run = run
        """The run's number (:meth:`Limits.next_run`); after first slides, smaller goes first."""
        self.held = False
        """Whether the slot holds its place now (not while it sleeps without it)."""
        self.throttled = False
        """Whether the service throttled this call."""
        self._saturated = False
        self._retaking: anyio.Lock | None = None
        """Made on the first retry wait: lets one task at a time take the place back."""

    @property
    def service(self) -> ServiceKey:
        """What the slot's first limit protects."""
        return self._services[0].key

    async def __aenter__(self) -> Slot:
        if self._entered:
            raise RuntimeError("a Slot can be entered only once; ask Limits for a new one")
        self._entered = True
        await self._acquire()
        if self._current:
            self._token = current_slot.set(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            current_slot.reset(self._token)
            self._token = None
        if self.held:
            await self._release()
        if exc_type is None and not self.throttled:
            service = self._services[0]
            self._limits._apply(service, service.policy.on_success(saturated=self._saturated), None)

    async def _acquire(self) -> None:
        priority = _priority(self.index, self.run)
        taken: list[_Service] = []
        try:
            for service in self._services:
                await service.take(priority)
                taken.append(service)
        except BaseException:
            with anyio.CancelScope(shield=True):
                for service in reversed(taken):
                    await service.give()
            raise
        gate = self._services[0].gate
        self._saturated = gate.in_flight >= gate.limit or gate.waiting > 0
        self.held = True

    async def _release(self) -> None:
        self.held = False
        for service in reversed(self._services):
            await service.give()

    def report_throttled(self, retry_after_s: float | None = None) -> None:
        """The service throttled this call: its limit backs off."""
        self.throttled = True
        service = self._services[0]
        in_flight = service.gate.in_flight + (0 if self.held else 1)
        self._limits._apply(service, service.policy.on_throttled(in_flight), retry_after_s)

    async def sleep_released(self, delay_s: float) -> None:
        """Wait ``delay_s`` seconds without holding the slot, then take it again.

        Tasks that share the slot (a call that downloads several images at once, each
        download retrying on its own) may wait at the same time: the place is given back
        once and taken back once, by whichever wakes first.
        """
        if self.held:
            await self._release()
        await anyio.sleep(delay_s)
        await self._take_back()

    async def _take_back(self) -> None:
        """Hold the place again, unless a task sharing the slot took it back already."""
        if self._retaking is None:
            self._retaking = anyio.Lock()
        async with self._retaking:
            if not self.held:
                await self._acquire()


def _priority(index: int | None, run: int) -> Priority:
    """Where a waiting call goes in line: first what every run's first slide needs (its
    deck-level work, ``index`` None, such as the outline, then slide 1), earlier runs first;
    then the rest, the run that started first before later ones, lower slides first. So every
    run shows its first slide early, and runs finish one after another rather than all at
    the end."""
    if index is None or index == 0:
        return (0.0, float(run), -1.0 if index is None else 0.0)
    return (1.0, float(run), float(index))


class Limits:
    """Limits on calls in flight, shared by every pipeline and run it is given to.

    Each online service gets one limit, whoever calls it: ``services`` sets it by key or
    name; otherwise the limit of the stage that first calls it applies (``scripts``,
    ``images``, ``tts``). Online limits back off when the service throttles and grow back on
    success, never above the cap (``adaptive=False`` keeps them fixed). Local work (Piper,
    drawn images, frames, encoding) also shares one CPU budget, lower slides first.

    Example::

        limits = ss.Limits(tts=3, services={"edge-tts": 2})
        a = ss.StreamingPipeline(..., limits=limits)
        b = ss.StreamingPipeline(..., limits=limits)   # a and b together: <= 2 Edge calls
        limits.statistics("edge-tts").peak_in_flight

    Args:
        scripts: calls in flight per script service, unless ``services`` says.
        images: calls in flight per image service, unless ``services`` says.
        tts: calls in flight per TTS service, unless ``services`` says.
        services: limits by service: a :class:`ServiceKey`, or a name (which covers every
            endpoint of that name without a limit of its own).
        cpu: the CPU budget shared by local work (default: the CPUs this process may use).
        adaptive: whether online limits follow throttling.
        leases: hold each online service's limit across processes too, e.g. every worker of
            a Dask cluster (:class:`~slidestream.DaskLeases`). The CPU budget, local services
            and adaptive backoff stay per process; a backed-off limit lowers what this
            process takes, never the shared cap.
    """

    def __init__(
        self,
        *,
        scripts: int = DEFAULT_MAX_CONCURRENT_SCRIPTS,
        images: int = DEFAULT_MAX_CONCURRENT_IMAGES,
        tts: int = DEFAULT_MAX_CONCURRENT_TTS,
        services: Mapping[ServiceKey | str, int] | None = None,
        cpu: int | None = None,
        adaptive: bool = True,
        leases: LeaseBackend | None = None,
    ) -> None:
        self.scripts = _check_count("scripts", scripts)
        self.images = _check_count("images", images)
        self.tts = _check_count("tts", tts)
        self.cpu_budget = default_cpu_budget() if cpu is None else _check_count("cpu", cpu)
        if not isinstance(adaptive, bool):
            raise InvalidInputError(
                f"adaptive={adaptive!r} is invalid: pass True (online limits follow throttling) "
                "or False (they stay at their caps)."
            )
        self.adaptive = adaptive
        if leases is not None and not isinstance(leases, LeaseBackend):
            raise InvalidInputError(
                f"leases={leases!r} is invalid: pass a lease backend such as "
                "slidestream.DaskLeases(), or leave it out."
            )
        self.leases = leases
        """Where online limits are held beyond this process (None: in this process only)."""
        self.services = _service_caps(services)
        self._stage_caps = {
            Stage.OUTLINE.value: self.scripts,
            Stage.SCRIPT.value: self.scripts,
            Stage.IMAGES.value: self.images,
            Stage.TTS.value: self.tts,
        }
        self._caps: dict[ServiceKey, int] = {}
        self._lock = threading.Lock()
        self._states: weakref.WeakKeyDictionary[object, _LoopState] = weakref.WeakKeyDictionary()
        self._last_state: _LoopState | None = None
        self._watchers: tuple[Watcher, ...] = ()
        self._runs = itertools.count()

    @classmethod
    def default(cls) -> Limits:
        """The process's own limits, with the built-in caps: those of every pipeline given
        neither ``limits=`` nor ``max_concurrent_*``.

        So pipelines made separately in one process (one per request, say) still share each
        service's limit and the CPU budget, as they share the service and the cores.
        """
        global _process_limits
        with _PROCESS_LIMITS_LOCK:
            if _process_limits is None:
                _process_limits = cls()
            return _process_limits

    @classmethod
    def from_concurrency(cls, limits: ConcurrencyLimits, **options: Any) -> Limits:
        """Limits with the per-stage caps of ``limits`` (the pipelines' ``max_concurrent_*``)."""
        return cls(scripts=limits.scripts, images=limits.images, tts=limits.tts, **options)

    def __repr__(self) -> str:
        services = {str(key): value for key, value in self.services.items()}
        return (
            f"Limits(scripts={self.scripts}, images={self.images}, tts={self.tts}, "
            f"services={services!r}, cpu={self.cpu_budget}, adaptive={self.adaptive}"
            + ("" if self.leases is None else f", leases={self.leases!r}")
            + ")"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # The configuration travels (to a worker process); the live gates do not.
        return (_rebuild, (self._config(),))

    def _config(self) -> dict[str, Any]:
        return {
            "scripts": self.scripts,
            "images": self.images,
            "tts": self.tts,
            "services": dict(self.services),
            "cpu": self.cpu_budget,
            "adaptive": self.adaptive,
            "leases": self.leases,
        }

    def with_leases(self, leases: LeaseBackend | None) -> Limits:
        """New limits with this configuration, held beyond this process through ``leases``."""
        return Limits(**{**self._config(), "leases": leases})

    # -- taking slots ------------------------------------------------------------------------

    def cap(self, key: ServiceKey | str, stage: Stage | ProviderKind | str | None = None) -> int:
        """The configured limit of ``key``: from ``services``, else the limit of ``stage``.

        A service without a limit of its own takes the limit of the stage that first asks for
        it, and keeps it.
        """
        key = ServiceKey.parse(key)
        if key == ServiceKey.CPU:
            return self.cpu_budget
        explicit = self.services.get(key)
        if explicit is None and key.endpoint:
            explicit = self.services.get(ServiceKey(key.name))
        if explicit is not None:
            return explicit
        with self._lock:
            known = self._caps.get(key)
            if known is not None:
                return known
            by_stage = None if stage is None else self._stage_caps.get(str(stage))
            if by_stage is None:
                raise InvalidInputError(
                    f"No limit is set for service {str(key)!r}: give it one with "
                    f"Limits(services={{{key.name!r}: N}}), or say which stage calls it."
                )
            self._caps[key] = by_stage
            return by_stage

    def slot(
        self,
        key: ServiceKey | str,
        *,
        stage: Stage | ProviderKind | str | None = None,
        index: int | None = None,
        run: int = 0,
    ) -> Slot:
        """A slot under the limit of ``key``, for one call (``async with limits.slot(...)``).

        Waiting calls are let in by slide ``index``, smallest first; among runs sharing the
        limits, every run's first slide (and its deck-level work, ``index`` None) goes before
        other slides, and then the earlier ``run`` (:meth:`next_run`). A local service's slot
        also holds a share of the CPU budget.
        """
        key = ServiceKey.parse(key)
        if key == ServiceKey.CPU:
            return self.cpu(index=index, run=run)
        state = self._state()
        service = state.services.get(key)
        if service is None:
            service = state.services[key] = self._service(key, self.cap(key, stage))
        services = [service, state.cpu] if key.local else [service]
        return Slot(self, services, index=index, current=True, run=run)

    def cpu(self, *, index: int | None = None, run: int = 0) -> Slot:
        """A share of the CPU budget for one piece of local work, lower slides first."""
        return Slot(self, [self._state().cpu], index=index, current=False, run=run)

    def next_run(self) -> int:
        """A number for a run that starts now (0, 1, 2...): the order runs sharing these
        limits are served in, after every run's first slide."""
        with self._lock:
            return next(self._runs)

    def report_throttled(self, key: ServiceKey | str, retry_after_s: float | None = None) -> None:
        """Report throttling of ``key`` for a call made outside a slot.

        Inside a slot, a provider calls :func:`slidestream.report_throttled` instead, which
        finds the service by itself.
        """
        key = ServiceKey.parse(key)
        state = self._state()
        service = state.services.get(key)
        if service is None:
            service = state.services[key] = self._service(key, self.cap(key))
        self._apply(service, service.policy.on_throttled(service.gate.in_flight + 1), retry_after_s)

    def close(self) -> None:
        """Stop what the limits keep running beyond this process (lease refreshes), once no
        slot is held any more. Limits without ``leases`` have nothing to stop."""
        with self._lock:
            states = list(self._states.values())
        for state in states:
            for service in state.services.values():
                if service.shared is not None:
                    service.shared.close()

    # -- what the limits tell ----------------------------------------------------------------

    def watch(self, callback: Watcher) -> Callable[[], None]:
        """Call ``callback`` with a :class:`LimitChanged` whenever a limit moves.

        It is called synchronously, in the event loop whose call moved the limit, so it must
        not block. Returns a function that stops the watching.
        """
        with self._lock:
            self._watchers = (*self._watchers, callback)

        def unwatch() -> None:
            with self._lock:
                self._watchers = tuple(w for w in self._watchers if w is not callback)

        return unwatch

    @overload
    def statistics(self) -> dict[ServiceKey, LimitStatistics]: ...

    @overload
    def statistics(self, key: ServiceKey | str) -> LimitStatistics: ...

    def statistics(
        self, key: ServiceKey | str | None = None
    ) -> dict[ServiceKey, LimitStatistics] | LimitStatistics:
        """Every limit's figures (in flight, waiting, limit, cap, peak...), or one's.

        Inside an event loop, the figures of that loop's limits; outside, of the loop that
        used them last. Services that were configured but not called yet show zeros.
        """
        state = self._current_or_last_state()
        figures: dict[ServiceKey, LimitStatistics] = {}
        for configured in self.services:
            figures[configured] = _Service(
                configured, self.services[configured], adaptive=self.adaptive
            ).statistics()
        if state is not None:
            figures.update({k: service.statistics() for k, service in state.services.items()})
        cpu = state.cpu if state is not None else _LoopState(self.cpu_budget).cpu
        figures[ServiceKey.CPU] = cpu.statistics()
        if key is None:
            return figures
        wanted = ServiceKey.parse(key)
        found = figures.get(wanted)
        if found is None:
            known = ", ".join(sorted(str(k) for k in figures))
            raise InvalidInputError(
                f"No limit for service {str(wanted)!r} has been used or set (known: {known})."
            )
        return found

    def _service(self, key: ServiceKey, cap: int) -> _Service:
        online = not key.local
        shared = self.leases.gate(key, cap) if self.leases is not None and online else None
        return _Service(key, cap, adaptive=self.adaptive and online, shared=shared)

    # -- internals ---------------------------------------------------------------------------

    def _state(self) -> _LoopState:
        try:
            loop = anyio.lowlevel.current_token().native_token
        except RuntimeError as error:  # anyio's NoEventLoopError is a RuntimeError
            raise RuntimeError("slots are taken inside a running event loop") from error
        with self._lock:
            state = self._states.get(loop)
            if state is None:
                state = self._states[loop] = _LoopState(self.cpu_budget)
            self._last_state = state
            return state

    def _current_or_last_state(self) -> _LoopState | None:
        try:
            return self._state()
        except RuntimeError:
            return self._last_state

    def _apply(self, service: _Service, new_limit: int | None, retry_after_s: float | None) -> None:
        if new_limit is None:
            return
        lowered = new_limit < service.gate.limit
        service.gate.set_limit(new_limit)
        event = LimitChanged(
            service=str(service.key),
            limit=new_limit,
            cap=service.policy.cap,
            reason="throttled" if lowered else "recovered",
            retry_after_s=retry_after_s if lowered else None,
        )
        for watcher in self._watchers:
            watcher(event)


_PROCESS_LIMITS_LOCK = threading.Lock()
_process_limits: Limits | None = None


def _rebuild(config: dict[str, Any]) -> Limits:
    return Limits(**config)
