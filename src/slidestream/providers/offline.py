"""Providers that need no network and no API key.

- :class:`MarkdownScriptProvider` (``markdown``): the deck from a Markdown outline file;
- :class:`GeneratedImageProvider` (``generated``): an illustration drawn for each slide;
- :class:`LocalImageProvider` (``local``): pictures from a folder, matched by file name;
- :class:`PiperTTSProvider` (``piper``): offline speech, with the ``offline`` extra
  (``pip install 'slidestream[offline]'``).

Importing this module does not import piper; creating a :class:`PiperTTSProvider` does.
"""

from .._text import compose_narration as compose_narration
from ._generated_images import GeneratedImageProvider as GeneratedImageProvider
from ._local_images import LocalImageProvider as LocalImageProvider
from ._markdown import MarkdownDeck as MarkdownDeck
from ._markdown import MarkdownScriptProvider as MarkdownScriptProvider
from ._markdown import MarkdownSlide as MarkdownSlide
from ._markdown import load_outline as load_outline
from ._markdown import parse_outline as parse_outline
from ._piper import PiperTTSProvider as PiperTTSProvider

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
