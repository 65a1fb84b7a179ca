"""Narration audio: decoding per-slide clips, levelling their loudness, and merging them.

pydub does the work, pointed at the ffmpeg binary of imageio-ffmpeg. Clips are always
decoded with an explicit format (and codec), so pydub never needs ffprobe, which
imageio-ffmpeg does not ship.

Every slide becomes one *piece*: its levelled clip (or a few seconds of silence when its
narration failed) followed by the pause before the next slide. The pieces, in slide order,
are the deck's narration track; their lengths give every slide's start in the video and in
the subtitles.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import InvalidInputError, RenderError
from ._ffmpeg import atomic_output, ffmpeg_exe

if TYPE_CHECKING:
    from pydub import AudioSegment

__all__ = [
    "MIN_PIECE_S",
    "SAMPLE_RATE",
    "SILENT_SLIDE_S",
    "TARGET_DBFS",
    "AudioPiece",
    "level",
    "load_clip",
    "make_piece",
    "merge_narration",
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


def _ogg_codec(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(128)
    return "opus" if b"OpusHead" in head else "vorbis"


def load_clip(path: Path) -> AudioSegment:
    """Decode a narration clip (wav, mp3 or ogg) as 24 kHz mono 16-bit pydub audio."""
    audio_segment = setup_pydub()
    suffix = path.suffix.lower().lstrip(".")
    formats = {"wav": "wav", "mp3": "mp3", "ogg": "ogg", "oga": "ogg", "opus": "ogg"}
    fmt = formats.get(suffix)
    if fmt is None:
        raise InvalidInputError(f"Cannot read narration {path.name}: use mp3, wav or ogg audio.")
    # An explicit format, and a codec for compressed audio, keep pydub away from ffprobe.
    codec = {"wav": None, "mp3": "mp3", "ogg": None}[fmt]
    try:
        if fmt == "ogg":
            codec = _ogg_codec(path)
        with path.open("rb") as handle:
            clip = audio_segment.from_file(handle, format=fmt, codec=codec)
    except InvalidInputError:
        raise
    except Exception as error:
        raise RenderError(f"Cannot decode narration {path}: {error}") from error
    return clip.set_channels(1).set_sample_width(2).set_frame_rate(SAMPLE_RATE)


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


def make_piece(path: Path | None, *, pause_s: float) -> AudioPiece:
    """Decode and level one slide's clip and append its trailing pause.

    ``path=None`` (the slide's narration failed) gives :data:`SILENT_SLIDE_S` of silence.
    """
    audio_segment = setup_pydub()
    if path is None:
        speech = audio_segment.silent(duration=SILENT_SLIDE_S * 1000, frame_rate=SAMPLE_RATE)
        speech_s = 0.0
    else:
        speech = level(load_clip(path))
        speech_s = len(speech.raw_data) / 2 / SAMPLE_RATE
    speech = speech.set_channels(1).set_sample_width(2).set_frame_rate(SAMPLE_RATE)
    pcm = speech.raw_data
    samples = len(pcm) // 2
    wanted = max(samples + round(pause_s * SAMPLE_RATE), round(MIN_PIECE_S * SAMPLE_RATE))
    pcm += bytes(2 * (wanted - samples))
    return AudioPiece(pcm=pcm, samples=wanted, speech_s=speech_s)


def merge_narration(
    clips: Sequence[Path | None], path: Path, *, pause_s: float = 0.6, bitrate: str = "64k"
) -> Path:
    """Merge per-slide clips into one MP3 at ``path`` (atomically), levelled, with pauses.

    ``pause_s`` of silence separates consecutive slides; a ``None`` clip stands for a slide
    without narration and lasts :data:`SILENT_SLIDE_S`. Returns ``path``.
    """
    audio_segment = setup_pydub()
    pieces = [
        make_piece(clip, pause_s=pause_s if n < len(clips) - 1 else 0.0)
        for n, clip in enumerate(clips)
    ]
    track = audio_segment(
        data=b"".join(p.pcm for p in pieces), sample_width=2, frame_rate=SAMPLE_RATE, channels=1
    )
    with atomic_output(path) as tmp:
        track.export(str(tmp), format="mp3", bitrate=bitrate).close()
    return path
