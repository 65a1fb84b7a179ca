"""The ``slidestream`` command's arguments: its subcommands and their options."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import __version__
from .._batch import FilesMode
from .._batch._api import DEFAULT_DECKS_AT_ONCE
from .._constants import (
    DEFAULT_MAX_CONCURRENT_IMAGES,
    DEFAULT_MAX_CONCURRENT_SCRIPTS,
    DEFAULT_MAX_CONCURRENT_TTS,
    DEFAULT_OUTPUT_DIR,
)
from .._exceptions import InvalidInputError
from .._timeouts import Timeouts, parse_seconds

__all__ = ["build_parser", "positive", "seconds"]


def positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: use 1 or more")
    return value


def seconds(text: str) -> float:
    """argparse check of a time limit that must be set (``--openai-timeout 30``)."""
    try:
        value = parse_seconds(text, what="")
    except InvalidInputError:
        value = None
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time limit: give seconds such as 60")
    return value


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
    add("--port", type=positive, default=8765, help="port (default: %(default)s)")
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
    add("--max-decks", type=positive, default=2, metavar="N", help="decks made at once")
    add("--max-queue", type=int, default=16, metavar="N", help="decks waiting at most")
    add(
        "--max-concurrent-scripts",
        type=positive,
        default=DEFAULT_MAX_CONCURRENT_SCRIPTS,
        metavar="N",
        help="script calls in flight per script service, all decks together",
    )
    add(
        "--max-concurrent-images",
        type=positive,
        default=DEFAULT_MAX_CONCURRENT_IMAGES,
        metavar="N",
        help="image calls in flight per image service, all decks together",
    )
    add(
        "--max-concurrent-tts",
        type=positive,
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
    add("--cpu", type=positive, metavar="N", help="CPU budget for local work (default: CPUs)")
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
    command.add_argument("--slides", type=positive, help="how many slides to write")
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
        type=positive,
        default=DEFAULT_MAX_CONCURRENT_SCRIPTS,
        metavar="N",
    )
    command.add_argument(
        "--max-concurrent-images",
        type=positive,
        default=DEFAULT_MAX_CONCURRENT_IMAGES,
        metavar="N",
    )
    command.add_argument(
        "--max-concurrent-tts", type=positive, default=DEFAULT_MAX_CONCURRENT_TTS, metavar="N"
    )
    command.add_argument(
        "--openai-timeout",
        type=seconds,
        metavar="S",
        help="openai: the longest silence between chunks of an answer "
        "(default: SLIDESTREAM_OPENAI_TIMEOUT, else 60)",
    )
    command.add_argument(
        "--openai-first-token-timeout",
        type=seconds,
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


def _add_batch_options(command: argparse.ArgumentParser) -> None:
    where = command.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=positive, metavar="N", help="make the decks on a local Dask cluster"
    )
    where.add_argument(
        "--cluster", metavar="ADDRESS", help="make the decks on this Dask scheduler's cluster"
    )
    command.add_argument(
        "--decks",
        type=positive,
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
