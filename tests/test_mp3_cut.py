"""Clips cut from an MP3 file at frame boundaries decode as the whole file does."""

from __future__ import annotations

import math
import random
import struct
import subprocess
from pathlib import Path

import pytest

from slidestream._media import mp3_args
from slidestream.render._mp3_cut import parse_mp3

from .media import FFMPEG

PAUSE_S = 0.3


def _speech_like(rate: int, seconds: float, seed: int) -> list[int]:
    """A gliding tone with noise and a changing level: hard for the bit reservoir."""
    rng = random.Random(seed)
    samples, phase = [], 0.0
    for n in range(round(rate * seconds)):
        t = n / rate
        phase += 2 * math.pi * (180 + 900 * t / seconds) / rate
        level = 0.3 + 0.25 * math.sin(2 * math.pi * 3 * t)
        value = level * math.sin(phase) + 0.08 * rng.uniform(-1, 1)
        samples.append(round(12000 * value))
    return samples


def _encode(samples: list[int], rate: int, bitrate: str, folder: Path) -> bytes:
    """Encoded as the narration track is: to a file, so ffmpeg writes its Info frame."""
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    target = folder / "track.mp3"
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "s16le", "-ar", str(rate), "-ac", "1",
         "-i", "pipe:0", *mp3_args(bitrate), str(target)],
        input=pcm, capture_output=True, check=True,
    )  # fmt: skip
    return target.read_bytes()


def _decode(data: bytes, rate: int) -> list[int]:
    pcm = subprocess.run(
        [FFMPEG, "-v", "quiet", "-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-ac", "1",
         "-ar", str(rate), "pipe:1"],
        input=data, capture_output=True, check=True,
    ).stdout  # fmt: skip
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


@pytest.mark.parametrize(
    ("rate", "bitrate"),
    [(24000, "64k"), (24000, "32k"), (16000, "24k"), (44100, "128k"), (48000, "64k")],
)
def test_each_cut_decodes_exactly_as_the_whole_file_there(
    rate: int, bitrate: str, tmp_path: Path
) -> None:
    samples: list[int] = []
    parts = []
    for seed, seconds in enumerate((0.9, 1.3, 0.7, 1.1)):
        start = len(samples)
        samples += _speech_like(rate, seconds, seed)
        parts.append((start, len(samples)))
        samples += [0] * round(PAUSE_S * rate)
    whole_file = _encode(samples, rate, bitrate, tmp_path)
    frames = parse_mp3(whole_file)
    assert frames is not None
    assert frames.sample_rate == rate
    whole = _decode(whole_file, rate)
    # ffmpeg skips the delay the Info frame records (read from a pipe, it keeps the padding).
    assert 0 <= len(whole) - len(samples) < 2 * frames.samples_per_frame
    for start, end in parts:
        clip = frames.cut(start, end)
        assert 0 < len(clip.data) < len(whole_file) / 2
        decoded = _decode(clip.data, rate)
        lead = round(clip.lead_s * rate)
        assert 0 < clip.lead_s < PAUSE_S
        assert decoded[lead : lead + end - start] == whole[start:end]
        # What plays before is the pause, as quiet as in the whole file (a first frame may
        # decode only partly).
        # At the file's start: the encoder's priming, which plays without an Info frame.
        before = max(abs(v) for v in whole[max(start - lead, 0) : start]) if start else 500
        assert max((abs(v) for v in decoded[:lead]), default=0) <= before + 100
        assert len(decoded) - lead - (end - start) < 3 * frames.samples_per_frame


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        bytes(range(256)) * 8,
        b"ID3\x04\x00\x00\x00\x00\x00\x05",
    ],
)
def test_what_is_not_an_mp3_is_refused(data: bytes) -> None:
    assert parse_mp3(data) is None


def test_a_damaged_frame_is_refused_and_a_cut_off_last_frame_left_out(tmp_path: Path) -> None:
    data = _encode(_speech_like(24000, 0.5, 1), 24000, "64k", tmp_path)
    frames = parse_mp3(data)
    assert frames is not None
    assert parse_mp3(data[:-5]) is not None  # the cut-off last frame is dropped
    assert len(parse_mp3(data[:-5]).offsets) == len(frames.offsets) - 1  # type: ignore[union-attr]
    middle = frames.offsets[len(frames.offsets) // 2]
    assert parse_mp3(data[:middle] + b"\x00\x01" + data[middle + 2 :]) is None
