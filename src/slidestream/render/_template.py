"""Reading a user's ``.pptx`` template: its layouts, fonts, sizes, colours and background.

Templates come from PowerPoint, LibreOffice Impress, Google Slides and Keynote, and each
writes the same things differently: LibreOffice numbers every placeholder ``idx 0`` and keeps
its text styles in the master's sample paragraphs rather than ``p:txStyles``; Google Slides
puts sizes in each layout's list styles; Keynote uses large slides and its own ``idx``
numbers. :func:`open_template` reads any of them (``.potx`` too), drops the sample slides,
and gives every layout placeholder a unique ``idx`` (the title keeps 0), so slides made from
a layout are matched to its placeholders unambiguously in every viewer.

What a placeholder's text looks like (:class:`TextLook`) is resolved the way viewers inherit
it: the layout placeholder's list style, the master placeholder's, the master's title or
body style, then the sample paragraphs LibreOffice writes, then the file format's defaults.
Colours follow the master's colour map into the theme, with lumMod/lumOff/tint/shade.
"""

from __future__ import annotations

import colorsys
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from lxml import etree
from pptx import Presentation
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.opc.package import Part
from pptx.presentation import Presentation as PresentationType
from pptx.slide import SlideLayout, SlideMaster

from .._exceptions import InvalidInputError
from ._layout import Box, ImagePlacement, wrap
from ._pptx_text import EMU_PER_PT
from ._scene import (
    RGB,
    Align,
    Anchor,
    Fill,
    Gradient,
    ImageItem,
    Item,
    LineItem,
    Paragraph,
    PictureFill,
    ShapeItem,
    Solid,
    TextItem,
)
from ._typeface import Typeface, typeface

__all__ = [
    "BulletLook",
    "Spot",
    "TextLook",
    "Theme",
    "background",
    "check_template",
    "furniture",
    "open_template",
    "placeholder_type",
    "spot",
]

A = "http://schemas.openxmlformats.org/drawingml/2006/main"
P = "http://schemas.openxmlformats.org/presentationml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS = {"a": A, "p": P, "r": R}

_MAIN = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
_OTHER_MAINS = (
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml",
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
)
_TITLES = ("title", "ctrTitle")
_SECTIONS = "{http://schemas.microsoft.com/office/powerpoint/2010/main}sectionLst"
_SHOW_CHOICES = ("custShow", "sldRg")
_LATENT = ("dt", "ftr", "sldNum")
_DEFAULT_INSETS = (7.2, 3.6, 7.2, 3.6)
"""DrawingML's default text insets (0.1 in left and right, 0.05 in top and bottom), in points."""
_STRICT = b"http://purl.oclc.org/ooxml/"
"""Where the namespaces of Strict Open XML start (transitional files never use it)."""
_FIX = "Give a .pptx (or .potx) file saved by PowerPoint, LibreOffice, Google Slides or Keynote."


# -- opening -----------------------------------------------------------------------------------


def check_template(path: Path) -> None:
    """Check cheaply that ``path`` is a PowerPoint package; raise :class:`InvalidInputError`."""
    if not path.is_file():
        raise InvalidInputError(f"Template {path} does not exist: {_FIX}")
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
    except (zipfile.BadZipFile, OSError) as err:
        raise InvalidInputError(
            f"Template {path} is not a PowerPoint file ({err}). {_FIX}"
        ) from None
    if "[Content_Types].xml" not in names or "ppt/presentation.xml" not in names:
        raise InvalidInputError(f"Template {path} is not a PowerPoint presentation. {_FIX}")
    if _is_strict(path):
        raise InvalidInputError(
            f"Template {path} is saved as Strict Open XML, which slidestream cannot read: "
            "save it again as a PowerPoint Presentation (.pptx) rather than a "
            '"Strict Open XML Presentation".'
        )


def _is_strict(path: Path) -> bool:
    """Whether the package at ``path`` is Strict Open XML (ISO/IEC 29500 strict namespaces)."""
    try:
        with zipfile.ZipFile(path) as package:
            relations = package.read("_rels/.rels")
    except (zipfile.BadZipFile, KeyError, OSError):
        return False
    return _STRICT in relations


def _as_presentation(data: bytes) -> bytes:
    """The package with its main part typed as a presentation (so ``.potx`` files open)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    types = source.read("[Content_Types].xml").decode("utf-8")
    if not any(kind in types for kind in _OTHER_MAINS):
        return data
    for kind in _OTHER_MAINS:
        types = types.replace(kind, _MAIN)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            body = types.encode("utf-8") if item.filename == "[Content_Types].xml" else None
            target.writestr(item, body if body is not None else source.read(item.filename))
    return out.getvalue()


def open_template(path: Path) -> tuple[PresentationType, bytes]:
    """Open the template at ``path`` ready for a deck; also return it saved as bytes.

    Its slides are dropped and its layout placeholders numbered uniquely. The bytes open
    the same prepared presentation again (one per thread, python-pptx is not thread-safe).

    Raises:
        InvalidInputError: the file is missing or is not a PowerPoint presentation.
    """
    check_template(path)
    try:
        data = _as_presentation(path.read_bytes())
        prs = Presentation(io.BytesIO(data))
    except Exception as err:  # python-pptx raises zipfile, KeyError or lxml errors
        raise InvalidInputError(f"Cannot read the template {path}: {err}. {_FIX}") from err
    _drop_slides(prs)
    for master in prs.slide_masters:
        for layout in master.slide_layouts:
            _number_placeholders(layout)
    out = io.BytesIO()
    prs.save(out)
    return prs, out.getvalue()


def _drop_slides(prs: PresentationType) -> None:
    """Remove the template's slides, and the custom shows and sections that list them.

    Every reference to a slide goes first: python-pptx keeps a relationship that is still
    named elsewhere, and the kept slide parts would then be written twice in the deck.
    """
    _drop_slide_lists(prs)
    id_list = prs.slides._sldIdLst
    for sld_id in list(id_list):
        id_list.remove(sld_id)
        prs.part.rels.pop(sld_id.rId)


def _drop_slide_lists(prs: PresentationType) -> None:
    """Remove the custom shows and sections (they list only the template's slides), and
    play the whole deck where the slide show was set to a custom show or a range."""
    root = prs.part._element
    for element in [*root.iterfind("p:custShowLst", NS), *root.iter(_SECTIONS)]:
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
    for rel in prs.part.rels.values():
        if rel.reltype == RT.PRES_PROPS and not rel.is_external:
            properties = rel.target_part
            properties.blob = _whole_show(properties.blob)


def _whole_show(blob: bytes) -> bytes:
    """``presProps.xml`` with its slide show set to play every slide."""
    try:
        root = etree.fromstring(blob)
    except etree.XMLSyntaxError:
        return blob
    shows = root.findall("p:showPr", NS)
    chosen = [c for show in shows for c in show if etree.QName(c).localname in _SHOW_CHOICES]
    if not chosen:
        return blob
    for choice in chosen:
        choice.addprevious(etree.Element(f"{{{P}}}sldAll"))
        parent = choice.getparent()
        if parent is not None:
            parent.remove(choice)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def _ph_elements(tree: etree._Element) -> list[etree._Element]:
    return list(tree.iterfind(".//p:spTree/*/*/p:nvPr/p:ph", NS))


def _number_placeholders(layout: SlideLayout) -> None:
    """Give each placeholder of ``layout`` its own ``idx``: 0 for the (first) title only."""
    phs = _ph_elements(layout.element)
    used = {int(ph.get("idx", "0")) for ph in phs}
    free = max(used | {0}) + 1
    seen: set[int] = set()
    for ph in phs:
        idx = int(ph.get("idx", "0"))
        is_title = ph.get("type") in _TITLES
        if idx in seen or (idx == 0 and not is_title):
            idx, free = free, free + 1
            ph.set("idx", str(idx))
        seen.add(idx)


def placeholder_type(element: etree._Element) -> str:
    """The ``p:ph`` type of a placeholder shape element (``"obj"`` when none is written)."""
    ph = element.find("./*/p:nvPr/p:ph", NS)
    return ph.get("type", "obj") if ph is not None else ""


# -- theme and colours -------------------------------------------------------------------------

_PRESET = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "yellow": (255, 255, 0),
    "orange": (255, 165, 0),
}
_COLOURS = ("srgbClr", "schemeClr", "sysClr", "prstClr", "scrgbClr", "hslClr")


def _hex(value: str | None) -> RGB | None:
    if not value or len(value) != 6:
        return None
    try:
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
    except ValueError:
        return None


def _percent(element: etree._Element) -> float:
    return int(element.get("val", "100000")) / 100000


def _transform(colour: RGB, element: etree._Element) -> RGB:
    """Apply DrawingML colour transforms (lumMod, lumOff, tint, shade) in document order."""
    r, g, b = (c / 255 for c in colour)
    for child in element:
        name = etree.QName(child).localname
        if name in ("lumMod", "lumOff"):
            h, lum, s = colorsys.rgb_to_hls(r, g, b)
            lum = lum * _percent(child) if name == "lumMod" else lum + _percent(child)
            r, g, b = colorsys.hls_to_rgb(h, min(1.0, max(0.0, lum)), s)
        elif name == "tint":
            share = _percent(child)
            r, g, b = (c + (1 - c) * (1 - share) for c in (r, g, b))
        elif name == "shade":
            share = _percent(child)
            r, g, b = (c * share for c in (r, g, b))
    return round(r * 255), round(g * 255), round(b * 255)


@dataclass(frozen=True)
class Theme:
    """A master's theme: its colour scheme (through the master's colour map) and fonts."""

    scheme: dict[str, RGB]
    colour_map: dict[str, str]
    major: str | None
    minor: str | None
    background_fills: tuple[etree._Element, ...]
    shape_fills: tuple[etree._Element, ...]

    @classmethod
    def of(cls, master: SlideMaster) -> Theme:
        """The theme of ``master``."""
        scheme: dict[str, RGB] = {}
        major = minor = None
        backgrounds: tuple[etree._Element, ...] = ()
        shapes: tuple[etree._Element, ...] = ()
        try:
            part = master.part.part_related_by(RT.THEME)
            theme = etree.fromstring(part.blob)
        except (KeyError, etree.XMLSyntaxError):
            theme = None
        if theme is not None:
            colours = theme.find(".//a:clrScheme", NS)
            for entry in colours if colours is not None else ():
                found = _plain_colour(entry)
                if found is not None:
                    scheme[etree.QName(entry).localname] = found
            major_el = theme.find(".//a:majorFont/a:latin", NS)
            minor_el = theme.find(".//a:minorFont/a:latin", NS)
            major = major_el.get("typeface") if major_el is not None else None
            minor = minor_el.get("typeface") if minor_el is not None else None
            bg_list = theme.find(".//a:fmtScheme/a:bgFillStyleLst", NS)
            fill_list = theme.find(".//a:fmtScheme/a:fillStyleLst", NS)
            backgrounds = tuple(bg_list) if bg_list is not None else ()
            shapes = tuple(fill_list) if fill_list is not None else ()
        colour_map = {
            "bg1": "lt1", "tx1": "dk1", "bg2": "lt2", "tx2": "dk2",
        }  # fmt: skip
        mapping = master.element.find("p:clrMap", NS)
        if mapping is not None:
            colour_map.update(mapping.attrib)
        return cls(scheme, colour_map, major or None, minor or None, backgrounds, shapes)

    def for_layout(self, layout: SlideLayout) -> Theme:
        """The theme as ``layout`` sees it (a layout may override the colour map)."""
        override = layout.element.find("p:clrMapOvr/a:overrideClrMapping", NS)
        if override is None:
            return self
        return Theme(
            self.scheme,
            {**self.colour_map, **override.attrib},
            self.major,
            self.minor,
            self.background_fills,
            self.shape_fills,
        )

    def font(self, name: str | None) -> str | None:
        """A typeface name with theme references (``+mj-lt``, ``+mn-lt``) resolved."""
        if name is None:
            return None
        if name.startswith("+mj"):
            return self.major
        if name.startswith("+mn"):
            return self.minor
        return name or None

    def colour(self, holder: etree._Element | None, placeholder: RGB | None = None) -> RGB | None:
        """The colour a ``solidFill`` (or any element holding a colour) names."""
        if holder is None:
            return None
        for child in holder:
            name = etree.QName(child).localname
            if name not in _COLOURS:
                continue
            base: RGB | None
            if name == "schemeClr":
                key = child.get("val", "")
                if key == "phClr":
                    base = placeholder
                else:
                    base = self.scheme.get(self.colour_map.get(key, key))
            else:
                base = _plain_colour(holder)
            return _transform(base, child) if base is not None else None
        return None


def _plain_colour(holder: etree._Element) -> RGB | None:
    for child in holder:
        name = etree.QName(child).localname
        if name == "srgbClr":
            return _hex(child.get("val"))
        if name == "sysClr":
            return _hex(child.get("lastClr")) or (
                (255, 255, 255) if child.get("val") == "window" else (0, 0, 0)
            )
        if name == "prstClr":
            return _PRESET.get(child.get("val", ""), (0, 0, 0))
        if name == "scrgbClr":
            return (
                round(int(child.get("r", "0")) / 100000 * 255),
                round(int(child.get("g", "0")) / 100000 * 255),
                round(int(child.get("b", "0")) / 100000 * 255),
            )
        if name == "hslClr":
            hue = int(child.get("hue", "0")) / 21600000
            sat = int(child.get("sat", "0")) / 100000
            lum = int(child.get("lum", "0")) / 100000
            r, g, b = colorsys.hls_to_rgb(hue, lum, sat)
            return round(r * 255), round(g * 255), round(b * 255)
    return None


# -- fills -------------------------------------------------------------------------------------


def _fill(
    holder: etree._Element | None,
    theme: Theme,
    part: Part,
    placeholder: RGB | None = None,
) -> Fill | None:
    """The fill of the first fill element in ``holder`` (None for no fill or none found)."""
    if holder is None:
        return None
    for child in holder:
        name = etree.QName(child).localname
        if name == "solidFill":
            colour = theme.colour(child, placeholder)
            return Solid(colour) if colour is not None else None
        if name == "gradFill":
            stops = []
            for stop in child.iterfind("a:gsLst/a:gs", NS):
                colour = theme.colour(stop, placeholder)
                if colour is not None:
                    stops.append((int(stop.get("pos", "0")) / 100000, colour))
            linear = child.find("a:lin", NS)
            angle = int(linear.get("ang", "5400000")) / 60000 if linear is not None else 90.0
            return Gradient(tuple(stops), angle) if stops else None
        if name == "blipFill":
            blip = child.find("a:blip", NS)
            rid = blip.get(f"{{{R}}}embed") if blip is not None else None
            if rid:
                try:
                    return PictureFill(part.related_part(rid).blob)
                except KeyError:
                    return None
            return None
        if name == "pattFill":
            colour = theme.colour(child.find("a:bgClr", NS), placeholder)
            return Solid(colour) if colour is not None else None
        if name == "noFill":
            return None
    return None


def background(layout: SlideLayout, theme: Theme) -> Fill:
    """What a slide made from ``layout`` shows behind everything (white when nothing is set)."""
    for owner in (layout, layout.slide_master):
        bg = owner.element.find("p:cSld/p:bg", NS)
        if bg is None:
            continue
        properties = bg.find("p:bgPr", NS)
        if properties is not None:
            return _fill(properties, theme, owner.part) or Solid((255, 255, 255))
        reference = bg.find("p:bgRef", NS)
        if reference is not None:
            idx = int(reference.get("idx", "0"))
            colour = theme.colour(reference)
            styles = theme.background_fills if idx >= 1001 else theme.shape_fills
            number = idx - 1001 if idx >= 1001 else idx - 1
            if 0 <= number < len(styles):
                wrapper = etree.Element(f"{{{A}}}fill")
                wrapper.append(_copy(styles[number]))
                found = _fill(wrapper, theme, owner.part, colour)
                if found is not None:
                    return found
            return Solid(colour) if colour is not None else Solid((255, 255, 255))
    return Solid((255, 255, 255))


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))


# -- text --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulletLook:
    """A template's level-1 bullet: its character, colour (None: the text's) and font."""

    char: str
    colour: RGB | None = None
    font: str | None = None
    scale: float = 1.0


@dataclass(frozen=True)
class TextLook:
    """How a placeholder's text looks, resolved through the template's inheritance.

    ``font`` is what the PPTX names (a theme reference such as ``+mj-lt`` is kept, so the
    deck still follows its theme); ``face`` is what text is measured and drawn with.
    """

    face: Typeface
    font: str | None
    size: float
    bold: bool
    colour: RGB
    align: Align
    anchor: Anchor
    insets: tuple[float, float, float, float]
    bullet: BulletLook | None = None
    margin: float | None = None
    """The level-1 left margin (``marL``) in points, when the template sets one."""


@dataclass(frozen=True)
class Spot:
    """A placeholder of a layout: its ``idx``, type, box (points) and text look."""

    idx: int
    kind: str
    box: Box
    text: TextLook

    @property
    def inner(self) -> Box:
        """The box less the text insets: where the text itself goes."""
        left, top, right, bottom = self.text.insets
        return Box(
            self.box.x + left,
            self.box.y + top,
            max(1.0, self.box.w - left - right),
            max(1.0, self.box.h - top - bottom),
        )


def _master_placeholder(master: SlideMaster, kind: str) -> etree._Element | None:
    wanted = "title" if kind in _TITLES else kind if kind in _LATENT else "body"
    for shape in master.element.iterfind("p:cSld/p:spTree/p:sp", NS):
        if placeholder_type(shape) == wanted or (
            wanted == "body" and placeholder_type(shape) == "obj"
        ):
            return shape
    return None


class _Sources:
    """Where a placeholder's text properties come from, most specific first.

    The list styles of the layout and master placeholders, the master's title or body
    style, the sample paragraphs of the master and then of the layout (LibreOffice writes its
    styles there), and last the presentation's default text style.
    """

    def __init__(
        self, layout_shape: etree._Element, master: SlideMaster, kind: str, defaults: etree._Element
    ) -> None:
        master_shape = _master_placeholder(master, kind)
        style_name = "titleStyle" if kind in _TITLES else "bodyStyle"
        style = master.element.find(f"p:txStyles/p:{style_name}", NS)
        shapes = [s for s in (layout_shape, master_shape) if s is not None]
        styles: list[etree._Element] = []
        for shape in shapes:
            styles += shape.findall("p:txBody/a:lstStyle/a:lvl1pPr", NS)
        if style is not None:
            styles += style.findall("a:lvl1pPr", NS)
        samples = [s for s in (master_shape, layout_shape) if s is not None]
        sample_levels: list[etree._Element] = []
        sample_runs: list[etree._Element] = []
        for shape in samples:
            sample_levels += shape.findall("p:txBody/a:p[1]/a:pPr", NS)
            sample = shape.find("p:txBody/a:p[1]", NS)
            if sample is not None:
                sample_runs += sample.findall("a:r/a:rPr", NS)[:1]
                sample_runs += sample.findall("a:endParaRPr", NS)
        fallback = defaults.findall("a:lvl1pPr", NS)
        self.levels = [*styles, *sample_levels, *fallback]
        self.runs = [
            *(r for level in styles for r in level.findall("a:defRPr", NS)),
            *sample_runs,
            *(r for level in fallback for r in level.findall("a:defRPr", NS)),
        ]
        self.bodies = [b for s in shapes for b in s.findall("p:txBody/a:bodyPr", NS)]

    def level(self, name: str) -> str | None:
        return next((v for lvl in self.levels if (v := lvl.get(name)) is not None), None)

    def run(self, name: str) -> str | None:
        return next((v for run in self.runs if (v := run.get(name)) is not None), None)

    def run_child(self, name: str) -> etree._Element | None:
        return next((c for run in self.runs if (c := run.find(f"a:{name}", NS)) is not None), None)

    def body(self, name: str) -> str | None:
        return next((v for body in self.bodies if (v := body.get(name)) is not None), None)

    def bullet(self, theme: Theme) -> BulletLook | None:
        for level in self.levels:
            for child in level:
                name = etree.QName(child).localname
                if name == "buNone":
                    return None
                if name in ("buChar", "buAutoNum", "buBlip"):
                    char = child.get("char", "•") if name == "buChar" else "•"
                    colour = level.find("a:buClr", NS)
                    font = level.find("a:buFont", NS)
                    size = level.find("a:buSzPct", NS)
                    return BulletLook(
                        char=_plain_bullet(
                            char, font.get("typeface") if font is not None else None
                        ),
                        colour=theme.colour(colour),
                        font=None,
                        scale=min(1.5, _percent(size)) if size is not None else 1.0,
                    )
        return None


def _plain_bullet(char: str, font: str | None) -> str:
    """Symbol-font bullets (Wingdings, Symbol) as the Unicode character they show."""
    symbol_font = bool(font) and str(font).lower() in ("wingdings", "symbol", "webdings")
    if symbol_font or "\uf000" <= char <= "\uf0ff":
        return "•"
    return char or "•"


def _emu_points(value: str | None, default: float) -> float:
    return int(value) / EMU_PER_PT if value is not None else default


def _align(value: str | None) -> Align:
    return "ctr" if value == "ctr" else "r" if value == "r" else "l"


def _anchor(value: str | None) -> Anchor:
    return "ctr" if value == "ctr" else "b" if value == "b" else "t"


def spot(
    layout: SlideLayout, shape: etree._Element, box: Box, theme: Theme, defaults: etree._Element
) -> Spot:
    """The :class:`Spot` of one layout placeholder ``shape`` (its resolved ``box`` given)."""
    kind = placeholder_type(shape)
    ph = shape.find("./*/p:nvPr/p:ph", NS)
    idx = int(ph.get("idx", "0")) if ph is not None else 0
    sources = _Sources(shape, layout.slide_master, kind, defaults)
    latin = sources.run_child("latin")
    raw_font = latin.get("typeface") if latin is not None else None
    if raw_font is None:
        raw_font = "+mj-lt" if kind in _TITLES else "+mn-lt"
    family = theme.font(raw_font)
    size = sources.run("sz")
    bold = sources.run("b")
    colour = theme.colour(sources.run_child("solidFill")) or theme.scheme.get(
        theme.colour_map.get("tx1", "dk1"), (0, 0, 0)
    )
    insets = tuple(
        _emu_points(sources.body(name), default)
        for name, default in zip(("lIns", "tIns", "rIns", "bIns"), _DEFAULT_INSETS, strict=True)
    )
    margin = sources.level("marL")
    look = TextLook(
        face=typeface(family),
        font=raw_font if family else None,
        size=int(size) / 100 if size is not None else 18.0,
        bold=bold in ("1", "true"),
        colour=colour,
        align=_align(sources.level("algn")),
        anchor=_anchor(sources.body("anchor")),
        insets=(insets[0], insets[1], insets[2], insets[3]),
        bullet=sources.bullet(theme) if kind not in _TITLES else None,
        margin=int(margin) / EMU_PER_PT if margin is not None else None,
    )
    return Spot(idx, kind, box, look)


# -- furniture: what a layout and its master draw besides placeholders -----------------------


def _xfrm(shape: etree._Element) -> tuple[Box, bool, bool] | None:
    xfrm = shape.find("./p:spPr/a:xfrm", NS)
    if xfrm is None:
        xfrm = shape.find("./p:grpSpPr/a:xfrm", NS)
    if xfrm is None:
        return None
    off, ext = xfrm.find("a:off", NS), xfrm.find("a:ext", NS)
    if off is None or ext is None:
        return None
    box = Box(
        int(off.get("x", "0")) / EMU_PER_PT,
        int(off.get("y", "0")) / EMU_PER_PT,
        int(ext.get("cx", "0")) / EMU_PER_PT,
        int(ext.get("cy", "0")) / EMU_PER_PT,
    )
    return box, xfrm.get("flipH") == "1", xfrm.get("flipV") == "1"


def _text_of(shape: etree._Element) -> list[str]:
    paragraphs = []
    for paragraph in shape.iterfind("p:txBody/a:p", NS):
        text = "".join(t.text or "" for t in paragraph.iterfind(".//a:t", NS)).strip()
        if text:
            paragraphs.append(text)
    return paragraphs


def _shape_items(shape: etree._Element, theme: Theme, part: Part) -> Iterator[Item]:
    name = etree.QName(shape).localname
    placed = _xfrm(shape)
    if placed is None:
        return
    box, flip_h, flip_v = placed
    properties = shape.find("p:spPr", NS)
    if name == "pic":
        blip = shape.find("p:blipFill/a:blip", NS)
        rid = blip.get(f"{{{R}}}embed") if blip is not None else None
        if rid:
            try:
                data = part.related_part(rid).blob
            except KeyError:
                return
            crop = shape.find("p:blipFill/a:srcRect", NS)
            cuts = [int(crop.get(k, "0")) / 100000 if crop is not None else 0.0 for k in "ltrb"]
            yield ImageItem(data, ImagePlacement(box, *cuts))
        return
    if name == "cxnSp":
        line = properties.find("a:ln", NS) if properties is not None else None
        colour = theme.colour(line.find("a:solidFill", NS)) if line is not None else None
        if colour is None:
            return
        width = int(line.get("w", "12700")) / EMU_PER_PT if line is not None else 1.0
        x1, x2 = (box.right, box.x) if flip_h else (box.x, box.right)
        y1, y2 = (box.bottom, box.y) if flip_v else (box.y, box.bottom)
        yield LineItem(x1, y1, x2, y2, colour, width)
        return
    if name != "sp" or properties is None:
        return
    geometry = properties.find("a:prstGeom", NS)
    kind = geometry.get("prst") if geometry is not None else None
    if kind in ("rect", "roundRect", "ellipse", "snipRect"):
        fill = _fill(properties, theme, part)
        style_fill = shape.find("p:style/a:fillRef", NS)
        if fill is None and style_fill is not None and properties.find("a:noFill", NS) is None:
            idx = int(style_fill.get("idx", "0"))
            colour = theme.colour(style_fill)
            fill = Solid(colour) if idx > 0 and colour is not None else None
        line = properties.find("a:ln", NS)
        outline = theme.colour(line.find("a:solidFill", NS)) if line is not None else None
        width = int(line.get("w", "12700")) / EMU_PER_PT if line is not None else 0.0
        shape_kind: Literal["rect", "roundRect", "ellipse"] = (
            "ellipse" if kind == "ellipse" else "roundRect" if kind == "roundRect" else "rect"
        )
        radius = min(box.w, box.h) * 0.1667 if kind == "roundRect" else 0.0
        if fill is not None or outline is not None:
            yield ShapeItem(box, fill, shape_kind, radius, outline, width)
    texts = _text_of(shape)
    run = shape.find("p:txBody/a:p/a:r/a:rPr", NS)
    if texts and run is not None:
        size = int(run.get("sz", "1800")) / 100
        colour = theme.colour(run.find("a:solidFill", NS)) or (0, 0, 0)
        latin = run.find("a:latin", NS)
        face = typeface(theme.font(latin.get("typeface") if latin is not None else "+mn-lt"))
        inner = Box(box.x + 7.2, box.y + 3.6, max(1.0, box.w - 14.4), max(1.0, box.h - 7.2))
        paragraphs = tuple(Paragraph(tuple(wrap(t, size, inner.w, face=face))) for t in texts)
        algn = shape.find("p:txBody/a:p/a:pPr", NS)
        anchor = shape.find("p:txBody/a:bodyPr", NS)
        yield TextItem(
            inner,
            paragraphs,
            size,
            colour,
            face,
            bold=run.get("b") in ("1", "true"),
            align=_align(algn.get("algn") if algn is not None else None),
            anchor=_anchor(anchor.get("anchor") if anchor is not None else None),
        )


def _items(tree: etree._Element, theme: Theme, part: Part) -> Iterator[Item]:
    for shape in tree:
        name = etree.QName(shape).localname
        if name == "grpSp":
            yield from _group(shape, theme, part)
        elif name in ("sp", "pic", "cxnSp") and shape.find("./*/p:nvPr/p:ph", NS) is None:
            yield from _shape_items(shape, theme, part)


def _point(xfrm: etree._Element, tag: str, x: str, y: str) -> tuple[int, int]:
    found = xfrm.find(f"a:{tag}", NS)
    if found is None:
        return 0, 0
    return int(found.get(x, "0")), int(found.get(y, "0"))


def _group(group: etree._Element, theme: Theme, part: Part) -> Iterator[Item]:
    """A group's shapes, moved from the group's child coordinates onto the slide.

    Groups drawn at another scale than their children's (rare in templates) are left out.
    """
    xfrm = group.find("p:grpSpPr/a:xfrm", NS)
    if xfrm is None:
        return
    if _point(xfrm, "ext", "cx", "cy") != _point(xfrm, "chExt", "cx", "cy"):
        return
    (x, y), (chx, chy) = _point(xfrm, "off", "x", "y"), _point(xfrm, "chOff", "x", "y")
    dx, dy = (x - chx) / EMU_PER_PT, (y - chy) / EMU_PER_PT
    for item in _items(group, theme, part):
        yield _moved(item, dx, dy)


def _moved(item: Item, dx: float, dy: float) -> Item:
    def shift(box: Box) -> Box:
        return Box(box.x + dx, box.y + dy, box.w, box.h)

    if isinstance(item, ImageItem):
        return replace(item, placement=replace(item.placement, box=shift(item.placement.box)))
    if isinstance(item, LineItem):
        return replace(item, x1=item.x1 + dx, y1=item.y1 + dy, x2=item.x2 + dx, y2=item.y2 + dy)
    return replace(item, box=shift(item.box))


def furniture(layout: SlideLayout, theme: Theme) -> tuple[Item, ...]:
    """What slides of ``layout`` show besides their placeholders: the master's shapes (unless
    the layout hides them), then the layout's own, in drawing order."""
    items: list[Item] = []
    master = layout.slide_master
    if layout.element.get("showMasterSp") not in ("0", "false"):
        tree = master.element.find("p:cSld/p:spTree", NS)
        if tree is not None:
            items += _items(tree, theme, master.part)
    tree = layout.element.find("p:cSld/p:spTree", NS)
    if tree is not None:
        items += _items(tree, theme, layout.part)
    return tuple(items)
