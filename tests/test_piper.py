"""The Piper TTS provider: real offline speech, and our error when the extra is missing."""

from __future__ import annotations

import io
import math
import struct
import sys
import wave
from typing import Any

import anyio
import imageio_ffmpeg
import pytest
from hypothesis import given
from hypothesis import strategies as st

import slidestream as ss
from slidestream._text import split_sentences
from slidestream.providers.tts.piper import INSTALL_HINT

TEXT = (
    "Vaccines teach the immune system to recognise a germ. "
    "Memory cells remember it for years! "
    "Is that why boosters help? Yes, it is."
)


def pcm_stats(wav_bytes: bytes) -> tuple[float, float, int]:
    """Duration in seconds, RMS of the 16-bit samples, sample rate."""
    with wave.open(io.BytesIO(wav_bytes)) as reader:
        rate, frames = reader.getframerate(), reader.readframes(reader.getnframes())
        assert reader.getnchannels() == 1
        assert reader.getsampwidth() == 2
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return len(samples) / rate, rms, rate


def test_sentences() -> None:
    assert split_sentences(TEXT) == [
        "Vaccines teach the immune system to recognise a germ.",
        "Memory cells remember it for years!",
        "Is that why boosters help?",
        "Yes, it is.",
    ]
    assert split_sentences("Ask Dr. Smith. Then e.g. rest.") == [
        "Ask Dr. Smith.",
        "Then e.g. rest.",
    ]


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)
    from slidestream.providers.offline import PiperTTSProvider

    with pytest.raises(ss.ConfigurationError) as caught:
        PiperTTSProvider()
    assert str(caught.value) == INSTALL_HINT
    assert "pip install 'slidestream[offline]'" in str(caught.value)
    with pytest.raises(ss.ConfigurationError, match=r"slidestream\[offline\]"):
        ss.providers.get("piper")


def test_bad_voice_and_options() -> None:
    from slidestream.providers.offline import PiperTTSProvider

    with pytest.raises(ss.ConfigurationError, match=r"not a \.onnx file"):
        PiperTTSProvider(voice="en-US-AriaNeural")
    with pytest.raises(ss.ConfigurationError, match="does not exist"):
        PiperTTSProvider(voice="/nowhere/voice.onnx")
    with pytest.raises(ss.ConfigurationError, match="format"):
        PiperTTSProvider(format="ogg")  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.anyio
async def test_real_speech_with_sentence_timings() -> None:
    from slidestream.providers.offline import PiperTTSProvider

    provider = PiperTTSProvider()
    clip = await provider.synthesize(TEXT, voice=None, language="en-US")
    assert clip.format == "wav"
    duration, rms, rate = pcm_stats(clip.audio)
    assert rate == 22050
    assert clip.duration_s == pytest.approx(duration, abs=0.01)
    words = len(TEXT.split())
    # People speak 1.5 to 4 words a second; Piper's joe voice is about 2.5.
    assert words / 4 < duration < words / 1.5
    assert rms > 500  # speech, not silence (full scale is 32767)
    assert [t.text for t in clip.words] == split_sentences(TEXT)
    starts = [t.start_s for t in clip.words]
    assert starts[0] == 0
    assert starts == sorted(starts)
    for timing, following in zip(clip.words, clip.words[1:], strict=False):
        assert timing.start_s < timing.end_s <= following.start_s
    assert clip.words[-1].end_s == pytest.approx(duration, abs=0.01)

    with pytest.raises(ss.ConfigurationError, match="speaks 'en-us', not 'de'"):
        await provider.synthesize("Hallo Welt.", voice=None, language="de")


@pytest.mark.slow
@pytest.mark.anyio
async def test_mp3_and_resampled_wav() -> None:
    from slidestream.providers.offline import PiperTTSProvider

    mp3 = await PiperTTSProvider(format="mp3").synthesize(
        "Git keeps snapshots.", voice="joe", language="en"
    )
    assert mp3.format == "mp3"
    assert mp3.audio[:3] == b"ID3" or mp3.audio[0] == 0xFF
    decoded = (
        await anyio.run_process(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", "pipe:0", "-f", "wav", "-"],
            input=mp3.audio,
        )
    ).stdout
    header, frames = decoded[:44], decoded[44:]
    rate = struct.unpack("<I", header[24:28])[0]
    samples = struct.unpack(f"<{len(frames) // 2}h", frames[: len(frames) // 2 * 2])
    assert len(samples) / rate == pytest.approx(mp3.duration_s, abs=0.15)
    assert math.sqrt(sum(x * x for x in samples) / len(samples)) > 500

    wav = await PiperTTSProvider(sample_rate=16000).synthesize(
        "Branches are cheap.", voice=None, language="en"
    )
    duration, rms, rate = pcm_stats(wav.audio)
    assert rate == 16000
    assert rms > 500
    assert duration == pytest.approx(wav.duration_s, abs=0.05)


@pytest.mark.slow
@pytest.mark.anyio
async def test_concurrent_calls_share_one_voice() -> None:
    from slidestream.providers.offline import PiperTTSProvider

    provider = PiperTTSProvider()
    clips: list[ss.SpeechClip] = []

    async def speak(text: str) -> None:
        clips.append(await provider.synthesize(text, voice=None, language="en"))

    async with anyio.create_task_group() as group:
        for text in ("One sentence.", "Another sentence.", "A third one."):
            group.start_soon(speak, text)
    assert len(clips) == 3
    assert len(provider._voices) == 1
    assert all(pcm_stats(clip.audio)[1] > 500 for clip in clips)


LONG = (
    "The first time your immune system meets a new germ, it has to learn from scratch; that "
    "takes days, which is why a first infection can make you seriously ill."
)


@given(
    st.lists(st.sampled_from(["a", "ˈ", "ɪ", " ", ",", ";", "."]), max_size=300),
    st.integers(min_value=1, max_value=80),
)
def test_phonemes_are_cut_without_losing_any(phonemes: list[str], limit: int) -> None:
    from slidestream.providers.tts.piper import split_phonemes

    pieces = split_phonemes(phonemes, limit)
    assert [p for piece in pieces for p in piece if p != " "] == [p for p in phonemes if p != " "]
    for piece in pieces:
        assert piece and piece[0] != " " and piece[-1] != " "
        if len(piece) > limit + 1:  # only where no pause mark or space allowed a cut
            assert " " not in piece[: len(piece) - 1]


def test_a_long_sentence_is_cut_after_its_pause_marks() -> None:
    from slidestream.providers.tts.piper import split_phonemes

    pieces = ["".join(piece) for piece in split_phonemes(list(LONG), 60)]
    assert pieces == [
        "The first time your immune system meets a new germ,",
        "it has to learn from scratch; that takes days,",
        "which is why a first infection can make you seriously ill.",
    ]


def _clause(lead: int, loud: int, tail: int, level: float = 0.5) -> Any:
    numpy = pytest.importorskip("numpy")
    quiet = 0.001  # below SILENCE_FRACTION of any clause's peak here
    return numpy.concatenate(
        [numpy.full(lead, quiet), numpy.full(loud, level), numpy.full(tail, -quiet)]
    ).astype(numpy.float32)


def test_clauses_cut_between_words_keep_a_short_gap_and_every_loud_sample() -> None:
    from slidestream.providers.tts.piper import WORD_JOIN_GAP_S, join_clauses

    rate = 1000
    gap = round(WORD_JOIN_GAP_S * rate)
    first, second, third = _clause(50, 300, 200), _clause(60, 400, 150), _clause(40, 100, 30)
    joined = join_clauses([(first, "n"), (second, ","), (third, ".")], rate)
    # first|second was cut between words: its 200 + 60 silent samples become `gap`;
    # second|third was cut at a comma: its pause stays whole.
    assert joined.size == 50 + 300 + gap + 400 + 150 + 40 + 100 + 30
    assert (abs(joined) > 0.01).sum() == 300 + 400 + 100
    silent_runs = [
        len(run) for run in "".join("q" if abs(v) < 0.01 else "L" for v in joined).split("L") if run
    ]
    assert silent_runs == [50, gap, 150 + 40, 30]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 400), st.integers(0, 300), st.integers(0, 400), st.sampled_from("n,.;")
        ),
        min_size=1,
        max_size=6,
    )
)
def test_joining_clauses_never_cuts_speech_or_adds_silence(
    clauses: list[tuple[int, int, int, str]],
) -> None:
    from slidestream.providers.tts.piper import join_clauses

    audio = [(_clause(lead, loud, tail), last) for lead, loud, tail, last in clauses]
    joined = join_clauses(audio, 1000)
    assert joined.size <= sum(part.size for part, _ in audio)
    assert (abs(joined) > 0.01).sum() == sum(loud for _, loud, _, _ in clauses)


@pytest.mark.anyio
async def test_a_long_sentence_spoken_by_clause_is_one_sentence() -> None:
    from slidestream.providers.offline import PiperTTSProvider

    clip = await PiperTTSProvider().synthesize(LONG, voice=None, language="en-US")
    duration, rms, _ = pcm_stats(clip.audio)
    words = len(LONG.split())
    assert words / 4 < duration < words / 1.5
    assert rms > 500
    assert [t.text for t in clip.words] == [LONG]


def test_length_scale_out_of_range_is_refused() -> None:
    from slidestream.providers.offline import PiperTTSProvider

    for bad in (0, -1, float("nan"), float("inf"), 50):
        with pytest.raises(ss.ConfigurationError, match="length_scale"):
            PiperTTSProvider(length_scale=bad)
    assert PiperTTSProvider(length_scale=0.5).length_scale == 0.5


@pytest.mark.anyio
async def test_a_voice_linked_from_a_model_cache_loads_the_config_beside_the_link(
    tmp_path: Any,
) -> None:
    from slidestream.providers.offline import PiperTTSProvider

    joe = PiperTTSProvider().voice_path
    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshot"
    blobs.mkdir()
    snapshot.mkdir()
    # A model cache keeps files under their hashes and links them by name from a snapshot.
    (blobs / "b0").write_bytes(joe.read_bytes())
    (blobs / "b1").write_bytes(joe.with_name(f"{joe.name}.json").read_bytes())
    (snapshot / "voice.onnx").symlink_to(blobs / "b0")
    (snapshot / "voice.onnx.json").symlink_to(blobs / "b1")
    clip = await PiperTTSProvider(voice=snapshot / "voice.onnx").synthesize(
        "Hi.", voice=None, language="en"
    )
    assert pcm_stats(clip.audio)[1] > 500


@pytest.mark.anyio
async def test_control_characters_and_double_brackets_are_spoken_as_text() -> None:
    from slidestream.providers.offline import PiperTTSProvider

    provider = PiperTTSProvider()
    clip = await provider.synthesize("Null\x00 and bell\x07 here.", voice=None, language="en")
    assert [t.text for t in clip.words] == ["Null and bell here."]
    plain = await provider.synthesize("See Main Page now.", voice=None, language="en")
    linked = await provider.synthesize("See [[Main Page]] now.", voice=None, language="en")
    # Piper reads [[...]] as raw phonemes (here mostly unknown ones, so dropped); narration
    # is text, so the words inside are spoken.
    assert linked.duration_s == pytest.approx(plain.duration_s, rel=0.1)


@pytest.mark.anyio
async def test_text_with_nothing_to_say_is_refused_and_silent_sentences_are_skipped() -> None:
    from slidestream.providers.offline import PiperTTSProvider

    for fmt in ("wav", "mp3"):
        with pytest.raises(ss.ProviderError, match="nothing Piper can say"):
            await PiperTTSProvider(format=fmt).synthesize(  # type: ignore[arg-type]
                "... ?!", voice=None, language="en"
            )
    clip = await PiperTTSProvider(sentence_pause_s=0).synthesize(
        "Hello. ... World.", voice=None, language="en"
    )
    assert [t.text for t in clip.words] == ["Hello.", "World."]
