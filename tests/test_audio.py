"""Narration audio: decoding mp3/wav/ogg, levelling, and merging with pauses."""

from __future__ import annotations

import math
import struct
import subprocess
import wave
from pathlib import Path

import pytest

from slidestream.render._audio import (
    SAMPLE_RATE,
    SILENT_SLIDE_S,
    TARGET_DBFS,
    level,
    load_clip,
    make_piece,
    merge_narration,
)

from .media import FFMPEG, audio_codec, decoded_pcm, decoded_seconds


def tone_wav(path: Path, seconds: float, amplitude: int, rate: int = 16000) -> Path:
    frames = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return path


def encode(source: Path, target: Path) -> Path:
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(source), str(target)], check=True)
    return target


def rms_dbfs(pcm: bytes) -> float:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return 20 * math.log10(rms / 32768)


@pytest.mark.parametrize("suffix", ["wav", "mp3", "ogg"])
def test_clips_decode_without_ffprobe(tmp_path: Path, suffix: str) -> None:
    wav = tone_wav(tmp_path / "a.wav", 1.5, 8000)
    clip_path = wav if suffix == "wav" else encode(wav, tmp_path / f"a.{suffix}")
    clip = load_clip(clip_path)
    assert clip.frame_rate == SAMPLE_RATE
    assert clip.channels == 1
    assert len(clip) / 1000 == pytest.approx(1.5, abs=0.06)


def test_opus_in_ogg_decodes(tmp_path: Path) -> None:
    wav = tone_wav(tmp_path / "a.wav", 1.0, 8000)
    ogg = tmp_path / "a.ogg"
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-i", str(wav), "-c:a", "libopus", str(ogg)], check=True
    )
    assert len(load_clip(ogg)) / 1000 == pytest.approx(1.0, abs=0.06)


def test_levelling_evens_out_loud_and_quiet(tmp_path: Path) -> None:
    quiet = load_clip(tone_wav(tmp_path / "q.wav", 1.0, 600))
    loud = load_clip(tone_wav(tmp_path / "l.wav", 1.0, 20000))
    assert loud.dBFS - quiet.dBFS > 25
    quiet, loud = level(quiet), level(loud)
    assert quiet.dBFS == pytest.approx(TARGET_DBFS, abs=0.5)
    assert loud.dBFS == pytest.approx(TARGET_DBFS, abs=0.5)
    assert loud.max_dBFS <= -0.9


def test_piece_has_pause_and_silent_default(tmp_path: Path) -> None:
    piece = make_piece(tone_wav(tmp_path / "a.wav", 2.0, 5000), pause_s=0.5)
    assert piece.duration_s == pytest.approx(2.5, abs=0.001)
    assert piece.speech_s == pytest.approx(2.0, abs=0.001)
    assert len(piece.pcm) == 2 * piece.samples
    silent = make_piece(None, pause_s=0.5)
    assert silent.duration_s == pytest.approx(SILENT_SLIDE_S + 0.5)
    assert silent.speech_s == 0
    assert not any(silent.pcm)


@pytest.mark.parametrize("pause", [0.0, 0.6])
def test_merge_duration_is_sum_plus_pauses(tmp_path: Path, pause: float) -> None:
    clips = [
        tone_wav(tmp_path / "1.wav", 1.2, 600),
        encode(tone_wav(tmp_path / "2.wav", 2.0, 20000), tmp_path / "2.mp3"),
        encode(tone_wav(tmp_path / "3.wav", 1.5, 4000), tmp_path / "3.ogg"),
    ]
    out = merge_narration(clips, tmp_path / "deck.mp3", pause_s=pause)
    assert audio_codec(out) == "mp3"
    # mp3 and ogg decoders may add a few ms; the pauses must all be there.
    assert decoded_seconds(out) == pytest.approx(4.7 + 2 * pause, abs=0.08)
    assert not list(tmp_path.glob(".deck*"))


def test_merged_slides_are_levelled(tmp_path: Path) -> None:
    clips = [tone_wav(tmp_path / "q.wav", 1.0, 600), tone_wav(tmp_path / "l.wav", 1.0, 20000)]
    out = merge_narration(clips, tmp_path / "deck.mp3", pause_s=1.0)
    pcm = decoded_pcm(out, SAMPLE_RATE)
    first = pcm[int(0.2 * SAMPLE_RATE) * 2 : int(0.8 * SAMPLE_RATE) * 2]
    second = pcm[int(2.2 * SAMPLE_RATE) * 2 : int(2.8 * SAMPLE_RATE) * 2]
    assert abs(rms_dbfs(first) - rms_dbfs(second)) < 1.5
