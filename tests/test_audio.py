"""Narration audio: decoding every audio format, levelling, and pieces with pauses."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slidestream._exceptions import RenderError
from slidestream._types import AudioFormat
from slidestream.render._audio import (
    SAMPLE_RATE,
    SILENT_SLIDE_S,
    TARGET_DBFS,
    clip_as_mp3,
    level,
    load_clip,
    make_piece,
)

from .media import CLIP_ENCODINGS, encode_clip


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


def rms_dbfs(pcm: bytes) -> float:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return 20 * math.log10(rms / 32768)


def test_every_audio_format_has_an_encoding_in_the_tests() -> None:
    assert set(CLIP_ENCODINGS) == {member.value for member in AudioFormat}


@pytest.mark.parametrize("fmt", [member.value for member in AudioFormat])
def test_clips_in_every_format_decode(tmp_path: Path, fmt: str) -> None:
    wav = tone_wav(tmp_path / "source.wav", 1.5, 8000)
    clip_path = encode_clip(wav, fmt, tmp_path / f"slide-01.{AudioFormat(fmt).suffix}")
    clip = load_clip(clip_path)
    assert clip.frame_rate == SAMPLE_RATE
    assert clip.channels == 1
    # Lossy encoders add priming and frame padding (ADTS AAC about 0.1 s), never cut speech.
    assert 1.5 - 0.02 <= len(clip) / 1000 <= 1.5 + 0.15
    assert clip.dBFS > -30  # it is the tone, not silence


def test_a_clip_that_does_not_decode_is_a_render_error_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "slide-02.aac"
    broken.write_bytes(b"\x00" * 2000)
    with pytest.raises(RenderError, match=r"slide-02\.aac"):
        make_piece(broken, pause_s=0.5)
    with pytest.raises(RenderError, match=r"slide-02\.aac"):
        clip_as_mp3(broken)


def test_a_clip_with_an_unknown_suffix_is_a_render_error(tmp_path: Path) -> None:
    odd = tmp_path / "slide-01.xyz"
    odd.write_bytes(b"RIFF")
    with pytest.raises(RenderError, match=r"slide-01\.xyz.*known: mp3"):
        load_clip(odd)


def test_a_missing_clip_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"slide-09\.mp3"):
        make_piece(tmp_path / "slide-09.mp3", pause_s=0.0)


def test_mp3_clips_are_embedded_as_they_are_and_others_become_mp3(tmp_path: Path) -> None:
    wav = tone_wav(tmp_path / "a.wav", 1.0, 8000)
    mp3 = encode_clip(wav, "mp3", tmp_path / "a.mp3")
    assert clip_as_mp3(mp3) == mp3.read_bytes()
    converted = clip_as_mp3(encode_clip(wav, "flac", tmp_path / "a.flac"))
    assert converted[:3] == b"ID3" or converted[0] == 0xFF


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


def test_pieces_are_levelled(tmp_path: Path) -> None:
    quiet = make_piece(tone_wav(tmp_path / "q.wav", 1.0, 600), pause_s=1.0)
    loud = make_piece(tone_wav(tmp_path / "l.wav", 1.0, 20000), pause_s=1.0)
    middle = slice(int(0.2 * SAMPLE_RATE) * 2, int(0.8 * SAMPLE_RATE) * 2)
    assert abs(rms_dbfs(quiet.pcm[middle]) - rms_dbfs(loud.pcm[middle])) < 1.5
    assert not any(quiet.pcm[int(1.05 * SAMPLE_RATE) * 2 :])  # the pause is silence


def _wav_bytes(frames: int, rate: int = 22050, *, fmt: int = 1, width: int = 2) -> bytes:
    """A mono WAV of ``frames`` samples of a quiet ramp; ``fmt`` 3 is 32-bit float."""
    data = b"".join(struct.pack("<h", n % 2000) for n in range(frames))
    if fmt == 3:
        data = b"".join(struct.pack("<f", (n % 2000) / 32768) for n in range(frames))
        width = 4
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, fmt, 1, rate,
        rate * width, width, width * 8, b"data", len(data),
    )  # fmt: skip
    return header + data


def test_pcm_wav_clips_are_measured_without_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    from slidestream import _media
    from slidestream._exceptions import ProviderResponseError

    def no_ffmpeg(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("ffmpeg was started for a PCM WAV")

    monkeypatch.setattr(_media, "decode_pcm", no_ffmpeg)
    assert _media.check_clip(_wav_bytes(22050 * 3 + 1), "wav") == (AudioFormat.WAV, 3 + 1 / 22050)
    streamed = bytearray(_wav_bytes(11025))  # a streamed WAV: sizes unknown when sent
    streamed[4:8] = streamed[40:44] = b"\xff\xff\xff\xff"
    assert _media.check_clip(bytes(streamed), "wav")[1] == 0.5
    assert _media.check_clip(_wav_bytes(22050)[:-22050], "wav")[1] == 0.5  # cut short
    with pytest.raises(ProviderResponseError, match="decodes to nothing"):
        _media.check_clip(_wav_bytes(0), "wav")


def test_wav_clips_python_cannot_read_are_measured_by_ffmpeg() -> None:
    from slidestream._media import check_clip, pcm_wav_duration

    floats = _wav_bytes(8000, rate=16000, fmt=3)
    assert pcm_wav_duration(floats) is None
    assert check_clip(floats, "wav")[1] == pytest.approx(0.5, abs=1e-3)
    odd_rate = _wav_bytes(100, rate=0)
    assert pcm_wav_duration(odd_rate) is None


@settings(max_examples=60, deadline=None)
@given(
    header=st.sampled_from([b"", b"RIFF\x24\x00\x00\x00WAVE", b"RIFF\xff\xff\xff\xffWAVEfmt "]),
    body=st.binary(max_size=120),
)
def test_any_bytes_called_wav_are_measured_or_refused_in_plain_words(
    header: bytes, body: bytes
) -> None:
    from slidestream._exceptions import ProviderResponseError
    from slidestream._media import check_clip

    try:
        fmt, seconds = check_clip(header + body, "wav")
    except ProviderResponseError:
        return
    assert fmt is AudioFormat.WAV and seconds > 0
