"""The ``slidestream`` command.

Exit codes: 0 success, 1 a run that failed, 2 bad usage or input (the message says what to fix),
130 interrupted (Ctrl-C), 143 stopped by SIGTERM (``docker stop``, a service manager). Either
signal cancels the run the same way: work stops, no temporary file or child process is left,
and the manifest says ``cancelled``.

Every error ends in one line on stderr, never a traceback; text that came from files or
providers is printed with control characters escaped, so it cannot drive the terminal.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path

import anyio

from .._allocator import release_freed_memory
from .._exceptions import ConfigurationError, InvalidInputError, SlidestreamError
from ._codes import (
    EXIT_BY_SIGNAL,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
)
from ._commands import (
    batch_command,
    cache_command,
    make_command,
    providers_command,
    serve_command,
)
from ._inputs import choose_providers, timeouts_from
from ._output import OutputConsole, shown
from ._parser import build_parser
from ._signals import Stopped

__all__ = [
    "DEMO_DECK",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "build_parser",
    "choose_providers",
    "main",
    "timeouts_from",
]

DEMO_DECK = Path(__file__).parent.parent / "_examples" / "how-vaccines-work.md"
"""The example deck ``slidestream demo`` makes (shipped inside the package)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``slidestream`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # fontTools warns about odd metadata in installed fonts it reads (a zero 'created' date);
    # nothing a user can act on, and it would break the one-line promise on stderr.
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    release_freed_memory()
    console = OutputConsole(highlight=False, markup=False, soft_wrap=True)
    errors = OutputConsole(stderr=True, highlight=False, markup=False, soft_wrap=True)
    try:
        if args.command == "providers":
            return providers_command(console)
        if args.command == "cache":
            return cache_command(args, console)
        if args.command == "serve":
            return serve_command(args, console)
        if args.command == "demo":
            args.source = str(DEMO_DECK)
            console.print(f"Making the example deck {DEMO_DECK.name}, offline")
        if args.command == "batch":
            return batch_command(args, console)
        return anyio.run(make_command, args, console)
    except (InvalidInputError, ConfigurationError) as error:
        errors.print(f"slidestream: error: {shown(error)}")
        return EXIT_USAGE
    except SlidestreamError as error:
        errors.print(f"slidestream: the run failed: {shown(error)}")
        return EXIT_FAILED
    except Stopped as stopped:
        errors.print(
            f"slidestream: stopped by {stopped}: the run was cancelled; finished files are kept"
        )
        return EXIT_BY_SIGNAL.get(signal.Signals(stopped.signum), 128 + stopped.signum)
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
