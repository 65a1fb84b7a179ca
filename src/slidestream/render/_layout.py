"""The layout rules shared by the PPTX builder and the slide-frame renderer.

One place decides, from a slide's content, where the title, bullets and image go, how big the
text is, where lines wrap, when text shrinks (down to a floor size) and when a slide splits
into a continuation slide, and how an image fits its box without distortion. Both renderers
draw what a :class:`PagePlan` says, so the MP4 frames look like the PPTX slides.

All lengths are typographic points (1/72 inch): the built-in 16:9 slide is 960 x 540 pt
(13.333 x 7.5 in), and a 1920 x 1080 frame draws 2 pixels per point. Text is measured with
the real metrics of the geometry's typefaces (the shipped Lato, or a template's fonts, see
``_typeface.py``; per-character fallback fonts in ``slidestream._fonts.fallback``) at that
2 px/pt scale.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .._fonts.breaking import broken
from .._fonts.faces import coverage
from .._fonts.fallback import measure
from ._typeface import LATO, Typeface

__all__ = [
    "THEME",
    "Box",
    "Bullet",
    "CoverGeometry",
    "ImagePlacement",
    "PagePlan",
    "SlideGeometry",
    "TextBlock",
    "Theme",
    "TitlePlan",
    "builtin_geometry",
    "cover_geometry",
    "deck_subtitle",
    "fit_title",
    "join_lines",
    "place_image",
    "plan_pages",
    "text_width",
    "wrap",
]

RGB = tuple[int, int, int]

MEASURE_SCALE = 2
"""Pixels per point at which text is measured (a 1920-pixel-wide frame)."""
LINE_HEIGHT = 1.2
"""Line pitch as a multiple of the font size."""
PARAGRAPH_GAP = 0.45
"""Extra space between bullets, as a multiple of the font size."""
BULLET_INDENT = 1.25
"""Hanging indent of bullet text (the marker sits in it), as a multiple of the font size."""
CONTINUED = " (cont.)"
MAX_CROP = 0.3
"""An image is cropped to fill its box when that cuts at most this share of one side."""


@dataclass(frozen=True)
class Theme:
    """The built-in theme's colours (RGB)."""

    background: RGB = (248, 250, 252)
    title: RGB = (15, 23, 42)
    text: RGB = (51, 65, 85)
    muted: RGB = (100, 116, 139)
    accent: RGB = (37, 99, 235)
    accent_soft: RGB = (219, 234, 254)
    cover_background: RGB = (15, 23, 42)
    cover_title: RGB = (255, 255, 255)
    cover_subtitle: RGB = (191, 219, 254)
    image_backdrop: RGB = (226, 232, 240)


THEME = Theme()


@dataclass(frozen=True)
class Box:
    """A rectangle in points."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        """The x of the right edge."""
        return self.x + self.w

    @property
    def bottom(self) -> float:
        """The y of the bottom edge."""
        return self.y + self.h

    def scaled(self, factor: float) -> tuple[int, int, int, int]:
        """The box in pixels at ``factor`` pixels per point, as ``(left, top, right, bottom)``."""
        return (
            round(self.x * factor),
            round(self.y * factor),
            round(self.right * factor),
            round(self.bottom * factor),
        )


@dataclass(frozen=True)
class SlideGeometry:
    """Where things go on a content slide, and the text size range."""

    width: float
    height: float
    title: Box
    body: Box
    """The body box when the slide has no image."""
    body_with_image: Box
    image: Box
    title_max: int = 30
    title_min: int = 20
    body_max: int = 22
    body_min: int = 14
    """The shrink floor: below it text moves to a continuation slide."""
    body_hard_min: int = 10
    """The absolute floor for single-page renderings (frames), where splitting is impossible."""
    title_face: Typeface = LATO
    body_face: Typeface = LATO
    title_bold: bool = True
    bullet_indent: float | None = None
    """A fixed hanging indent in points (a template's); ``None``: in proportion to the size."""


def builtin_geometry(width: float = 960.0, height: float = 540.0) -> SlideGeometry:
    """The built-in theme's content-slide geometry for a slide of ``width`` x ``height`` pt."""
    margin = width * 56 / 960
    top = height * 30 / 540
    title = Box(margin, top, width - 2 * margin, height * 84 / 540)
    body_top = height * 148 / 540
    body_h = height * 478 / 540 - body_top
    body = Box(margin, body_top, width - 2 * margin, body_h)
    gap = width * 36 / 960
    text_w = (body.w - gap) * 0.52
    body_with_image = Box(margin, body_top, text_w, body_h)
    image = Box(margin + text_w + gap, body_top, body.w - text_w - gap, body_h)
    return SlideGeometry(
        width=width,
        height=height,
        title=title,
        body=body,
        body_with_image=body_with_image,
        image=image,
    )


def text_width(text: str, size: float, *, bold: bool = False, face: Typeface = LATO) -> float:
    """The width of ``text`` in points at ``size`` points (real font metrics)."""
    return _width(text, round(size * MEASURE_SCALE), bold, face) / MEASURE_SCALE


@functools.lru_cache(maxsize=65536)
def _width(text: str, pixels: int, bold: bool, face: Typeface) -> float:
    return measure(text, pixels, bold=bold, primary=face.face(bold=bold))


_CJK = re.compile(
    "[\u2e80-\u2fff\u3000-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0002fa1f]"
)


_CLOSING = "、。，．！？」』）,.!?;:)"


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Break opportunities as ``(token, glued)``: words, and single characters of CJK text.

    A glued token follows the previous one without a space.
    """
    tokens: list[tuple[str, bool]] = []
    for word in text.split():
        if not _CJK.search(word):
            tokens.append((word, False))
            continue
        pieces: list[str] = []
        for char in word:
            if pieces and (
                char in _CLOSING or not (_CJK.match(char) or _CJK.match(pieces[-1][-1]))
            ):
                pieces[-1] += char
            else:
                pieces.append(char)
        tokens.extend((piece, i > 0) for i, piece in enumerate(pieces))
    return tokens


def wrap(
    text: str, size: float, width: float, *, bold: bool = False, face: Typeface = LATO
) -> list[str]:
    """Wrap ``text`` into lines no wider than ``width`` points at ``size`` points.

    Lines break at spaces, and between characters of CJK text. A word longer than a line is
    broken between characters. Lines fill at most ``face.safety`` of the width.
    """
    limit = width * face.safety

    def measured(piece: str) -> float:
        return text_width(piece, size, bold=bold, face=face)

    space = measured(" ")
    covered = coverage(face.face(bold=bold))
    lines: list[str] = []
    line, line_w, mixed = "", 0.0, False
    for token, glued in _tokens(text):
        token_w = measured(token)
        token_mixed = any(ord(char) not in covered for char in token)
        gap = 0.0 if glued or not line else space
        if line_w + gap + token_w <= limit:
            candidate = line + (" " if gap else "") + token
            # Widths add up within one font; after a fallback character the spaces and digits
            # that follow stay in its font, so such a line is measured whole.
            candidate_w = line_w + gap + token_w
            if mixed or token_mixed:
                candidate_w = measured(candidate)
            if candidate_w <= limit:
                line, line_w, mixed = candidate, candidate_w, mixed or token_mixed
                continue
        if line:
            lines.append(line)
        line, line_w, mixed = token, token_w, token_mixed
        if line_w > limit:  # a word longer than a line: broken between characters
            *full, line = broken(line, limit, measured)
            lines.extend(full)
            line_w = measured(line)
    if line or not lines:
        lines.append(line)
    return lines


def join_lines(lines: Sequence[str]) -> str:
    """Undo wrapping: lines meet with a space, except between CJK characters."""
    text = ""
    for line in lines:
        if text and line and not (_CJK.match(text[-1]) or _CJK.match(line[0])):
            text += " "
        text += line
    return text


def line_pitch(size: float) -> float:
    """The distance between baselines of two lines at ``size`` points."""
    return size * LINE_HEIGHT


@dataclass(frozen=True)
class TextBlock:
    """Wrapped text at a chosen size."""

    size: int
    lines: list[str]

    @property
    def height(self) -> float:
        """The height of the block in points."""
        return len(self.lines) * line_pitch(self.size)


def fit_title(
    title: str,
    box: Box,
    *,
    max_size: int,
    min_size: int,
    max_lines: int = 2,
    bold: bool = True,
    face: Typeface = LATO,
) -> TextBlock:
    """The largest title size (down to ``min_size``) that fits ``box`` in ``max_lines`` lines.

    At the floor the last line ends with an ellipsis if the text still does not fit.
    """
    for size in range(max_size, min_size - 1, -1):
        lines = wrap(title, size, box.w, bold=bold, face=face)
        block = TextBlock(size, lines)
        if len(lines) <= max_lines and block.height <= box.h + 0.5:
            return block
    lines = wrap(title, min_size, box.w, bold=bold, face=face)
    fit = max(1, min(max_lines, int(box.h // line_pitch(min_size))))
    if len(lines) > fit:
        lines = lines[:fit]
        lines[-1] = _ellipsize(lines[-1], min_size, box.w, bold=bold, face=face)
    return TextBlock(min_size, lines)


def _ellipsize(
    line: str, size: float, width: float, *, bold: bool = False, face: Typeface = LATO
) -> str:
    text = line.rstrip()
    while text and text_width(text + "…", size, bold=bold, face=face) > width * face.safety:
        text = text[:-1]
    return text.rstrip() + "…"


@dataclass(frozen=True)
class Bullet:
    """One bullet point wrapped into lines; ``continued`` bullets carry on a split bullet."""

    lines: list[str]
    continued: bool = False


@dataclass(frozen=True)
class ImagePlacement:
    """Where an image goes and how much of each side is cropped (fractions 0..1)."""

    box: Box
    crop_left: float = 0.0
    crop_top: float = 0.0
    crop_right: float = 0.0
    crop_bottom: float = 0.0

    @property
    def cropped(self) -> bool:
        """True when part of the image is cut away."""
        return any((self.crop_left, self.crop_top, self.crop_right, self.crop_bottom))


def place_image(width: int, height: int, box: Box, *, max_crop: float = MAX_CROP) -> ImagePlacement:
    """Fit an image of ``width`` x ``height`` pixels into ``box`` keeping its aspect ratio.

    When filling the box needs at most ``max_crop`` of one side cut away, the image is cropped
    evenly on both sides and fills the box; otherwise it is scaled to fit inside and centred.
    """
    if width <= 0 or height <= 0:
        return ImagePlacement(box)
    image_ratio = width / height
    box_ratio = box.w / box.h
    if math.isclose(image_ratio, box_ratio, rel_tol=1e-3):
        return ImagePlacement(box)
    if image_ratio > box_ratio:
        cut = 1 - box_ratio / image_ratio
        if cut <= max_crop:
            return ImagePlacement(box, crop_left=cut / 2, crop_right=cut / 2)
        h = box.w / image_ratio
        return ImagePlacement(Box(box.x, box.y + (box.h - h) / 2, box.w, h))
    cut = 1 - image_ratio / box_ratio
    if cut <= max_crop:
        return ImagePlacement(box, crop_top=cut / 2, crop_bottom=cut / 2)
    w = box.h * image_ratio
    return ImagePlacement(Box(box.x + (box.w - w) / 2, box.y, w, box.h))


@dataclass(frozen=True)
class PagePlan:
    """One slide as drawn: the title, the bullets at one size, and the image (if any)."""

    title: TextBlock
    title_text: str
    title_box: Box
    bullets: list[Bullet]
    body_size: int
    body_box: Box
    indent: float
    """The hanging indent of the bullet text, in points."""
    image: ImagePlacement | None = None
    page: int = 0
    pages: int = 1
    truncated: bool = False

    @property
    def continuation(self) -> bool:
        """True for the second and later pages of a split slide."""
        return self.page > 0

    @property
    def line_pitch(self) -> float:
        """The distance between baselines of the body text, in points."""
        return line_pitch(self.body_size)

    @property
    def paragraph_gap(self) -> float:
        """The extra space between bullets, in points."""
        return self.body_size * PARAGRAPH_GAP


def bullet_indent(geometry: SlideGeometry, size: float) -> float:
    """The hanging indent of bullets at ``size`` points: the geometry's, else 1.25 sizes."""
    return geometry.bullet_indent if geometry.bullet_indent is not None else size * BULLET_INDENT


def _wrap_text(text: str, size: int, width: float, geometry: SlideGeometry) -> list[str]:
    return wrap(text, size, width - bullet_indent(geometry, size), face=geometry.body_face)


def _wrap_bullets(
    texts: Sequence[str], size: int, box: Box, geometry: SlideGeometry
) -> list[Bullet]:
    return [Bullet(_wrap_text(text, size, box.w, geometry)) for text in texts]


def body_height(bullets: Sequence[Bullet], size: int) -> float:
    """The height of bullets at ``size`` points: their lines plus the gaps between them."""
    lines = sum(len(b.lines) for b in bullets)
    return lines * line_pitch(size) + max(0, len(bullets) - 1) * size * PARAGRAPH_GAP


def _best_size(
    texts: Sequence[str], box: Box, max_size: int, min_size: int, geometry: SlideGeometry
) -> tuple[int, list[Bullet]] | None:
    for size in range(max_size, min_size - 1, -1):
        bullets = _wrap_bullets(texts, size, box, geometry)
        if body_height(bullets, size) <= box.h + 0.5:
            return size, bullets
    return None


def _split_long(
    texts: Sequence[str], size: int, box: Box, geometry: SlideGeometry
) -> list[tuple[str, bool]]:
    """Cut any bullet taller than the box at ``size`` into parts that fit one page each."""
    capacity = max(1, int((box.h + 0.5) // line_pitch(size)))
    out: list[tuple[str, bool]] = []
    for text in texts:
        lines = _wrap_text(text, size, box.w, geometry)
        for start in range(0, len(lines), capacity):
            out.append((join_lines(lines[start : start + capacity]), start > 0))
    return out


def _groups(weights: Sequence[int], count: int) -> list[tuple[int, int]]:
    """Cut ``weights`` into ``count`` consecutive groups of about equal total (index ranges)."""
    total = sum(weights)
    bounds: list[tuple[int, int]] = []
    start, acc = 0, 0
    for i, weight in enumerate(weights):
        acc += weight
        remaining_groups = count - len(bounds) - 1
        remaining_items = len(weights) - i - 1
        if remaining_groups <= 0:
            break
        if acc >= total * (len(bounds) + 1) / count or remaining_items == remaining_groups:
            bounds.append((start, i + 1))
            start = i + 1
    bounds.append((start, len(weights)))
    return [b for b in bounds if b[0] < b[1]]


_PageFactory = Callable[[list[Bullet], int, Box, int, int, bool], PagePlan]


def plan_pages(
    title: str,
    bullets: Sequence[str],
    geometry: SlideGeometry,
    *,
    image_size: tuple[int, int] | None = None,
    max_pages: int | None = None,
) -> list[PagePlan]:
    """Lay out one slide's content, splitting it into continuation pages when it must.

    Text shrinks from ``body_max`` to ``body_min``; if it still overflows, the bullets are
    shared over as few pages as possible (all at one size), each titled ``"<title> (cont.)"``
    after the first. The image goes on the first page. With ``max_pages=1`` (a video frame)
    text shrinks down to ``body_hard_min`` instead and, past that, the last lines are cut
    with an ellipsis.
    """
    texts = [b.strip() for b in bullets if b.strip()]
    first_box = geometry.body_with_image if image_size else geometry.body
    image = place_image(*image_size, geometry.image) if image_size else None
    if image_size and not texts:
        image = place_image(*image_size, geometry.body)
    title_block = _title_for(title, geometry)

    def page(
        bullet_list: list[Bullet], size: int, box: Box, index: int, count: int, cut: bool
    ) -> PagePlan:
        text = title if index == 0 else title + CONTINUED
        return PagePlan(
            title=title_block if index == 0 else _title_for(text, geometry),
            title_text=text,
            title_box=geometry.title,
            bullets=bullet_list,
            body_size=size,
            body_box=box,
            indent=bullet_indent(geometry, size),
            image=image if index == 0 else None,
            page=index,
            pages=count,
            truncated=cut,
        )

    best = _best_size(texts, first_box, geometry.body_max, geometry.body_min, geometry)
    if best is not None:
        return [page(best[1], best[0], first_box, 0, 1, False)]
    if max_pages == 1:
        return [_single_page(texts, geometry, first_box, page)]
    return _paginate(texts, geometry, first_box, page)


def _paginate(
    texts: Sequence[str], geometry: SlideGeometry, first_box: Box, page: _PageFactory
) -> list[PagePlan]:
    floor = geometry.body_min
    parts = _split_long(texts, floor, first_box, geometry)
    weights = [len(_wrap_text(text, floor, geometry.body.w, geometry)) for text, _ in parts]
    for count in range(2, len(parts) + 1):
        groups = _groups(weights, count)
        boxes = [first_box] + [geometry.body] * (len(groups) - 1)
        sizes = []
        for (start, end), box in zip(groups, boxes, strict=True):
            group = [text for text, _ in parts[start:end]]
            fit = _best_size(group, box, geometry.body_max, floor, geometry)
            if fit is None:
                break
            sizes.append(fit[0])
        else:
            size = min(sizes)
            pages = []
            for number, ((start, end), box) in enumerate(zip(groups, boxes, strict=True)):
                group = [text for text, _ in parts[start:end]]
                wrapped = _wrap_bullets(group, size, box, geometry)
                marked = [
                    replace(bullet, continued=cont)
                    for bullet, (_, cont) in zip(wrapped, parts[start:end], strict=True)
                ]
                pages.append(page(marked, size, box, number, len(groups), False))
            return pages
    # Only a tiny box gets here: one part per page at the floor size.
    boxes = [first_box] + [geometry.body] * (len(parts) - 1)
    return [
        page(_wrap_bullets([text], floor, box, geometry), floor, box, i, len(parts), False)
        for i, ((text, _), box) in enumerate(zip(parts, boxes, strict=True))
    ]


def _title_for(text: str, geometry: SlideGeometry) -> TextBlock:
    return fit_title(
        text,
        geometry.title,
        max_size=geometry.title_max,
        min_size=geometry.title_min,
        bold=geometry.title_bold,
        face=geometry.title_face,
    )


def _single_page(
    texts: Sequence[str], geometry: SlideGeometry, box: Box, page: _PageFactory
) -> PagePlan:
    best = _best_size(texts, box, geometry.body_min - 1, geometry.body_hard_min, geometry)
    if best is not None:
        return page(best[1], best[0], box, 0, 1, False)
    size = geometry.body_hard_min
    text_w = box.w - bullet_indent(geometry, size)
    face = geometry.body_face

    def ellipsize(line: str) -> str:
        return _ellipsize(line + " …", size, text_w, face=face)

    kept: list[Bullet] = []
    for bullet in _wrap_bullets(texts, size, box, geometry):
        if body_height([*kept, bullet], size) <= box.h + 0.5:
            kept.append(bullet)
            continue
        used = body_height(kept, size) + (size * PARAGRAPH_GAP if kept else 0)
        room = int((box.h - used) // line_pitch(size))
        if room > 0:
            lines = bullet.lines[:room]
            kept.append(Bullet([*lines[:-1], ellipsize(lines[-1])]))
        elif kept:
            last = kept[-1]
            kept[-1] = Bullet([*last.lines[:-1], ellipsize(last.lines[-1])])
        break
    return page(kept, size, box, 0, 1, True)


_PATH_LIKE = re.compile(
    r"^(~|\.{1,2}[/\\]|[/\\]|[A-Za-z]:[/\\])|^\S*[/\\]\S*$|\.(md|markdown|txt|pptx?|docx?|pdf)$",
    re.IGNORECASE,
)
"""A topic that names a file: starts like a path, is one word with a separator, or ends
like a document."""


def deck_subtitle(title: str, topic: str) -> str | None:
    """The line under the deck title: the topic, when it says more than the title.

    Never a file path (a deck made from a file has the file's title) nor a long text.
    """
    text = " ".join(topic.split())
    if not text or "\n" in topic.strip() or len(text) > 120 or _PATH_LIKE.search(text):
        return None
    if text.casefold() in title.casefold():
        return None
    return text


@dataclass(frozen=True)
class TitlePlan:
    """The title slide as drawn: the deck title and the subtitle, wrapped and sized."""

    title: TextBlock
    title_box: Box
    subtitle: TextBlock | None = None
    subtitle_box: Box | None = None


@dataclass(frozen=True)
class CoverGeometry:
    """The title slide: the deck title grows upwards from the bottom of ``title``."""

    title: Box
    rule: Box
    subtitle: Box
    title_max: int = 46
    title_min: int = 28
    title_lines: int = 3
    subtitle_size: int = 18


def cover_geometry(width: float = 960.0, height: float = 540.0) -> CoverGeometry:
    """The built-in title slide's geometry for a slide of ``width`` x ``height`` pt."""
    margin = width * 72 / 960
    title = Box(margin, height * 0.16, width - 2 * margin, height * 0.46)
    return CoverGeometry(
        title=title,
        rule=Box(margin, title.bottom + 16, 64, 6),
        subtitle=Box(margin, title.bottom + 40, width - 2 * margin, 18 * LINE_HEIGHT * 2),
    )
