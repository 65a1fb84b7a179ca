"""Audio bytes the TTS providers build: WAV containers, MP3 durations, joined pieces.

An MP3 stream is a sequence of self-describing frames: each header gives the frame's
length and its sample count, so walking the headers yields the exact duration without
decoding or ffprobe. Streams can be concatenated frame by frame, which is how a narration
spoken in several requests becomes one clip.
"""

from __future__ import annotations

import io
import wave

__all__ = ["join_audio", "mono_wav", "mp3_duration", "sniff_audio_format", "wav_rate"]


def mono_wav(pcm: bytes, sample_rate: int) -> bytes:
    """``pcm`` (16-bit little-endian mono samples) wrapped as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm)
    return out.getvalue()


def wav_rate(wav: bytes) -> int:
    """The sample rate of a WAV file."""
    with wave.open(io.BytesIO(wav), "rb") as reader:
        return reader.getframerate()


def join_audio(pieces: list[bytes], audio_format: str) -> bytes:
    """One clip from pieces in the same format: MP3 and ADTS AAC frames simply follow each
    other; WAV pieces are re-wrapped in one container (blocking).

    A WAV piece may come from a server that streamed it and wrote its length fields before
    knowing them (0xFFFFFFFF): its samples are read to the end of the bytes, and the
    joined container states the real length.

    Raises:
        ValueError: a WAV piece is not plain PCM that Python's ``wave`` reads, or its sample
            layout differs from the first piece's.
    """
    if audio_format != "wav":
        return b"".join(pieces)
    out = io.BytesIO()
    try:
        with wave.open(out, "wb") as writer:
            for number, piece in enumerate(pieces):
                with wave.open(io.BytesIO(piece), "rb") as reader:
                    layout = reader.getparams()[:3]
                    if number == 0:
                        writer.setparams(reader.getparams()._replace(nframes=0))
                    elif layout != writer.getparams()[:3]:
                        raise ValueError(
                            f"WAV piece {number + 1} has another sample layout than the first"
                        )
                    writer.writeframes(_all_frames(reader))
    except (wave.Error, EOFError) as error:
        raise ValueError(f"a WAV piece cannot be read: {error}") from error
    return out.getvalue()


def _all_frames(reader: wave.Wave_read) -> bytes:
    """Every whole frame of a WAV file, however long its header says its data is."""
    data = reader.readframes(reader.getnframes())
    frame = reader.getsampwidth() * reader.getnchannels()
    return data[: len(data) - len(data) % frame]


def sniff_audio_format(data: bytes) -> str | None:
    """The audio format ``data`` is in, from its first bytes: ``"wav"``, ``"flac"``,
    ``"opus"`` (any Ogg stream), ``"aac"`` (ADTS), ``"mp3"`` (an ID3 tag or an MPEG audio
    frame); ``None`` when none of them."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "opus"
    if data[:2] in (b"\xff\xf1", b"\xff\xf9"):  # ADTS: sync, MPEG-4/2, layer 0, no CRC
        return "aac"
    if data[:3] == b"ID3" or _frame(data, 0) is not None:
        return "mp3"
    return None


# Bitrates in kbit/s by [MPEG-1?][layer][index]; layer 1, 2, 3.
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _frame(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """``(frame length, samples, sample rate)`` of the frame header at ``pos``, if valid."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    version = (data[pos + 1] >> 3) & 0x3  # 0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1
    layer = 4 - ((data[pos + 1] >> 1) & 0x3)  # 1, 2 or 3; 4 is reserved
    bitrate_index = data[pos + 2] >> 4
    rate_index = (data[pos + 2] >> 2) & 0x3
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    padding = (data[pos + 2] >> 1) & 0x1
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4, 384, rate
    samples = 1152 if layer == 2 or mpeg1 else 576
    return samples // 8 * bitrate // rate + padding, samples, rate


def _skip_id3v2(data: bytes, pos: int) -> int:
    if data[pos : pos + 3] != b"ID3" or pos + 10 > len(data):
        return pos
    size = 0
    for byte in data[pos + 6 : pos + 10]:
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if data[pos + 5] & 0x10 else 0
    return pos + 10 + size + footer


def mp3_duration(data: bytes) -> float:
    """The playing time of ``data`` in seconds (0.0 when it holds no MPEG audio frame).

    ID3v2 tags (also in the middle of concatenated files) and junk between frames are
    skipped; a frame only counts when it fits in the data.
    """
    pos = 0
    samples_by_rate: dict[int, int] = {}
    while pos < len(data):
        skipped = _skip_id3v2(data, pos)
        if skipped != pos:
            pos = skipped
            continue
        frame = _frame(data, pos)
        if frame is None or pos + frame[0] > len(data):
            pos += 1
            continue
        length, samples, rate = frame
        samples_by_rate[rate] = samples_by_rate.get(rate, 0) + samples
        pos += length
    return sum(samples / rate for rate, samples in samples_by_rate.items())
