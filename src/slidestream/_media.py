"""Checking narration clips: decode them with ffmpeg by the audio-format table and measure them.

The ffmpeg binary comes from imageio-ffmpeg, so nothing is asked of the system. Every clip a
TTS provider returns goes through :func:`check_clip` before it is used: its format must be a
known :class:`AudioFormat` (a file name is never built from provider data) and it must decode
to audio; its measured duration replaces whatever the provider claimed.
"""

from __future__ import annotations

import functools
import io
import subprocess
import threading
import wave

from ._exceptions import ProviderResponseError
from ._types import PCM_SAMPLE_RATE, AudioFormat

__all__ = [
    "CHECK_SAMPLE_RATE",
    "aac_args",
    "check_clip",
    "decode_args",
    "decode_pcm",
    "ffmpeg_exe",
    "mp3_args",
    "pcm_wav_duration",
]

CHECK_SAMPLE_RATE = 8000
"""The rate clips are decoded at to measure them: cheap, and exact to 1/8000 s."""


def mp3_args(bitrate: str) -> list[str]:
    """ffmpeg's output options for speech as MP3 at ``bitrate``.

    LAME's quality 7 takes half the time of its default and measures no worse on speech.
    """
    return ["-c:a", "libmp3lame", "-b:a", bitrate, "-compression_level", "7"]


def aac_args(bitrate: str) -> list[str]:
    """ffmpeg's output options for speech as AAC at ``bitrate``.

    The fast coder takes half the time of the default two-loop search.
    """
    return ["-c:a", "aac", "-aac_coder", "fast", "-b:a", bitrate]


_FFMPEG_LOCK = threading.Lock()


def ffmpeg_exe() -> str:
    """The path of the ffmpeg binary shipped by imageio-ffmpeg.

    Found once per process (imageio-ffmpeg runs it with ``-version``, which can take seconds
    while the binary is read from a cold disk); callers meanwhile wait for that one lookup.
    """
    with _FFMPEG_LOCK:
        return _find_ffmpeg()


@functools.cache
def _find_ffmpeg() -> str:
    import imageio_ffmpeg

    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def decode_args(audio_format: AudioFormat) -> list[str]:
    """The ffmpeg input options that read a clip in ``audio_format`` (before ``-i``)."""
    spec = audio_format.spec
    args = ["-f", spec.demuxer]
    if spec.raw:
        args += ["-ar", str(PCM_SAMPLE_RATE), "-ac", "1"]
    return args


def decode_pcm(audio: bytes, audio_format: AudioFormat, *, sample_rate: int) -> bytes:
    """Decode ``audio`` to mono signed 16-bit little-endian samples at ``sample_rate``.

    Raises:
        ValueError: ffmpeg could not decode it (the message is ffmpeg's last line).
    """
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
        *decode_args(audio_format), "-i", "pipe:0",
        "-f", "s16le", "-ac", "1", "-ar", str(sample_rate), "pipe:1",
    ]  # fmt: skip
    done = subprocess.run(command, input=audio, capture_output=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ValueError(lines[-1] if lines else f"ffmpeg exit status {done.returncode}")
    return done.stdout


def pcm_wav_duration(audio: bytes) -> float | None:
    """The length of a plain PCM WAV file from its samples, without starting ffmpeg; ``None``
    when it is not one Python's ``wave`` reads (float, compressed or damaged: ffmpeg decides).
    """
    try:
        with wave.open(io.BytesIO(audio), "rb") as reader:
            rate, width, channels = (
                reader.getframerate(),
                reader.getsampwidth(),
                reader.getnchannels(),
            )
            if not (1000 <= rate <= 384000 and width in (1, 2, 3, 4) and 1 <= channels <= 8):
                return None
            data = reader.readframes(reader.getnframes())
    except Exception:  # any damage the reader trips on: ffmpeg decides
        return None
    return len(data) // (width * channels) / rate


def check_clip(
    audio: bytes, audio_format: str, *, provider: str | None = None
) -> tuple[AudioFormat, float]:
    """Check a clip a TTS provider returned; return its format and measured duration.

    Raises:
        ProviderResponseError: the format is unknown, the clip is empty, or it does not
            decode to any audio. In a run this becomes the slide's TTS error, so a fallback
            chain tries its next voice.
    """
    try:
        fmt = AudioFormat.parse(audio_format)
    except ValueError as err:
        raise ProviderResponseError(
            f"the TTS provider returned audio in an {err}", provider=provider, stage="tts"
        ) from None
    if not audio:
        raise ProviderResponseError(
            "the TTS provider returned no audio", provider=provider, stage="tts"
        )
    seconds = pcm_wav_duration(audio) if fmt is AudioFormat.WAV else None
    if seconds is None:
        try:
            pcm = decode_pcm(audio, fmt, sample_rate=CHECK_SAMPLE_RATE)
        except ValueError as err:
            raise ProviderResponseError(
                f"the TTS provider's {fmt} audio cannot be decoded: {err}",
                provider=provider,
                stage="tts",
            ) from None
        seconds = len(pcm) / 2 / CHECK_SAMPLE_RATE
    if seconds <= 0:
        raise ProviderResponseError(
            f"the TTS provider's {fmt} audio decodes to nothing", provider=provider, stage="tts"
        )
    return fmt, seconds
