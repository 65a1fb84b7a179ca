"""The ``slidestream`` subcommands: make (and demo), batch, cache, providers, serve."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import anyio
from rich.console import Console

from .. import _registry
from .._batch import batch
from .._batch._display import BatchProgress, summary_table
from .._batch._inputs import expand_inputs
from .._cache import default_cache_dir, default_max_bytes, parse_size, resolve_cache_dir
from .._cache.commands import clear_text, info_text, prune_text
from .._exceptions import ConfigurationError
from .._pipeline import SequentialPipeline, StreamingPipeline
from ..providers import SupportsAclose
from ..providers.script.markdown import MarkdownScriptProvider
from ..render import RenderOptions
from ..render._template import open_template
from ._codes import (
    EXIT_FAILED,
    EXIT_OK,
)
from ._inputs import (
    cache_dir_from,
    choose_providers,
    concurrency_from,
    concurrency_text,
    default_tts,
    provider_names,
    provider_options,
    service_limits,
    timeouts_from,
    topic_or_file,
)
from ._output import Printer
from ._signals import until_signal

__all__ = ["batch_command", "cache_command", "make_command", "providers_command", "serve_command"]


async def make_command(args: argparse.Namespace, console: Console) -> int:
    """``slidestream make`` (and ``demo``): one deck, its events printed as they come."""
    timeouts = timeouts_from(args)
    topic, source_file = topic_or_file(args.source)
    providers = choose_providers(args, source_file)
    language, voice = args.lang, args.voice
    script = providers["script_provider"]
    if isinstance(script, MarkdownScriptProvider):
        topic = script.deck.title
        language = language or script.deck.language
        voice = voice or script.deck.voice
    if args.template is not None:  # read whole now: a damaged one is refused before any folder
        await anyio.to_thread.run_sync(open_template, args.template)
    pipeline_class = SequentialPipeline if args.sequential else StreamingPipeline
    pipeline = pipeline_class(
        **providers,
        **concurrency_from(args),
        output_dir=args.out,
        render_options=RenderOptions(video=not args.no_video, template=args.template),
        timeouts=timeouts,
        cache_dir=cache_dir_from(args),
    )
    printer = Printer(console)
    console.print(f"Starting the {pipeline.mode} pipeline ({concurrency_text(args)})")
    stream = pipeline.stream(
        topic,
        project=args.project,
        language=language or "en",
        slides=args.slides,
        voice=voice,
        audience=args.audience,
        tone=args.tone,
        fresh=args.fresh,
    )

    async def drain() -> int:
        async with stream as events:
            async for event in events:
                printer(event)
        return EXIT_OK

    try:
        return await until_signal(drain)
    finally:
        if isinstance(script, SupportsAclose):  # made here from options, so closed here
            await script.aclose()


def cache_command(args: argparse.Namespace, console: Console) -> int:
    """``slidestream cache info|prune|clear``."""
    root = resolve_cache_dir(args.cache_dir if args.cache_dir else default_cache_dir())
    assert root is not None  # only None asks for no cache
    if args.cache_command == "info":
        console.print(info_text(root, default_max_bytes()))
    elif args.cache_command == "prune":
        limit = default_max_bytes() if args.max_size is None else parse_size(args.max_size)
        console.print(prune_text(root, limit))
    else:
        console.print(clear_text(root))
    return EXIT_OK


def batch_command(args: argparse.Namespace, console: Console) -> int:
    """``slidestream batch``: many decks under one set of limits, with a progress table."""
    items = expand_inputs(args.inputs)
    if all(item.markdown is not None for item in items):
        # Outlines bring their own script provider; only images and TTS are chosen here.
        args = argparse.Namespace(**{**vars(args), "script": args.script or "markdown"})
    providers = choose_providers(args, None)
    where = (
        f"on the Dask cluster at {args.cluster}"
        if args.cluster
        else f"on a local Dask cluster of {args.workers} workers"
        if args.workers
        else "in this process"
    )
    console.print(
        f"Making {len(items)} deck{'s' * (len(items) != 1)} {where}, {args.decks} at once"
        f"{' per worker' if args.workers else ''} ({concurrency_text(args)} across the batch)"
    )
    with BatchProgress(console, len(items)) as progress:
        run = functools.partial(
            batch,
            args.inputs,
            **providers,
            output_dir=args.out,
            **concurrency_from(args),
            decks_at_once=args.decks,
            language=args.lang,
            slides=args.slides,
            voice=args.voice,
            audience=args.audience,
            tone=args.tone,
            video=not args.no_video,
            sequential=args.sequential,
            workers=args.workers,
            cluster=args.cluster,
            files=args.files,
            retries=args.retries,
            cache_dir=cache_dir_from(args),
            on_event=progress,
        )
        results = anyio.run(until_signal, run)
    console.print(summary_table(results))
    made = sum(result.ok for result in results)
    console.print(f"{made} of {len(results)} decks made in {Path(args.out).resolve()}")
    return EXIT_OK if made == len(results) else EXIT_FAILED


def providers_command(console: Console) -> int:
    """``slidestream providers``: every registered provider, its kind and where it comes from."""
    infos = _registry.list_providers()
    width = max((len(info.name) for info in infos), default=4)
    for info in infos:
        try:
            kind = str(_registry.provider_kind(_registry.load(info.name)) or "unknown")
        except ConfigurationError as error:
            kind = f"unavailable ({error})"
        source = info.distribution or "runtime"
        console.print(f"{info.name:<{width}}  {kind:<7}  {info.target}  [{source}]")
    return EXIT_OK


def serve_command(args: argparse.Namespace, console: Console) -> int:
    """``slidestream serve``: the web service (the ``server`` extra)."""
    try:
        from ..server import ServerConfig, serve
    except ImportError as error:
        raise ConfigurationError(
            f"The web service needs the server extra ({error.name} is missing): "
            "pip install 'slidestream[server]'"
        ) from None
    try:
        default_tts()
        tts_default: tuple[str, ...] = ("piper", "none")
    except ConfigurationError:
        tts_default = ("edge-tts", "none")
    config = ServerConfig(
        output_dir=Path(args.out),
        token=args.token or None,
        script_providers=provider_names(args.script, ("openai",)),
        image_providers=provider_names(args.images, ("generated", "none")),
        tts_providers=provider_names(args.tts, tts_default),
        provider_options=provider_options(args.option),
        max_decks=args.max_decks,
        max_queue=args.max_queue,
        **concurrency_from(args),
        service_limits=service_limits(args.limit),
        adaptive_limits=not args.fixed_limits,
        cpu_budget=args.cpu,
        cache_dir=cache_dir_from(args),
        resume=not args.no_resume,
        live_preview=not args.no_live,
        grace_s=args.grace,
        cors_origins=tuple(args.cors_origin),
    )
    console.print(f"slidestream serve: http://{args.host}:{args.port}/ (decks in {args.out})")
    serve(
        config,
        host=args.host,
        port=args.port,
        insecure_no_token=args.insecure_no_token,
        log_level=args.log_level,
    )
    return EXIT_OK
