"""The PowerPoint deck: built slide by slide as slides complete, written once at the end.

:class:`PptxDeckBuilder` makes the title slide at once, lays out and adds each content slide
the moment :meth:`~PptxDeckBuilder.add_slide` receives it (in any order), and on
:meth:`~PptxDeckBuilder.save` puts the slides in slide order, adds the image credits and
writes the file atomically. Text size, wrapping, continuation slides and image placement come
from ``_layout.py``, the same rules the video frames follow.

With no template the deck uses the built-in 16:9 theme (13.333 x 7.5 in, Lato, the colours of
``_layout.THEME``). With ``RenderOptions.template`` it uses that file's masters, theme and
layouts (chosen by placeholder type, see ``_pptx_layouts.py``) and drops its slides.
"""

from __future__ import annotations

import io
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
from lxml import etree
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.shapes.base import BaseShape
from pptx.shapes.placeholder import SlidePlaceholder
from pptx.slide import Slide
from pptx.text.text import TextFrame, _Paragraph
from pptx.util import Emu, Pt

from .._exceptions import InvalidInputError, RenderError
from .._files import atomic_write_bytes
from .._models import ImageAsset, SlideResult, SlideScript
from ._assembler import AssemblyContext
from ._imaging import PreparedImage, first_image, prepare_for_pptx
from ._layout import (
    THEME,
    Box,
    Bullet,
    PagePlan,
    SlideGeometry,
    builtin_geometry,
    cover_geometry,
    deck_subtitle,
    fit_title,
    join_lines,
    line_pitch,
    plan_pages,
)
from ._pptx_layouts import LayoutChoice, Layouts, choose_layouts
from ._pptx_media import embed_audio, set_auto_advance

__all__ = ["PptxDeckBuilder"]

EMU_PER_PT = 12700
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
FONT = "Lato"
TITLE_SLIDE_MS = 4000
"""How long the title slide stays up when the deck plays by itself."""
CREDITS_TITLE = "Image credits"


def _emu(points: float) -> Emu:
    return Emu(round(points * EMU_PER_PT))


def _rgb(colour: tuple[int, int, int]) -> RGBColor:
    return RGBColor(*colour)  # type: ignore[no-untyped-call]


@dataclass
class _Entry:
    """The PPTX slides made for one script (several when it continues)."""

    slide_ids: list[int]
    credits: list[ImageAsset]


class PptxDeckBuilder:
    """Builds the deck's PPTX as slides arrive; thread-safe, one instance per deck.

    Args:
        context: the run (title, options, slide count).
    """

    def __init__(self, context: AssemblyContext) -> None:
        self.context = context
        self._lock = threading.Lock()
        template = context.options.template
        try:
            self._prs = Presentation(str(template)) if template else Presentation()
        except Exception as err:  # python-pptx raises zipfile, KeyError or lxml errors
            raise InvalidInputError(
                f"Cannot read the template {template}: {err}. Give a .pptx file saved by "
                "PowerPoint, LibreOffice or Keynote."
            ) from err
        self._builtin = template is None
        if self._builtin:
            self._prs.slide_width = _emu(960)
            self._prs.slide_height = _emu(540)
        else:
            self._drop_existing_slides()
        self._layouts: Layouts = choose_layouts(self._prs)
        width = (self._prs.slide_width or 0) / EMU_PER_PT
        height = (self._prs.slide_height or 0) / EMU_PER_PT
        self._size = (width, height)
        if self._builtin:
            self._prs.slide_master.background.fill.solid()
            self._prs.slide_master.background.fill.fore_color.rgb = _rgb(THEME.background)
        self._entries: dict[int, _Entry] = {}
        self._narrated = False
        self._credit_ids: list[int] = []
        self._title_id = self._add_title_slide()

    # -- public ------------------------------------------------------------------------------

    def add_slide(self, slide: SlideResult) -> None:
        """Lay out ``slide`` and add it (and any continuation slides) to the deck.

        Slides may arrive in any order; :meth:`save` sorts them. Adding a slide index again
        replaces the earlier version.
        """
        asset = first_image(slide)
        image: PreparedImage | None = None
        if asset is not None:
            try:
                image = prepare_for_pptx(asset)
            except RenderError:
                asset = None
        geometry = self._geometry(image is not None)
        plans = plan_pages(
            slide.script.title,
            slide.script.bullets,
            geometry,
            image_size=(image.width, image.height) if image is not None else None,
        )
        audio = self._narration(slide)
        with self._lock:
            if slide.index in self._entries:
                self._remove(self._entries.pop(slide.index).slide_ids)
            ids = []
            for plan in plans:
                pptx_slide = self._add_content_slide(slide, plan, image)
                ids.append(pptx_slide.slide_id)
                if plan.page == 0 and audio is not None:
                    self._embed(pptx_slide, slide, plans, audio)
                elif audio is not None and slide.duration_s > 0:
                    set_auto_advance(pptx_slide, self._page_ms(slide, plans, plan.page))
            self._entries[slide.index] = _Entry(ids, [asset] if asset is not None else [])

    def save(self, path: Path) -> Path:
        """Put the slides in order, add the credits slide, and write ``path`` atomically."""
        with self._lock:
            self._add_credits()
            if self._narrated:
                set_auto_advance(self._slide(self._title_id), TITLE_SLIDE_MS)
            order = [self._title_id]
            for index in sorted(self._entries):
                order += self._entries[index].slide_ids
            order += self._credit_ids
            self._reorder(order)
            out = io.BytesIO()
            self._prs.save(out)
        return atomic_write_bytes(path, out.getvalue())

    # -- deck structure ------------------------------------------------------------------------

    def _drop_existing_slides(self) -> None:
        id_list = self._prs.slides._sldIdLst
        for sld_id in list(id_list):
            self._prs.part.drop_rel(sld_id.rId)
            id_list.remove(sld_id)

    def _slide(self, slide_id: int) -> Slide:
        found: Slide | None = self._prs.slides.get(slide_id)
        if found is None:  # pragma: no cover - ids come from our own slides
            raise RenderError(f"Slide id {slide_id} vanished from the deck.")
        return found

    def _remove(self, slide_ids: list[int]) -> None:
        id_list = self._prs.slides._sldIdLst
        for sld_id in list(id_list):
            if sld_id.id in slide_ids:
                self._prs.part.drop_rel(sld_id.rId)
                id_list.remove(sld_id)

    def _reorder(self, order: list[int]) -> None:
        id_list = self._prs.slides._sldIdLst
        by_id = {sld_id.id: sld_id for sld_id in id_list}
        for sld_id in list(id_list):
            id_list.remove(sld_id)
        for slide_id in order:
            id_list.append(by_id[slide_id])
        _ = self._prs.slides  # renames slide parts to slide1.xml, slide2.xml, ... in order

    def _geometry(self, with_image: bool) -> SlideGeometry:
        if self._builtin:
            return builtin_geometry(*self._size)
        return self._layouts.picture_geometry if with_image else self._layouts.geometry

    def _new_slide(self, choice: LayoutChoice) -> Slide:
        slide: Slide = self._prs.slides.add_slide(choice.layout)
        return slide

    # -- slides ------------------------------------------------------------------------------

    def _add_title_slide(self) -> int:
        choice = self._layouts.title
        slide = self._new_slide(choice)
        width, height = self._size
        title = _placeholder(slide, choice.title_idx)
        subtitle = _placeholder(slide, choice.subtitle_idx)
        for ph in list(slide.placeholders):
            if ph not in (title, subtitle):
                _delete(ph)
        sub_text = deck_subtitle(self.context.title, self.context.request.topic)
        if self._builtin:
            slide.background.fill.solid()
            slide.background.fill.fore_color.rgb = _rgb(THEME.cover_background)
            cover = cover_geometry(width, height)
            block = fit_title(
                self.context.title,
                cover.title,
                max_size=cover.title_max,
                min_size=cover.title_min,
                max_lines=cover.title_lines,
            )
            self._rule(slide, cover.rule, THEME.accent)
            if title is not None:
                _place(title, cover.title)
                _fill_text(
                    title.text_frame,
                    self.context.title,
                    block.size,
                    THEME.cover_title,
                    bold=True,
                    anchor=MSO_ANCHOR.BOTTOM,
                    font=FONT,
                )
            if subtitle is not None and sub_text:
                _place(subtitle, cover.subtitle)
                _fill_text(
                    subtitle.text_frame,
                    sub_text,
                    cover.subtitle_size,
                    THEME.cover_subtitle,
                    font=FONT,
                )
            elif subtitle is not None:
                _delete(subtitle)
        else:
            if title is not None:
                box = _box_of(title)
                block = fit_title(self.context.title, box, max_size=44, min_size=24, max_lines=3)
                _fill_text(
                    title.text_frame,
                    self.context.title,
                    block.size,
                    None,
                    anchor=MSO_ANCHOR.MIDDLE,
                    align=None,
                )
            if subtitle is not None and sub_text:
                box = _box_of(subtitle)
                size = fit_title(sub_text, box, max_size=20, min_size=12, max_lines=3).size
                _fill_text(subtitle.text_frame, sub_text, size, None, align=None, bold=False)
            elif subtitle is not None:
                _delete(subtitle)
        return slide.slide_id

    def _add_content_slide(
        self, result: SlideResult, plan: PagePlan, image: PreparedImage | None
    ) -> Slide:
        with_image = image is not None and plan.image is not None
        choice = (
            self._layouts.picture if with_image and not self._builtin else self._layouts.content
        )
        slide = self._new_slide(choice)
        title = _placeholder(slide, choice.title_idx)
        body = _placeholder(slide, choice.body_idx)
        for ph in list(slide.placeholders):
            if ph not in (title, body):
                _delete(ph)
        colours = self._builtin
        if title is not None:
            _place(title, plan.title_box)
            _fill_text(
                title.text_frame,
                plan.title_text,
                plan.title.size,
                THEME.title if colours else None,
                bold=True if colours else None,
                anchor=MSO_ANCHOR.BOTTOM,
                font=FONT if colours else None,
            )
        if body is not None and plan.bullets:
            _place(body, plan.body_box)
            _fill_bullets(body.text_frame, plan, builtin=colours)
        elif body is not None:
            _delete(body)
        if with_image and image is not None and plan.image is not None:
            placement = plan.image
            picture = slide.shapes.add_picture(
                io.BytesIO(image.data),
                _emu(placement.box.x),
                _emu(placement.box.y),
                _emu(placement.box.w),
                _emu(placement.box.h),
            )
            picture.crop_left = placement.crop_left
            picture.crop_right = placement.crop_right
            picture.crop_top = placement.crop_top
            picture.crop_bottom = placement.crop_bottom
            if colours:
                _round_corners(picture, 12 / min(placement.box.w, placement.box.h))
        if colours:
            self._rule(
                slide, Box(plan.title_box.x, plan.title_box.bottom + 10, 56, 5), THEME.accent
            )
            self._footer(slide, result)
        notes = result.script.narration if plan.page == 0 else "(continued)"
        notes_frame = slide.notes_slide.notes_text_frame
        if notes_frame is not None:
            notes_frame.text = notes
        return slide

    def _add_credits(self) -> None:
        self._remove(self._credit_ids)
        self._credit_ids = []
        lines = [
            line
            for index in sorted(self._entries)
            for asset in self._entries[index].credits
            if (line := _credit_line(index, asset))
        ]
        if not lines:
            return
        for plan in plan_pages(CREDITS_TITLE, lines, self._geometry(False)):
            credits = SlideResult(
                index=-1,
                script=SlideScript(index=-1, title=CREDITS_TITLE, narration=CREDITS_TITLE + "."),
            )
            self._credit_ids.append(self._add_content_slide(credits, plan, None).slide_id)

    def _rule(self, slide: Slide, box: Box, colour: tuple[int, int, int]) -> None:
        shape = slide.shapes.add_shape(
            MSO_SHAPE.ROUNDED_RECTANGLE, _emu(box.x), _emu(box.y), _emu(box.w), _emu(box.h)
        )
        shape.adjustments[0] = 0.5
        shape.fill.solid()
        shape.fill.fore_color.rgb = _rgb(colour)
        shape.line.fill.background()
        shape.shadow.inherit = False
        shape.name = "Accent"

    def _footer(self, slide: Slide, result: SlideResult) -> None:
        width, height = self._size
        top = height - 38
        if result.index < 0:
            number = ""
        else:
            number = f"{result.index + 1} / {max(self.context.slide_count, result.index + 1)}"
        for text, box, align in (
            (self.context.title, Box(56, top, width * 0.6, 14), PP_ALIGN.LEFT),
            (number, Box(width - 56 - 120, top, 120, 14), PP_ALIGN.RIGHT),
        ):
            if not text:
                continue
            shape = slide.shapes.add_textbox(_emu(box.x), _emu(box.y), _emu(box.w), _emu(box.h))
            shape.name = "Footer"
            _fill_text(shape.text_frame, text, 10, THEME.muted, font=FONT, align=align)

    # -- narration ---------------------------------------------------------------------------

    def _narration(self, slide: SlideResult) -> tuple[bytes, str] | None:
        """The clip to embed and its file suffix; uncompressed clips are embedded as MP3."""
        wanted = self.context.options.embed_narration
        if wanted is False or slide.audio_path is None:
            return None
        path = Path(slide.audio_path)
        try:
            data = path.read_bytes()
        except OSError as err:
            if wanted:
                raise RenderError(f"Cannot read the narration {slide.audio_path}: {err}") from err
            return None
        suffix = path.suffix.lower() or ".wav"
        if suffix in _COMPACT_AUDIO:
            return data, suffix
        compact = _to_mp3(data)
        return (compact, ".mp3") if compact else (data, suffix)

    @staticmethod
    def _page_ms(slide: SlideResult, plans: list[PagePlan], page: int) -> int:
        weights = [max(1, sum(len(b.lines) for b in p.bullets)) for p in plans]
        return round(slide.duration_s * 1000 * weights[page] / sum(weights))

    def _embed(
        self,
        pptx_slide: Slide,
        slide: SlideResult,
        plans: list[PagePlan],
        narration: tuple[bytes, str],
    ) -> None:
        width, height = self._size
        audio, suffix = narration
        total_ms = round(slide.duration_s * 1000) if slide.duration_s > 0 else None
        embed_audio(
            pptx_slide,
            audio,
            filename=f"narration-{slide.index + 1}{suffix}",
            box=Box(width - 40, height - 40, 24, 24),
            duration_ms=total_ms,
            slides=len(plans),
        )
        if total_ms is not None:
            set_auto_advance(pptx_slide, self._page_ms(slide, plans, 0))
        self._narrated = True


# -- helpers -----------------------------------------------------------------------------------

_COMPACT_AUDIO = (".mp3", ".m4a")
"""Clips embedded as they are; others (WAV from local voices) are made MP3 to keep decks small."""


def _to_mp3(audio: bytes) -> bytes | None:
    """``audio`` (any format ffmpeg reads) as a 64 kbit/s MP3, or ``None`` if that fails."""
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", "pipe:0",
        "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "pipe:1",
    ]  # fmt: skip
    try:
        result = subprocess.run(command, input=audio, capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout or None


def _credit_line(index: int, asset: ImageAsset) -> str | None:
    """``"Slide 3: Photo by A. Person, CC BY 4.0 (https://...)"``, or None without a credit."""
    parts = [p.strip() for p in (asset.attribution, asset.license) if p and p.strip()]
    if not parts:
        return None
    line = f"Slide {index + 1}: " + ", ".join(parts)
    if asset.source_url and asset.source_url not in line:
        line += f" ({asset.source_url})"
    return line


def _placeholder(slide: Slide, idx: int | None) -> SlidePlaceholder | None:
    if idx is None:
        return None
    for shape in slide.placeholders:
        if shape.placeholder_format.idx == idx:
            found: SlidePlaceholder = shape
            return found
    return None


def _box_of(shape: BaseShape) -> Box:
    return Box(
        (shape.left or 0) / EMU_PER_PT,
        (shape.top or 0) / EMU_PER_PT,
        (shape.width or 0) / EMU_PER_PT,
        (shape.height or 0) / EMU_PER_PT,
    )


def _delete(shape: BaseShape) -> None:
    element = shape.element
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


def _place(shape: BaseShape, box: Box) -> None:
    shape.left, shape.top = _emu(box.x), _emu(box.y)
    shape.width, shape.height = _emu(box.w), _emu(box.h)


def _prepare(frame: TextFrame, anchor: MSO_ANCHOR, *, shrink: bool = False) -> None:
    """Wrap inside the box with no insets; ``shrink`` lets the viewer shrink text that a
    substituted (wider) font makes overflow."""
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE if shrink else MSO_AUTO_SIZE.NONE
    frame.vertical_anchor = anchor
    frame.margin_left = frame.margin_right = frame.margin_top = frame.margin_bottom = Emu(0)


def _fill_text(
    frame: TextFrame,
    text: str,
    size: float,
    colour: tuple[int, int, int] | None,
    *,
    bold: bool | None = None,
    anchor: MSO_ANCHOR = MSO_ANCHOR.TOP,
    font: str | None = None,
    align: PP_ALIGN | None = PP_ALIGN.LEFT,
) -> None:
    """Put ``text`` in ``frame`` as one paragraph at ``size`` points with exact line pitch."""
    _prepare(frame, anchor)
    frame.text = ""
    paragraph = frame.paragraphs[0]
    if align is not None:
        paragraph.alignment = align
    paragraph.line_spacing = Pt(line_pitch(size))
    _no_bullet(paragraph)
    run = paragraph.add_run()
    run.text = text
    run.font.size = Pt(size)
    if bold is not None:
        run.font.bold = bold
    if font is not None:
        run.font.name = font
    if colour is not None:
        run.font.color.rgb = _rgb(colour)


def _no_bullet(paragraph: _Paragraph) -> None:
    p_pr = paragraph._p.get_or_add_pPr()
    p_pr.set("marL", "0")
    p_pr.set("indent", "0")
    for child in list(p_pr):
        if child.tag.startswith(f"{{{_A}}}bu"):
            p_pr.remove(child)
    p_pr.insert(0, etree.SubElement(p_pr, f"{{{_A}}}buNone"))


def _fill_bullets(frame: TextFrame, plan: PagePlan, *, builtin: bool) -> None:
    """Write the plan's bullets: hanging indent, exact pitch, gaps, the same size throughout."""
    _prepare(frame, MSO_ANCHOR.TOP, shrink=True)
    frame.text = ""
    size = plan.body_size
    indent = str(round(plan.indent * EMU_PER_PT))
    for i, bullet in enumerate(plan.bullets):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()  # type: ignore[no-untyped-call]
        paragraph.alignment = PP_ALIGN.LEFT
        paragraph.line_spacing = Pt(line_pitch(size))
        paragraph.space_before = Pt(plan.paragraph_gap if i else 0)
        paragraph.space_after = Pt(0)
        _bullet(paragraph, indent, bullet, builtin=builtin)
        run = paragraph.add_run()
        run.text = join_lines(bullet.lines)
        run.font.size = Pt(size)
        if builtin:
            run.font.name = FONT
            run.font.color.rgb = _rgb(THEME.text)


def _bullet(paragraph: _Paragraph, indent: str, bullet: Bullet, *, builtin: bool) -> None:
    p_pr = paragraph._p.get_or_add_pPr()
    p_pr.set("lvl", "0")
    p_pr.set("marL", indent)
    p_pr.set("indent", "0" if bullet.continued else f"-{indent}")
    for child in list(p_pr):
        if child.tag.startswith(f"{{{_A}}}bu"):
            p_pr.remove(child)
    if bullet.continued:
        markers = [etree.Element(f"{{{_A}}}buNone")]
    elif builtin:
        colour = etree.Element(f"{{{_A}}}buClr")
        srgb = etree.SubElement(colour, f"{{{_A}}}srgbClr")
        srgb.set("val", "".join(f"{c:02X}" for c in THEME.accent))
        font = etree.Element(f"{{{_A}}}buFont")
        font.set("typeface", "Arial")
        char = etree.Element(f"{{{_A}}}buChar")
        char.set("char", "•")
        markers = [colour, font, char]
    else:
        char = etree.Element(f"{{{_A}}}buChar")
        char.set("char", "•")
        markers = [char]
    # a:pPr children order: lnSpc, spcBef, spcAft, buClr..., buSzX, buFont, buNone/buChar, ...
    anchor_index = sum(
        1 for child in p_pr if etree.QName(child).localname in ("lnSpc", "spcBef", "spcAft")
    )
    for offset, element in enumerate(markers):
        p_pr.insert(anchor_index + offset, element)


def _round_corners(picture: BaseShape, share: float) -> None:
    """Give a picture rounded corners (``share`` of its shorter side as the radius)."""
    geometry = picture.element.find(f"{{{_P}}}spPr/{{{_A}}}prstGeom")
    if geometry is None:
        return
    geometry.set("prst", "roundRect")
    for child in list(geometry):
        geometry.remove(child)
    guides = etree.SubElement(geometry, f"{{{_A}}}avLst")
    guide = etree.SubElement(guides, f"{{{_A}}}gd")
    guide.set("name", "adj")
    guide.set("fmla", f"val {round(min(0.5, share) * 100000)}")
