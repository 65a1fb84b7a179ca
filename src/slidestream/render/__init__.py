"""Building the deck files: PPTX, merged narration, subtitles, slide frames and MP4."""

from ._assembler import AssemblerFactory as AssemblerFactory
from ._assembler import AssemblyContext as AssemblyContext
from ._assembler import DeckAssembler as DeckAssembler
from ._assembler import DeckFiles as DeckFiles
from ._assembler import NullAssembler as NullAssembler
from ._deck import StreamingDeckAssembler as StreamingDeckAssembler
from ._options import RenderOptions as RenderOptions

default_assembler: AssemblerFactory = StreamingDeckAssembler
"""The assembler a pipeline uses unless given another."""

__all__ = [
    "AssemblerFactory",
    "AssemblyContext",
    "DeckAssembler",
    "DeckFiles",
    "NullAssembler",
    "RenderOptions",
    "StreamingDeckAssembler",
    "default_assembler",
]
