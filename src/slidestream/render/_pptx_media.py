"""Embedded narration in a PPTX slide: the audio shape, its timing, and auto-advance.

PowerPoint stores an embedded sound as a picture shape (``p:pic``, its picture the speaker
icon) whose non-visual properties carry ``a:audioFile r:link`` (a relationship of type
``.../relationships/audio``) and, in a ``p14:media r:embed`` extension, a second
relationship of type ``.../2007/relationships/media``; both point to the same media part
(``/ppt/media/mediaN.wav``). Playing it automatically when the slide appears takes a timing
tree: a main-sequence ``mediacall`` effect (``playFrom(0.0)``, "after previous", triggered
on slide begin) and a ``p:audio`` media node for the shape. Auto-advance is the slide's
``<p:transition advTm="ms">``. LibreOffice Impress reads the same structure.
"""

from __future__ import annotations

import functools
import io

from lxml import etree
from PIL import Image, ImageDraw
from pptx.media import Video
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.oxml import parse_xml
from pptx.slide import Slide

from .._types import AudioFormat
from ._layout import Box
from ._pptx_text import emu

__all__ = ["embed_audio", "set_auto_advance"]

_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_P14 = "http://schemas.microsoft.com/office/powerpoint/2010/main"
_MEDIA_EXT_URI = "{DAA4B4D4-6D71-4841-9C94-3DE7FCFB9230}"


@functools.lru_cache(maxsize=1)
def speaker_icon() -> bytes:
    """A small speaker icon PNG (the picture of the audio shape)."""
    size = 96
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    colour = (100, 116, 139, 255)
    draw.rectangle((14, 36, 34, 60), fill=colour)
    draw.polygon([(34, 36), (56, 18), (56, 78), (34, 60)], fill=colour)
    for radius in (14, 26):
        draw.arc(
            (56 - radius, 48 - radius, 56 + radius, 48 + radius), -50, 50, fill=colour, width=6
        )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _next_shape_id(slide: Slide) -> int:
    ids = [int(v) for v in slide.element.xpath("//p:cNvPr/@id") if str(v).isdigit()]
    return max(ids, default=1) + 1


def _pic_xml(
    shape_id: int, name: str, audio_rid: str, media_rid: str, icon_rid: str, box: Box
) -> str:
    return (
        f'<p:pic xmlns:p="{_P}" xmlns:a="{_A}" xmlns:r="{_R}">'
        "<p:nvPicPr>"
        f'<p:cNvPr id="{shape_id}" name="{name}">'
        '<a:hlinkClick r:id="" action="ppaction://media"/>'
        "</p:cNvPr>"
        '<p:cNvPicPr><a:picLocks noChangeAspect="1"/></p:cNvPicPr>'
        "<p:nvPr>"
        f'<a:audioFile r:link="{audio_rid}"/>'
        f'<p:extLst><p:ext uri="{_MEDIA_EXT_URI}">'
        f'<p14:media xmlns:p14="{_P14}" r:embed="{media_rid}"/>'
        "</p:ext></p:extLst>"
        "</p:nvPr>"
        "</p:nvPicPr>"
        f'<p:blipFill><a:blip r:embed="{icon_rid}"/>'
        "<a:stretch><a:fillRect/></a:stretch></p:blipFill>"
        "<p:spPr>"
        f'<a:xfrm><a:off x="{emu(box.x)}" y="{emu(box.y)}"/>'
        f'<a:ext cx="{emu(box.w)}" cy="{emu(box.h)}"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom>'
        "</p:spPr>"
        "</p:pic>"
    )


def _timing_xml(shape_id: int, duration_ms: int | None, slides: int) -> str:
    dur = str(duration_ms) if duration_ms else "indefinite"
    across = f' numSld="{slides}"' if slides > 1 else ""
    target = f'<p:tgtEl><p:spTgt spid="{shape_id}"/></p:tgtEl>'
    return (
        f'<p:timing xmlns:p="{_P}"><p:tnLst><p:par>'
        '<p:cTn id="1" dur="indefinite" restart="never" nodeType="tmRoot"><p:childTnLst>'
        '<p:seq concurrent="1" nextAc="seek">'
        '<p:cTn id="2" dur="indefinite" nodeType="mainSeq"><p:childTnLst>'
        '<p:par><p:cTn id="3" fill="hold"><p:stCondLst><p:cond delay="indefinite"/>'
        '<p:cond evt="onBegin" delay="0"><p:tn val="2"/></p:cond></p:stCondLst><p:childTnLst>'
        '<p:par><p:cTn id="4" fill="hold"><p:stCondLst><p:cond delay="0"/></p:stCondLst>'
        "<p:childTnLst><p:par>"
        '<p:cTn id="5" presetID="1" presetClass="mediacall" presetSubtype="0" fill="hold"'
        ' nodeType="afterEffect"><p:stCondLst><p:cond delay="0"/></p:stCondLst><p:childTnLst>'
        '<p:cmd type="call" cmd="playFrom(0.0)">'
        f'<p:cBhvr><p:cTn id="6" dur="{dur}" fill="hold"/>{target}</p:cBhvr>'
        "</p:cmd></p:childTnLst></p:cTn>"
        "</p:par></p:childTnLst></p:cTn></p:par>"
        "</p:childTnLst></p:cTn></p:par>"
        "</p:childTnLst></p:cTn>"
        '<p:prevCondLst><p:cond evt="onPrev" delay="0"><p:tgtEl><p:sldTgt/></p:tgtEl></p:cond>'
        "</p:prevCondLst>"
        '<p:nextCondLst><p:cond evt="onNext" delay="0"><p:tgtEl><p:sldTgt/></p:tgtEl></p:cond>'
        "</p:nextCondLst>"
        "</p:seq>"
        f'<p:audio><p:cMediaNode vol="80000" showWhenStopped="0"{across}>'
        '<p:cTn id="7" fill="hold" display="0"><p:stCondLst><p:cond delay="indefinite"/>'
        "</p:stCondLst>"
        '<p:endCondLst><p:cond evt="onStopAudio" delay="0"><p:tgtEl><p:sldTgt/></p:tgtEl>'
        "</p:cond></p:endCondLst></p:cTn>"
        f"{target}</p:cMediaNode></p:audio>"
        "</p:childTnLst></p:cTn></p:par></p:tnLst></p:timing>"
    )


def embed_audio(
    slide: Slide,
    audio: bytes,
    *,
    audio_format: AudioFormat,
    name: str,
    box: Box,
    duration_ms: int | None,
    slides: int = 1,
) -> int:
    """Embed ``audio`` in ``slide`` as a sound that plays by itself when the slide appears.

    The media part is named ``name`` with the format's suffix and has its MIME type.

    ``box`` is where the (hidden-during-show) speaker icon sits, in points. ``slides`` > 1
    lets the sound play on across that many slides (a slide split into continuations).
    Returns the audio shape's id.
    """
    filename = f"{name}.{audio_format.suffix}"
    media = Video.from_blob(audio, audio_format.mime_type, filename)
    part = slide.part
    media_part = part.package.get_or_add_media_part(media)  # type: ignore[no-untyped-call]
    media_rid = part.relate_to(media_part, RT.MEDIA)
    audio_rid = part.relate_to(media_part, RT.AUDIO)
    _, icon_rid = part.get_or_add_image_part(io.BytesIO(speaker_icon()))
    shape_id = _next_shape_id(slide)
    pic = parse_xml(
        _pic_xml(shape_id, f"Narration {filename}", audio_rid, media_rid, icon_rid, box)
    )
    slide.element.cSld.spTree.append(pic)
    old = slide.element.find(f"{{{_P}}}timing")
    if old is not None:
        slide.element.remove(old)
    _insert_in_order(slide, parse_xml(_timing_xml(shape_id, duration_ms, slides)))
    return shape_id


def _insert_in_order(slide: Slide, element: etree._Element) -> None:
    """Insert ``element`` (``p:transition`` or ``p:timing``) where the schema wants it."""
    order = ["cSld", "clrMapOvr", "transition", "timing", "extLst"]
    rank = order.index(etree.QName(element).localname)
    sld = slide.element
    for index, child in enumerate(sld):
        name = etree.QName(child).localname
        if name in order and order.index(name) > rank:
            sld.insert(index, element)
            return
    sld.append(element)


def set_auto_advance(slide: Slide, after_ms: int) -> None:
    """Advance ``slide`` by itself ``after_ms`` ms after it appears (clicks still work too)."""
    old = slide.element.find(f"{{{_P}}}transition")
    if old is not None:
        slide.element.remove(old)
    transition = parse_xml(
        f'<p:transition xmlns:p="{_P}" spd="med" advClick="1" advTm="{max(0, after_ms)}">'
        "<p:fade/></p:transition>"
    )
    _insert_in_order(slide, transition)
