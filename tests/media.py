"""Probing helpers for media files written in tests (imageio-ffmpeg only, no ffprobe)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def probe(path: Path) -> dict[str, Any]:
    """The meta dict imageio-ffmpeg reads (codec, audio_codec, duration, size, fps...).

    Parsed from ``ffmpeg -i`` as imageio-ffmpeg's ``read_frames`` does, without leaving a
    reader process behind (its generator only kills a slow ffmpeg, never waits for it).
    """
    from imageio_ffmpeg._parsing import parse_ffmpeg_header

    info = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False
    )
    meta: dict[str, Any] = parse_ffmpeg_header(info.stderr)
    return meta


def stream_end(path: Path, stream: str) -> float:
    """When the last packet of stream ``"v"`` or ``"a"`` ends, in seconds (0 if none)."""
    out = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-map", f"0:{stream}?", "-c", "copy",
         "-f", "framemd5", "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    timebase = re.search(r"#tb 0: (\d+)/(\d+)", out)
    packets = [line.split(",") for line in out.splitlines() if line and not line.startswith("#")]
    if not timebase or not packets:
        return 0.0
    num, den = int(timebase.group(1)), int(timebase.group(2))
    return max(int(p[2]) + int(p[3]) for p in packets) * num / den


def video_packet_times(path: Path) -> list[float]:
    """Presentation times of every video packet, in seconds."""
    out = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "framemd5",
         "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    timebase = re.search(r"#tb 0: (\d+)/(\d+)", out)
    assert timebase is not None
    num, den = int(timebase.group(1)), int(timebase.group(2))
    lines = [line.split(",") for line in out.splitlines() if line and not line.startswith("#")]
    return sorted(int(p[2]) * num / den for p in lines)


def decoded_seconds(path: Path, rate: int = 48000) -> float:
    """The length of the decoded audio of ``path``, in seconds."""
    pcm = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-map", "0:a", "-f", "s16le", "-ac", "1",
         "-ar", str(rate), "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return len(pcm) / 2 / rate


def decoded_pcm(path: Path, rate: int = 48000) -> bytes:
    """The decoded mono 16-bit audio of ``path``."""
    return subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-map", "0:a", "-f", "s16le", "-ac", "1",
         "-ar", str(rate), "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip


@dataclass(frozen=True)
class ParsedCue:
    start_s: float
    end_s: float
    text: str


_TIME = r"(\d+):(\d\d):(\d\d)[,.](\d\d\d)"


def _seconds(match: tuple[str, ...]) -> float:
    h, m, s, ms = (int(x) for x in match)
    return h * 3600 + m * 60 + s + ms / 1000


def parse_subtitles(text: str) -> list[ParsedCue]:
    """Parse SRT or WebVTT text into cues (strict enough to catch format slips)."""
    cues = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.strip().splitlines()
        timing = next((n for n, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue
        found = re.fullmatch(rf"{_TIME} --> {_TIME}", lines[timing].strip())
        assert found, f"bad timing line {lines[timing]!r}"
        groups = found.groups()
        cues.append(
            ParsedCue(_seconds(groups[:4]), _seconds(groups[4:]), "\n".join(lines[timing + 1 :]))
        )
    return cues


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), cmdline))
    return found


def ffmpeg_children() -> list[int]:
    """Process ids of ffmpeg processes started by this test process."""
    return [pid for pid, cmdline in children(os.getpid()) if "ffmpeg" in cmdline]


def audio_codec(path: Path) -> str:
    """The codec name of the first audio stream (from ffmpeg's stream listing)."""
    info = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    found = re.search(r"Audio: (\w+)", info.stderr)
    assert found, info.stderr
    return found.group(1)


CLIP_ENCODINGS: dict[str, list[str]] = {
    "mp3": ["-c:a", "libmp3lame", "-f", "mp3"],
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "ogg": ["-c:a", "libvorbis", "-f", "ogg"],
    "opus": ["-c:a", "libopus", "-f", "ogg"],
    "aac": ["-c:a", "aac", "-f", "adts"],
    "flac": ["-c:a", "flac", "-f", "flac"],
    "webm": ["-c:a", "libopus", "-f", "webm"],
    "pcm": ["-ar", "24000", "-ac", "1", "-f", "s16le"],
}
"""How to encode a clip in every audio format a TTS provider may return (as the providers do)."""


def encode_clip(source: Path, audio_format: str, target: Path) -> Path:
    """``source`` (any audio) re-encoded in ``audio_format`` at ``target``."""
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-i", str(source), *CLIP_ENCODINGS[audio_format],
         str(target)],
        check=True,
    )  # fmt: skip
    return target


def processes_with(text: str) -> list[int]:
    """Process ids of running (not zombie) processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@dataclass(frozen=True)
class PdfFigures:
    """What a PDF holds, read with pypdf: each page's text, its fonts and its pictures."""

    texts: list[str]
    fonts: list[set[str]]
    """Each page's font names (``/BaseFont``), subset prefixes included."""
    embedded: bool
    """True when every font used has its font file in the PDF."""
    pictures: list[list[str]]
    """Each page's image filters (``"/DCTDecode"``, ``"/FlateDecode"``), one per picture."""
    title: str


def read_pdf(path: Path) -> PdfFigures:
    """The pages of the PDF at ``path``: text as a reader extracts it, fonts and pictures."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    texts, fonts, pictures, embedded = [], [], [], True
    for page in reader.pages:
        texts.append(page.extract_text() or "")
        resources = page.get("/Resources") or {}
        page_fonts = set()
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            page_fonts.add(str(font.get("/BaseFont")))
            descendants = font.get("/DescendantFonts")
            described = descendants[0].get_object() if descendants else font
            descriptor = described.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            if not any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
                embedded = False
        fonts.append(page_fonts)
        page_pictures = []
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Image":
                filters = xobject.get("/Filter")
                names = filters if isinstance(filters, list) else [filters]
                page_pictures.append(str(names[-1]))
        pictures.append(page_pictures)
    title = str((reader.metadata or {}).get("/Title", ""))
    return PdfFigures(texts, fonts, embedded, pictures, title)
