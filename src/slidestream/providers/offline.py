"""Providers that need no network and no API key, gathered in one module.

- :class:`MarkdownScriptProvider` (``markdown``): the deck from a Markdown outline file;
- :class:`GeneratedImageProvider` (``generated``): an illustration drawn for each slide;
- :class:`LocalImageProvider` (``local``): pictures from a folder, matched by file name;
- :class:`PiperTTSProvider` (``piper``): offline speech, with the ``offline`` extra
  (``pip install 'slidestream[offline]'``).

Each lives in its own module (:mod:`slidestream.providers.script.markdown`,
:mod:`slidestream.providers.images.generated`, :mod:`slidestream.providers.images.local`,
:mod:`slidestream.providers.tts.piper`). Importing this module does not import piper;
creating a :class:`PiperTTSProvider` does.
"""

from .._text import compose_narration as compose_narration
from .images.generated import GeneratedImageProvider as GeneratedImageProvider
from .images.local import LocalImageProvider as LocalImageProvider
from .script.markdown import MarkdownDeck as MarkdownDeck
from .script.markdown import MarkdownScriptProvider as MarkdownScriptProvider
from .script.markdown import MarkdownSlide as MarkdownSlide
from .script.markdown import load_outline as load_outline
from .script.markdown import parse_outline as parse_outline
from .tts.piper import PiperTTSProvider as PiperTTSProvider

__all__ = [
    "GeneratedImageProvider",
    "LocalImageProvider",
    "MarkdownDeck",
    "MarkdownScriptProvider",
    "MarkdownSlide",
    "PiperTTSProvider",
    "compose_narration",
    "load_outline",
    "parse_outline",
]
