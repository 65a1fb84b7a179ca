"""Narration audio: decoding per-slide clips, levelling their loudness, cutting pieces.

Clips are decoded by the one audio-format table (``slidestream._types.AudioFormat``): the
clip's file suffix names its format, and :func:`slidestream._media.decode_args` tells the
ffmpeg of imageio-ffmpeg how to read it, so every format a built-in TTS provider returns
(mp3, wav, ogg, opus, aac, flac, webm, raw pcm) decodes the same way. pydub only levels the
decoded samples.

Every slide becomes one *piece*: its levelled clip (or a few seconds of silence when its
narration failed) followed by the pause before the next slide. The pieces, in slide order,
are the deck's narration track; their lengths give every slide's start in the video and in
the subtitles. A clip that exists but cannot be decoded is a :class:`RenderError` naming the
file, never a silent slide: the run checked every clip when the TTS provider returned it, so
a clip that no longer decodes means something is broken, and a silent deck would hide it.
"""

from __future__ import annotations

import math
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import RenderError
from .._media import decode_args, decode_pcm, ffmpeg_exe, mp3_args
from .._types import AudioFormat

if TYPE_CHECKING:
    from pydub import AudioSegment

__all__ = [
    "MIN_PIECE_S",
    "SAMPLE_RATE",
    "SILENT_SLIDE_S",
    "TARGET_DBFS",
    "AudioPiece",
    "clip_as_mp3",
    "clip_format",
    "decode_clip",
    "level",
    "levelled_pcm",
    "load_clip",
    "make_piece",
    "piece_of",
    "setup_pydub",
]

SAMPLE_RATE = 24000
"""The narration track's sample rate (mono, 16-bit): the rate speech engines deliver, and
half the encoding work of 48 kHz for the track's AAC and MP3."""
TARGET_DBFS = -20.0
"""The loudness (RMS, dBFS) every slide's narration is levelled to."""
PEAK_CEILING_DBFS = -1.0
SILENT_SLIDE_S = 3.0
"""How long a slide without narration stays on screen."""
MIN_PIECE_S = 1.0
"""The shortest piece (a video frame is held at least this long)."""


def setup_pydub() -> Any:
    """Import pydub, pointed at imageio-ffmpeg's ffmpeg; return its ``AudioSegment`` class.

    pydub warns at import time when there is no system ffmpeg; that warning is irrelevant
    here and silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="pydub")
        from pydub import AudioSegment

    AudioSegment.converter = ffmpeg_exe()
    return AudioSegment


def clip_format(path: Path) -> AudioFormat:
    """The audio format a narration clip's file suffix names.

    Raises:
        RenderError: the suffix names no known audio format.
    """
    found = AudioFormat.from_suffix(path.suffix)
    if found is None:
        known = ", ".join(member.suffix for member in AudioFormat)
        raise RenderError(
            f"Cannot read the narration {path.name}: its suffix names no audio format "
            f"(known: {known})."
        )
    return found


def decode_clip(path: Path, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A clip's audio as mono signed 16-bit little-endian samples at ``sample_rate``.

    Raises:
        RenderError: the file is missing, its suffix names no format, or it does not decode.
    """
    fmt = clip_format(path)
    try:
        pcm = decode_pcm(path.read_bytes(), fmt, sample_rate=sample_rate)
    except (OSError, ValueError) as err:
        raise RenderError(f"Cannot decode the narration {path.name} ({fmt}): {err}") from err
    if not pcm:
        raise RenderError(f"The narration {path.name} ({fmt}) decodes to no audio.")
    return pcm


def load_clip(path: Path) -> AudioSegment:
    """Decode a narration clip in any :class:`AudioFormat` as 24 kHz mono 16-bit audio."""
    audio_segment = setup_pydub()
    return audio_segment(data=decode_clip(path), sample_width=2, frame_rate=SAMPLE_RATE, channels=1)


def clip_as_mp3(path: Path, *, bitrate: str = "64k") -> bytes:
    """A clip as MP3 bytes (the format every PPTX viewer plays); MP3 clips are kept as they are.

    Raises:
        RenderError: the file is missing, its suffix names no format, or it does not decode.
    """
    fmt = clip_format(path)
    try:
        audio = path.read_bytes()
    except OSError as err:
        raise RenderError(f"Cannot read the narration {path.name}: {err}") from err
    if fmt is AudioFormat.MP3:
        return audio
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
        *decode_args(fmt), "-i", "pipe:0",
        "-vn", "-ac", "1", *mp3_args(bitrate), "-f", "mp3", "pipe:1",
    ]  # fmt: skip
    done = subprocess.run(command, input=audio, capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1] if lines else "no audio came out"
        raise RenderError(f"Cannot decode the narration {path.name} ({fmt}): {detail}")
    return done.stdout


def level(clip: AudioSegment, *, target_dbfs: float = TARGET_DBFS) -> AudioSegment:
    """Bring ``clip`` to ``target_dbfs`` RMS, never pushing its peak above -1 dBFS.

    Silent clips are returned unchanged.
    """
    loudness = clip.dBFS
    if math.isinf(loudness):
        return clip
    gain = target_dbfs - loudness
    gain = min(gain, PEAK_CEILING_DBFS - clip.max_dBFS)
    return clip.apply_gain(gain)


@dataclass(frozen=True)
class AudioPiece:
    """One slide's share of the narration track.

    Attributes:
        pcm: 24 kHz mono signed 16-bit little-endian samples, pause included.
        samples: the piece's length in samples.
        speech_s: how long the narration itself lasts (0 for a silent slide).
    """

    pcm: bytes
    samples: int
    speech_s: float

    @property
    def duration_s(self) -> float:
        """The piece's length in seconds."""
        return self.samples / SAMPLE_RATE


def levelled_pcm(path: Path) -> bytes:
    """A clip decoded and levelled: the speech part of its piece (see :func:`make_piece`).

    Raises:
        RenderError: the clip cannot be decoded (see :func:`decode_clip`).
    """
    return bytes(level(load_clip(path)).raw_data)


def piece_of(speech: bytes, *, pause_s: float) -> AudioPiece:
    """A piece from levelled speech samples (empty: a silent slide) and the pause after it."""
    if speech:
        pcm, speech_s = speech, len(speech) / 2 / SAMPLE_RATE
    else:
        pcm, speech_s = bytes(2 * round(SILENT_SLIDE_S * SAMPLE_RATE)), 0.0
    samples = len(pcm) // 2
    wanted = max(samples + round(pause_s * SAMPLE_RATE), round(MIN_PIECE_S * SAMPLE_RATE))
    pcm += bytes(2 * (wanted - samples))
    return AudioPiece(pcm=pcm, samples=wanted, speech_s=speech_s)


def make_piece(path: Path | None, *, pause_s: float) -> AudioPiece:
    """Decode and level one slide's clip and append its trailing pause.

    ``path=None`` (the slide's narration failed) gives :data:`SILENT_SLIDE_S` of silence.

    Raises:
        RenderError: the clip cannot be decoded (see :func:`decode_clip`).
    """
    return piece_of(levelled_pcm(path) if path is not None else b"", pause_s=pause_s)
