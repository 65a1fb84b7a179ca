"""What the ``slidestream`` command prints: text made safe for the terminal, a line per event."""

from __future__ import annotations

import contextlib
import os
import unicodedata

from rich.console import Console

from .._events import (
    AudioReady,
    DeckReady,
    Event,
    ImagesReady,
    LimitChanged,
    OutlineReady,
    SlideScripted,
)
from .._models import DeckResult, SlideResult

__all__ = ["OutputConsole", "Printer", "shown"]


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


class OutputConsole(Console):
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


class Printer:
    """Prints one line per event as it happens."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def say(self, text: str) -> None:
        """Print one line, with anything that could drive the terminal escaped."""
        self.console.print(shown(text))

    def __call__(self, event: Event) -> None:
        say = self.say
        if isinstance(event, OutlineReady):
            count = len(event.outline.items)
            say(f"Outline: {event.outline.title} ({count} slide{'' if count == 1 else 's'})")
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
