"""The fonts slidestream draws with: Lato (SIL OFL 1.1), shipped beside this module.

Both the renderer (slide frames, title cards) and the ``generated`` image provider draw text
with these files, so they live here, below both.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont

from .unhinted import drawing_source

__all__ = ["FONT_DIR", "font_path", "load_font"]

FONT_DIR = Path(__file__).parent


def font_path(*, bold: bool = False) -> Path:
    """The shipped font file (Lato Regular or Bold)."""
    return FONT_DIR / ("Lato-Bold.ttf" if bold else "Lato-Regular.ttf")


@functools.lru_cache(maxsize=64)
def load_font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The shipped font at ``size`` pixels, drawn without grid-fitting (see
    :mod:`.unhinted`; cached: Pillow fonts are safe to share read-only)."""
    return ImageFont.truetype(drawing_source(str(font_path(bold=bold))), size)
