"""A PDF of picture pages: each page one JPEG, filling a page of the slide's size.

Used when LibreOffice is not there to print the PPTX as a vector PDF. The JPEG bytes are
stored as they are (``/DCTDecode``), so writing the file costs no re-encoding.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

__all__ = ["PdfPage", "pdf_bytes"]


@dataclass(frozen=True)
class PdfPage:
    """One page: a baseline RGB JPEG and its pixel size."""

    jpeg: bytes
    width: int
    height: int

    @classmethod
    def of(cls, picture: Image.Image, *, quality: int = 88) -> PdfPage:
        """A page from a picture (made RGB and encoded as JPEG)."""
        out = io.BytesIO()
        picture.convert("RGB").save(out, format="JPEG", quality=quality, optimize=True)
        return cls(out.getvalue(), *picture.size)


def _text(value: str) -> bytes:
    """A PDF text string: UTF-16BE with a byte-order mark, in hex."""
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def pdf_bytes(pages: Sequence[PdfPage], size: tuple[float, float], *, title: str = "") -> bytes:
    """A PDF whose pages are ``pages``, each ``size`` points (width, height)."""
    width, height = (f"{value:.2f}".encode("ascii") for value in size)
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the page tree's number is known
    info = add(b"<< /Title " + _text(title) + b" /Producer " + _text("slidestream") + b" >>")
    kids: list[int] = []
    tree = add(b"")
    for page in pages:
        image = add(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB"
            b" /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
            % (page.width, page.height, len(page.jpeg))
            + page.jpeg
            + b"\nendstream"
        )
        draw = b"q " + width + b" 0 0 " + height + b" 0 0 cm /Im0 Do Q"
        content = add(b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 " % tree
                + width
                + b" "
                + height
                + b"] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                % (image, content)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    refs = b" ".join(b"%d 0 R" % kid for kid in kids)
    objects[tree - 1] = b"<< /Type /Pages /Kids [" + refs + b"] /Count %d >>" % len(kids)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, catalog, info, xref)
    )
    return out.getvalue()
