"""WAV containers for raw 16-bit mono PCM, as local voices and the test double produce it."""

from __future__ import annotations

import io
import wave

__all__ = ["mono_wav"]


def mono_wav(pcm: bytes, sample_rate: int) -> bytes:
    """``pcm`` (16-bit little-endian mono samples) wrapped as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm)
    return out.getvalue()
