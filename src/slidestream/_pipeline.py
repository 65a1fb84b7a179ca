"""The public pipelines: :class:`StreamingPipeline` and the :class:`SequentialPipeline` baseline."""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from . import _registry, render
from ._cache import (
    USER_CACHE_DIR,
    CacheStore,
    RunCache,
    UserCacheDir,
    default_max_bytes,
    parse_size,
    resolve_cache_dir,
)
from ._constants import (
    DEFAULT_LANGUAGE,
    DEFAULT_MAX_CONCURRENT_IMAGES,
    DEFAULT_MAX_CONCURRENT_SCRIPTS,
    DEFAULT_MAX_CONCURRENT_TTS,
    DEFAULT_OUTPUT_DIR,
)
from ._engine import (
    Providers,
    RunMode,
    Schedule,
    SequentialSchedule,
    StreamingSchedule,
    aclose_all,
    run_deck,
)
from ._events import Event
from ._exceptions import ConfigurationError, InvalidInputError, ProviderNotFoundError
from ._files import resolve_project_dir
from ._limits import ConcurrencyLimits, Limits
from ._models import DeckRequest, DeckResult
from ._project import claim_project
from ._stream import DeckEventStream
from ._text import clean_text
from ._timeouts import Timeouts
from ._types import CacheKind, ProviderKind
from .providers._protocols import ImageProvider, ScriptProvider, TTSProvider
from .render import AssemblerFactory, RenderOptions

__all__ = ["SequentialPipeline", "StreamingPipeline"]


def _check_kind(value: object, kind: ProviderKind) -> None:
    """Refuse a provider object (not a name) that lacks the ``kind`` protocol's methods."""
    if value is not None and not isinstance(value, str) and _registry.provider_kind(value) != kind:
        raise ConfigurationError(
            f"{type(value).__name__} is not {kind.label}: it lacks the protocol's methods."
        )


def _require_script_provider(value: object) -> None:
    """Refuse a missing script provider (images and TTS are optional, the script is not)."""
    if value is None:
        raise ConfigurationError(
            "script_provider is required: pass a ScriptProvider object or a registered name "
            "such as 'markdown' or 'openai' (see `slidestream providers`)."
        )


def _limits(
    limits: Limits | None, scripts: int | None, images: int | None, tts: int | None
) -> Limits:
    """The shared ``limits``, limits private to one pipeline from ``max_concurrent_*``, or
    (given neither) the process's own (:meth:`Limits.default`)."""
    given = {
        name: value
        for name, value in (("scripts", scripts), ("images", images), ("tts", tts))
        if value is not None
    }
    if limits is None and not given:
        return Limits.default()
    if limits is None:
        return Limits.from_concurrency(
            ConcurrencyLimits(
                scripts=given.get("scripts", DEFAULT_MAX_CONCURRENT_SCRIPTS),
                images=given.get("images", DEFAULT_MAX_CONCURRENT_IMAGES),
                tts=given.get("tts", DEFAULT_MAX_CONCURRENT_TTS),
            )
        )
    if not isinstance(limits, Limits):
        raise InvalidInputError(
            f"limits={limits!r} is invalid: pass a slidestream.Limits (or leave it out)."
        )
    if given:
        names = ", ".join(f"max_concurrent_{name}" for name in given)
        example = ", ".join(f"{name}={value}" for name, value in given.items())
        raise InvalidInputError(
            f"Pass either limits= or {names}, not both: put the caps in the shared limits, "
            f"e.g. slidestream.Limits({example})."
        )
    return limits


def _not_found(name: str, kind: ProviderKind) -> str:
    """Says that no provider is named ``name`` and which ``kind`` providers there are."""
    names = []
    for info in _registry.list_providers():
        try:
            if _registry.provider_kind(_registry.load(info.name)) == kind:
                names.append(info.name)
        except ConfigurationError:  # its extra is not installed: not offered
            continue
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"There is no {kind.label.split(' ', 1)[1]} named {name!r}.{hint} Choose one of "
        f"{', '.join(names) or '(none installed)'}, or run `slidestream providers`."
    )


def _resolve(value: object, kind: ProviderKind, owned: list[object]) -> Any:
    if value is None or not isinstance(value, str):
        return value
    names = [name.strip() for name in value.split(",") if name.strip()]
    members = []
    for name in names:
        try:
            member = _registry.get(name)
        except ProviderNotFoundError:
            raise ProviderNotFoundError(_not_found(name, kind)) from None
        members.append(member)
        if _registry.provider_kind(member) != kind:
            owned.extend(members)
            raise ConfigurationError(f"Provider {name!r} is not {kind.label}.")
    if len(members) == 1:
        owned.append(members[0])
        return members[0]
    chain = _registry.fallback_chain(kind, members)
    owned.append(chain)
    return chain


class StreamingPipeline:
    """Writes a deck slide by slide, starting each slide's image and TTS work at once.

    Providers may be given as objects or as registered names (``"edge-tts"``); several image
    or TTS names separated by commas (``"edge-tts,piper"``) make a fallback chain tried in
    order. Providers the pipeline creates from names are closed at the end of each run. Each
    run writes into ``output_dir/<project>/``.

    Example::

        pipeline = StreamingPipeline(script_provider=..., tts_provider=..., output_dir="out")
        deck = await pipeline.run("Quantum computing", slides=8)
        print(deck.report())
    """

    def __init__(
        self,
        *,
        script_provider: ScriptProvider | str,
        image_provider: ImageProvider | str | None = None,
        tts_provider: TTSProvider | str | None = None,
        max_concurrent_scripts: int | None = None,
        max_concurrent_images: int | None = None,
        max_concurrent_tts: int | None = None,
        output_dir: str | Path = DEFAULT_OUTPUT_DIR,
        render_options: RenderOptions | None = None,
        assembler: AssemblerFactory | None = None,
        progressive: bool = True,
        limits: Limits | None = None,
        timeouts: Timeouts | float | None = None,
        cache_dir: str | os.PathLike[str] | UserCacheDir | None = USER_CACHE_DIR,
        cache_max_bytes: int | str | None = None,
    ) -> None:
        """Configure the pipeline; nothing runs until :meth:`run` or :meth:`stream`.

        Args:
            max_concurrent_scripts: script calls in flight (default 4); with the two below,
                makes limits private to this pipeline. Not together with ``limits``.
            max_concurrent_images: image calls in flight (default 5).
            max_concurrent_tts: TTS calls in flight (default 3).
            render_options: which deck files to write and how (defaults: all of them).
            assembler: builds the deck files from completed slides (a custom one replaces
                the built-in PPTX/audio/subtitle/video assembly).
            progressive: hand each slide to the assembler the moment it completes (default);
                ``False`` waits until every slide is done, as older pipelines did.
            limits: limits shared with other pipelines and runs (a :class:`Limits`): each
                service's limit then holds across all of them together. Given neither this
                nor ``max_concurrent_*``, the pipeline uses the process's limits
                (:meth:`Limits.default`), shared by every such pipeline.
            timeouts: how long each provider call may take, per stage, and the run's
                deadline (:class:`Timeouts`; a number is every stage's limit in seconds).
                Default: the built-in limits, changed by ``SLIDESTREAM_TIMEOUT`` and
                ``SLIDESTREAM_DEADLINE`` when set.
            cache_dir: where answers and deck pieces are kept so that nothing is made twice
                (default: ``$SLIDESTREAM_CACHE_DIR``, else the user cache folder from
                platformdirs); ``None`` turns the cache off.
            cache_max_bytes: the cache's size cap (bytes, or ``"2G"``); least recently used
                entries are removed after a run beyond it (default:
                ``$SLIDESTREAM_CACHE_MAX_SIZE``, else 2 GiB).
        """
        self.limits = _limits(
            limits, max_concurrent_scripts, max_concurrent_images, max_concurrent_tts
        )
        """The limits every run of this pipeline takes its slots from."""
        _require_script_provider(script_provider)
        for value, kind in (
            (script_provider, ProviderKind.SCRIPT),
            (image_provider, ProviderKind.IMAGES),
            (tts_provider, ProviderKind.TTS),
        ):
            _check_kind(value, kind)
        self.script_provider = script_provider
        self.image_provider = image_provider
        self.tts_provider = tts_provider
        self.output_dir = Path(output_dir)
        self.render_options = render_options or RenderOptions()
        self.assembler = assembler
        self.progressive = progressive
        self.timeouts = Timeouts.coerce(timeouts)
        self.cache_dir = resolve_cache_dir(cache_dir)
        """The cache folder, or None when the cache is off."""
        self.cache_max_bytes = (
            default_max_bytes() if cache_max_bytes is None else parse_size(cache_max_bytes)
        )

    @property
    def mode(self) -> RunMode:
        """The schedule this pipeline runs: ``"streaming"`` or ``"sequential"``."""
        return self._schedule().mode

    def _schedule(self) -> Schedule:
        return StreamingSchedule(progressive=self.progressive)

    def stream(
        self,
        topic: str,
        *,
        project: str | None = None,
        language: str = DEFAULT_LANGUAGE,
        slides: int | None = None,
        voice: str | None = None,
        images_per_slide: int = 1,
        source_text: str | None = None,
        audience: str | None = None,
        tone: str | None = None,
        video: bool | None = None,
        fresh: bool = False,
    ) -> DeckEventStream:
        """Start a run and get its events as they happen.

        Use it as ``async with pipeline.stream(topic) as events: async for event in events``;
        the run starts when the block is entered and stops when it is left (iterating without
        ``async with`` raises :class:`RuntimeError`). Bad input (an unsafe project name, an
        empty topic) raises :class:`InvalidInputError` here, before anything is written.

        With the cache on, whatever was made before for the same inputs is reused (a run that
        stopped half-way resumes where it stopped); ``fresh=True`` asks the script provider
        for a new outline and new scripts instead of reusing its earlier answers.

        A run owns its project folder while it runs: another run naming the same ``project``
        fails with :class:`ProjectBusyError`; without ``project``, a busy folder is skipped
        for the next free name.
        """
        topic = clean_text(topic).strip()
        project_dir = resolve_project_dir(self.output_dir, topic, project)
        request = DeckRequest(
            topic=topic,
            project=project_dir.name,
            language=language,
            slides=slides,
            voice=voice,
            images_per_slide=images_per_slide,
            source_text=source_text,
            audience=audience,
            tone=tone,
        )
        options = self.render_options
        if video is not None:
            options = render.RenderOptions(**{**vars(options), "video": video})

        async def produce(send: MemoryObjectSendStream[Event]) -> None:
            await self._produce(request, project, options, send, fresh=fresh)

        return DeckEventStream(produce)

    async def run(
        self,
        topic: str,
        *,
        project: str | None = None,
        language: str = DEFAULT_LANGUAGE,
        slides: int | None = None,
        voice: str | None = None,
        images_per_slide: int = 1,
        source_text: str | None = None,
        audience: str | None = None,
        tone: str | None = None,
        video: bool | None = None,
        fresh: bool = False,
    ) -> DeckResult:
        """Run the whole pipeline and return the finished deck (``stream()`` drained).

        Takes the same keyword arguments as :meth:`stream`.
        """
        events = self.stream(
            topic,
            project=project,
            language=language,
            slides=slides,
            voice=voice,
            images_per_slide=images_per_slide,
            source_text=source_text,
            audience=audience,
            tone=tone,
            video=video,
            fresh=fresh,
        )
        async with events:
            async for _event in events:
                pass
        assert events.deck is not None
        return events.deck

    async def _produce(
        self,
        request: DeckRequest,
        project: str | None,
        options: RenderOptions,
        send: MemoryObjectSendStream[Event],
        *,
        fresh: bool,
    ) -> None:
        owned: list[object] = []
        try:
            # Named providers are made before the folder is claimed, so a name that does
            # not exist leaves no folder behind.
            providers = Providers(
                script=_resolve(self.script_provider, ProviderKind.SCRIPT, owned),
                images=_resolve(self.image_provider, ProviderKind.IMAGES, owned),
                tts=_resolve(self.tts_provider, ProviderKind.TTS, owned),
            )
            # Shielded: a claim taken in the worker thread must not be lost to a cancellation.
            with anyio.CancelScope(shield=True):
                claim = await anyio.to_thread.run_sync(
                    claim_project, self.output_dir, request.topic, project
                )
            try:
                await run_deck(
                    request=replace(request, project=claim.folder.name),
                    project_dir=claim.folder,
                    providers=providers,
                    limits=self.limits,
                    options=options,
                    assembler_factory=self.assembler or render.default_assembler,
                    schedule=self._schedule(),
                    send=send,
                    timeouts=self.timeouts,
                    cache=self._run_cache(fresh=fresh),
                )
            finally:
                claim.release()
        finally:
            await aclose_all(owned)  # only the providers created here from names

    def _run_cache(self, *, fresh: bool) -> RunCache | None:
        if self.cache_dir is None:
            return None
        store = CacheStore(self.cache_dir)
        fresh_kinds = (CacheKind.OUTLINE, CacheKind.SCRIPT) if fresh else ()
        return RunCache(store, max_bytes=self.cache_max_bytes, fresh=fresh_kinds)


class SequentialPipeline(StreamingPipeline):
    """The baseline: every stage for all slides, one call at a time, before the next stage.

    Same providers, same options and the same slides as :class:`StreamingPipeline`; only the
    schedule differs (outline, then all scripts, then all images, then all narration, then
    the deck files), as pipelines did before streaming. Use it for comparisons and benchmarks.
    """

    def _schedule(self) -> Schedule:
        return SequentialSchedule()
