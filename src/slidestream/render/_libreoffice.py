"""LibreOffice, headless, when it is installed: PPTX pages as pictures and as a vector PDF.

:func:`find_soffice` looks for ``soffice`` (or ``libreoffice``) on ``PATH``, in the usual
install folders of macOS and Windows, or at ``SLIDESTREAM_SOFFICE``. A :class:`LibreOffice`
runs one conversion at a time with a private profile folder (two LibreOffice processes must
never share a profile), several files per call so it starts once for a batch; a conversion
that is cancelled is killed and waited for.

The profile holds the shipped Lato (so the built-in theme prints in its own font) and a font
replacement table: a template font that is not installed is drawn in Lato, the font its text
was measured with, so LibreOffice breaks lines where the plan did.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import anyio

from .._exceptions import RenderError
from ._ffmpeg import run_process
from ._fonts import font_path
from ._typeface import Typeface

__all__ = ["CONVERT_TIMEOUT_S", "LibreOffice", "find_soffice", "stand_ins"]

CONVERT_TIMEOUT_S = 180.0
"""Longest a conversion may take before it is stopped (a stuck LibreOffice never returns)."""

_INSTALLED = {
    "darwin": ["/Applications/LibreOffice.app/Contents/MacOS/soffice"],
    "win32": [
        r"C:\Program Files\LibreOffice\program\soffice.exe",
        r"C:\Program Files (x86)\LibreOffice\program\soffice.exe",
    ],
}


def find_soffice() -> str | None:
    """The LibreOffice program, or None when it is not installed."""
    named = os.environ.get("SLIDESTREAM_SOFFICE")
    if named:
        return named if Path(named).is_file() else shutil.which(named)
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    for path in _INSTALLED.get(sys.platform, []):
        if Path(path).is_file():
            return path
    return None


def stand_ins(faces: Iterable[Typeface]) -> dict[str, str]:
    """The fonts LibreOffice must draw in place of others, so it measures as the plan did.

    A family this machine lacks was measured with a stand-in (a metric twin, else Lato).
    """
    return {
        face.family: face.drawn_as
        for face in faces
        if face.drawn_as.casefold() != face.family.casefold()
    }


def _low_priority() -> list[str]:
    """The command prefix that runs a program at the lowest CPU priority (POSIX ``nice``)."""
    nice = shutil.which("nice") if os.name == "posix" else None
    return [nice, "-n", "19"] if nice else []


def _png_filter(width: int, height: int) -> str:
    size = (
        f'{{"PixelWidth":{{"type":"long","value":"{width}"}},'
        f'"PixelHeight":{{"type":"long","value":"{height}"}}}}'
    )
    return f"png:impress_png_Export:{size}"


def _registry(substitutes: Mapping[str, str]) -> str:
    """LibreOffice settings that always draw each family in ``substitutes`` as another."""
    pairs = "".join(
        f'<node oor:name="_{number}" oor:op="replace">'
        '<prop oor:name="Always" oor:op="fuse"><value>true</value></prop>'
        '<prop oor:name="OnScreenOnly" oor:op="fuse"><value>false</value></prop>'
        f'<prop oor:name="ReplaceFont" oor:op="fuse"><value>{escape(family)}</value></prop>'
        f'<prop oor:name="SubstituteFont" oor:op="fuse"><value>{escape(other)}</value></prop>'
        "</node>"
        for number, (family, other) in enumerate(sorted(substitutes.items()))
    )
    path = "/org.openoffice.Office.Common/Font/Substitution"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f'<item oor:path="{path}"><prop oor:name="Replacement" oor:op="fuse">'
        f"<value>{'true' if substitutes else 'false'}</value></prop></item>\n"
        f'<item oor:path="{path}/FontPairs">{pairs}</item>\n'
        "</oor:items>\n"
    )


class LibreOffice:
    """A headless LibreOffice with its own profile in ``work_dir``; one job at a time.

    Args:
        exe: the ``soffice`` program.
        work_dir: where the profile lives (removed with the build folder).
        substitutes: families to draw as another family (``{"Calibri": "Lato"}``).
    """

    def __init__(
        self, exe: str, work_dir: Path, *, substitutes: Mapping[str, str] | None = None
    ) -> None:
        self.exe = exe
        self.work_dir = work_dir
        self.substitutes = dict(substitutes or {})
        self._lock = anyio.Lock()

    def _prepare_profile(self, profile: Path) -> None:
        user = profile / "user"
        if (user / "registrymodifications.xcu").is_file():
            return
        (user / "fonts").mkdir(parents=True, exist_ok=True)
        for bold in (False, True):
            shutil.copyfile(font_path(bold=bold), user / "fonts" / font_path(bold=bold).name)
        (user / "registrymodifications.xcu").write_text(
            _registry(self.substitutes), encoding="utf-8"
        )

    async def _convert(
        self,
        sources: Sequence[Path],
        target: str,
        out_dir: Path,
        suffix: str,
        *,
        what: str,
        low_priority: bool = False,
    ) -> list[Path]:
        profile = self.work_dir / "libreoffice-profile"
        command: list[str | Path] = [
            *(_low_priority() if low_priority else []),
            self.exe,
            f"-env:UserInstallation={profile.resolve().as_uri()}",
            "--headless", "--invisible", "--norestore", "--nolockcheck", "--nodefault",
            "--nologo", "--convert-to", target, "--outdir", out_dir, *sources,
        ]  # fmt: skip
        async with self._lock:
            await anyio.to_thread.run_sync(lambda: out_dir.mkdir(parents=True, exist_ok=True))
            await anyio.to_thread.run_sync(self._prepare_profile, profile)
            try:
                with anyio.fail_after(CONVERT_TIMEOUT_S):
                    await run_process(command, what=what, tool="LibreOffice", group=True)
            except TimeoutError:
                raise RenderError(
                    f"LibreOffice took longer than {CONVERT_TIMEOUT_S:.0f} s while {what}"
                ) from None
        outputs = [out_dir / f"{source.stem}.{suffix}" for source in sources]
        missing = [path.name for path in outputs if not path.is_file()]
        if missing:
            raise RenderError(f"LibreOffice wrote no {', '.join(missing)} while {what}")
        return outputs

    async def pictures(
        self, sources: Sequence[Path], out_dir: Path, size: tuple[int, int]
    ) -> list[Path]:
        """The first page of each PPTX in ``sources`` as a PNG of ``size`` pixels."""
        return await self._convert(
            sources, _png_filter(*size), out_dir, "png", what="drawing slide pages"
        )

    async def pdf(self, source: Path, out_dir: Path, *, low_priority: bool = False) -> Path:
        """``source`` (a PPTX) printed as a PDF in ``out_dir`` (``low_priority``: at the lowest
        CPU priority, so it takes only what other work leaves)."""
        outputs = await self._convert(
            [source],
            "pdf:impress_pdf_Export",
            out_dir,
            "pdf",
            what="printing the PDF",
            low_priority=low_priority,
        )
        return outputs[0]
