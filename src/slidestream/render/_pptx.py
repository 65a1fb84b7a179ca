"""The PowerPoint deck, built slide by slide as slides complete."""

from __future__ import annotations

import os
from pathlib import Path

from pptx import Presentation
from pptx.util import Inches

from .._files import temporary_sibling
from .._models import SlideResult
from ._assembler import AssemblyContext

__all__ = ["PptxDeckBuilder"]


class PptxDeckBuilder:
    """Collects slides in completion order; :meth:`save` writes them in slide order."""

    def __init__(self, context: AssemblyContext) -> None:
        self.context = context
        self._slides: dict[int, SlideResult] = {}

    def add_slide(self, slide: SlideResult) -> None:
        """Take a completed slide."""
        self._slides[slide.index] = slide

    def save(self, path: Path) -> Path:
        """Write the deck to ``path`` atomically and return ``path``."""
        deck = Presentation()
        deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
        layout = deck.slide_layouts[1]
        for index in sorted(self._slides):
            script = self._slides[index].script
            page = deck.slides.add_slide(layout)
            page.shapes.title.text = script.title
            page.placeholders[1].text = "\n".join(script.bullets)
            page.notes_slide.notes_text_frame.text = script.narration
        tmp = temporary_sibling(path)
        try:
            deck.save(str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path
