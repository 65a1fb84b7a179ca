"""Parts of an MP3 file cut at frame boundaries, without decoding or encoding.

The PPTX embeds each slide's narration as MP3. When the deck's MP3 track is made anyway,
each slide's clip is cut from it instead of being encoded again: a clip is the frames that
hold the slide's speech, plus the few before them that its first frames draw on (MP3's bit
reservoir and overlapping windows). Those lead frames lie in the pause before the slide, so
what they decode to is silence either way.

A position in the encoder's input is found in the frames through the encoder delay that
LAME (and ffmpeg) write in the Info frame, plus the decoder's fixed 529-sample delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Mp3Clip", "Mp3Frames", "parse_mp3"]

_DECODER_DELAY = 529
"""Samples every MP3 decoder outputs before the encoder's first input sample (plus its delay)."""
_DEFAULT_ENCODER_DELAY = 576
"""LAME's encoder delay, when no Info frame says."""
_RESERVOIR_BYTES = 511
"""How far back a Layer III frame may take its data (``main_data_begin`` is 9 bits)."""

_BITRATES_KBPS = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {
    1: (44100, 48000, 32000),
    2: (22050, 24000, 16000),
    25: (11025, 12000, 8000),
}


@dataclass(frozen=True)
class _Header:
    version: int  # 1, 2 or 25 (MPEG 2.5)
    sample_rate: int
    length: int
    samples: int


def _header(data: bytes | memoryview, at: int) -> _Header | None:
    """The Layer III frame header at ``at``, or None when there is none."""
    if at + 4 > len(data) or data[at] != 0xFF or data[at + 1] & 0xE0 != 0xE0:
        return None
    version = {3: 1, 2: 2, 0: 25}.get((data[at + 1] >> 3) & 3)
    layer = (data[at + 1] >> 1) & 3
    bitrate_index, rate_index = data[at + 2] >> 4, (data[at + 2] >> 2) & 3
    if version is None or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _BITRATES_KBPS[1 if version == 1 else 2][bitrate_index] * 1000
    sample_rate = _SAMPLE_RATES[version][rate_index]
    padding = (data[at + 2] >> 1) & 1
    per_frame = 1152 if version == 1 else 576
    length = per_frame // 8 * bitrate // sample_rate + padding
    return _Header(version, sample_rate, length, per_frame)


def _id3_size(data: bytes) -> int:
    """The length of a leading ID3v2 tag (0 without one)."""
    if len(data) < 10 or data[:3] != b"ID3":
        return 0
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    return 10 + size + (10 if data[5] & 0x10 else 0)


def _encoder_delay(frame: bytes) -> int | None:
    """The encoder delay an Info (or Xing) frame records; None when ``frame`` is audio."""
    for tag in (b"Info", b"Xing"):
        at = frame.find(tag, 4, 48)
        if at >= 0:
            break
    else:
        return None
    flags = int.from_bytes(frame[at + 4 : at + 8], "big")
    lame = at + 8 + 4 * bool(flags & 1) + 4 * bool(flags & 2) + 100 * bool(flags & 4)
    lame += 4 * bool(flags & 8)
    delay = frame[lame + 21 : lame + 24]
    if len(delay) < 3 or frame[lame : lame + 4] not in (b"LAME", b"Lavc", b"Lavf", b"L3.9"):
        return _DEFAULT_ENCODER_DELAY
    return int.from_bytes(delay, "big") >> 12


@dataclass(frozen=True)
class Mp3Clip:
    """A cut: its bytes, and how long it plays before the wanted part starts."""

    data: bytes
    lead_s: float


@dataclass(frozen=True)
class Mp3Frames:
    """Where an MP3 file's audio frames are (see :func:`parse_mp3`)."""

    data: bytes
    offsets: Sequence[int]
    """Byte offset of each audio frame, plus the end of the last."""
    samples_per_frame: int
    sample_rate: int
    delay: int
    """Samples decoded before the encoder's first input sample."""

    def cut(self, start: int, end: int) -> Mp3Clip:
        """The frames that decode input samples ``start`` to ``end`` (at the file's rate).

        Frames before them are included until they hold the bit reservoir the first one may
        draw on, plus one for the overlapping window: the cut must start in silence.
        """
        count = len(self.offsets) - 1
        first = min(max((start + self.delay) // self.samples_per_frame, 0), count - 1)
        last = min(max(-(-(end + self.delay) // self.samples_per_frame), first + 1), count)
        # The frame before the first must decode whole: its window overlaps the first's.
        whole = max(first - 1, 0)
        lead = whole
        while lead > 0 and self.offsets[whole] - self.offsets[lead] < _RESERVOIR_BYTES:
            lead -= 1
        lead = max(lead - 1, 0)  # headers and side information are not reservoir bytes
        last = min(last + 1, count)
        lead_samples = start + self.delay - lead * self.samples_per_frame
        return Mp3Clip(
            data=bytes(self.data[self.offsets[lead] : self.offsets[last]]),
            lead_s=max(lead_samples, 0) / self.sample_rate,
        )


def parse_mp3(data: bytes) -> Mp3Frames | None:
    """The audio frames of a constant-rate Layer III file; None when it is not one.

    Raises nothing: a file this cannot read is left to be encoded clip by clip.
    """
    at = _id3_size(data)
    first = _header(data, at)
    if first is None:
        return None
    delay = _encoder_delay(data[at : at + first.length])
    if delay is not None:
        at += first.length
    else:
        delay = _DEFAULT_ENCODER_DELAY
    offsets: list[int] = []
    while at < len(data):
        header = _header(data, at)
        if header is None:
            if data[at : at + 3] == b"TAG" or not data[at:].strip(b"\0"):
                break  # an ID3v1 tag or padding at the end
            return None
        if header.sample_rate != first.sample_rate or header.samples != first.samples:
            return None
        if at + header.length > len(data):
            break  # a cut-off last frame is left out
        offsets.append(at)
        at += header.length
    if not offsets:
        return None
    offsets.append(at)
    return Mp3Frames(
        data=data,
        offsets=offsets,
        samples_per_frame=first.samples,
        sample_rate=first.sample_rate,
        delay=delay + _DECODER_DELAY,
    )
