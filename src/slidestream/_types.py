"""The small vocabularies that cross modules: stages, provider kinds, deck files, audio formats.

Each is a string-valued enum, so JSON and ``to_dict()`` keep the same text (``"tts"``,
``"mp3"``) while mypy finds every place a new member must be handled. Audio formats are one
table: the suffix a clip is saved under, its MIME type, and how ffmpeg decodes it; the
providers, the run and the renderer all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "AudioFormat",
    "AudioFormatSpec",
    "CacheKind",
    "DeckFileKind",
    "ProviderKind",
    "Stage",
]


class _StrEnum(str, Enum):
    """A ``str`` enum whose ``str()`` and ``format()`` give its value (as ``enum.StrEnum``)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(str(self.value), format_spec)


class Stage(_StrEnum):
    """A stage of a run; the keys of ``SlideResult.timings`` and ``DeckResult.timings``."""

    OUTLINE = "outline"
    SCRIPT = "script"
    IMAGES = "images"
    TTS = "tts"
    ASSEMBLE = "assemble"


class ProviderKind(_StrEnum):
    """What a provider does: write scripts, find images, or speak narration."""

    SCRIPT = "script"
    IMAGES = "images"
    TTS = "tts"

    @property
    def label(self) -> str:
        """``"a TTS provider"``: the kind as words for error messages."""
        return _KIND_LABELS[self]


_KIND_LABELS = {
    ProviderKind.SCRIPT: "a script provider",
    ProviderKind.IMAGES: "an image provider",
    ProviderKind.TTS: "a TTS provider",
}


class DeckFileKind(_StrEnum):
    """A file the deck assembler writes; the keys of ``DeckResult.files``."""

    PPTX = "pptx"
    MP3 = "mp3"
    SRT = "srt"
    VTT = "vtt"
    MP4 = "mp4"
    PDF = "pdf"


class CacheKind(_StrEnum):
    """What one cache entry holds: a provider's answer, or a piece of a deck file.

    A slide (or the deck) whose piece came from the cache says so in its timings:
    ``timings[kind.timing_key]`` is how many seconds making it took the first time.
    """

    OUTLINE = "outline"
    SCRIPT = "script"
    IMAGES = "images"
    TTS = "tts"
    FRAME = "frame"
    SEGMENT = "segment"
    PIECE = "piece"
    EMBED = "embed"
    PAGE = "page"
    TRACK = "track"

    @property
    def timing_key(self) -> str:
        """``"cached_tts"``: the key in ``SlideResult.timings`` that marks a reused piece."""
        return f"cached_{self.value}"

    @property
    def label(self) -> str:
        """``"narration clips"``: the kind as words for reports."""
        return _CACHE_LABELS[self]


_CACHE_LABELS = {
    CacheKind.OUTLINE: "outline",
    CacheKind.SCRIPT: "slide scripts",
    CacheKind.IMAGES: "images",
    CacheKind.TTS: "narration clips",
    CacheKind.FRAME: "video frames",
    CacheKind.SEGMENT: "video segments",
    CacheKind.PIECE: "levelled audio pieces",
    CacheKind.EMBED: "PPTX narration",
    CacheKind.PAGE: "PDF pages",
    CacheKind.TRACK: "narration tracks",
}


@dataclass(frozen=True)
class AudioFormatSpec:
    """How one audio format is stored and decoded.

    Attributes:
        suffix: the file suffix a clip in this format is saved under (no dot).
        mime_type: its MIME type (for the PPTX media part and HTTP answers).
        demuxer: the ffmpeg input format that reads it (``-f``).
        raw: true for headerless PCM, which also needs the sample layout given to ffmpeg.
    """

    suffix: str
    mime_type: str
    demuxer: str
    raw: bool = False


class AudioFormat(_StrEnum):
    """An audio format a TTS provider may return (``SpeechClip.format``).

    ``AudioFormat.parse("MP3")`` accepts the usual spellings; anything else is refused, so a
    file name is never built from provider data.
    """

    MP3 = "mp3"
    WAV = "wav"
    OGG = "ogg"
    OPUS = "opus"
    AAC = "aac"
    FLAC = "flac"
    WEBM = "webm"
    PCM = "pcm"

    @property
    def spec(self) -> AudioFormatSpec:
        """The suffix, MIME type and decoder of this format."""
        return _AUDIO_FORMATS[self]

    @property
    def suffix(self) -> str:
        """The file suffix (no dot)."""
        return self.spec.suffix

    @property
    def mime_type(self) -> str:
        """The MIME type."""
        return self.spec.mime_type

    @classmethod
    def parse(cls, text: str) -> AudioFormat:
        """The format named by ``text`` (``"mp3"``, ``".MP3"``, ``"audio/mpeg"``, ``"oga"``).

        Raises:
            ValueError: ``text`` names no known audio format.
        """
        key = str(text).strip().lower().lstrip(".")
        found = _AUDIO_ALIASES.get(key)
        if found is None:
            known = ", ".join(member.value for member in cls)
            raise ValueError(f"unknown audio format {text!r} (known: {known})")
        return found

    @classmethod
    def from_suffix(cls, suffix: str) -> AudioFormat | None:
        """The format a file suffix (``".mp3"``) stands for, or None."""
        return _AUDIO_ALIASES.get(suffix.strip().lower().lstrip("."))


PCM_SAMPLE_RATE = 24000
"""The sample rate of headerless ``pcm`` clips (16-bit little-endian mono), as OpenAI sends."""

_AUDIO_FORMATS: dict[AudioFormat, AudioFormatSpec] = {
    AudioFormat.MP3: AudioFormatSpec("mp3", "audio/mpeg", "mp3"),
    AudioFormat.WAV: AudioFormatSpec("wav", "audio/wav", "wav"),
    AudioFormat.OGG: AudioFormatSpec("ogg", "audio/ogg", "ogg"),
    AudioFormat.OPUS: AudioFormatSpec("opus", "audio/ogg", "ogg"),
    AudioFormat.AAC: AudioFormatSpec("aac", "audio/aac", "aac"),
    AudioFormat.FLAC: AudioFormatSpec("flac", "audio/flac", "flac"),
    AudioFormat.WEBM: AudioFormatSpec("webm", "audio/webm", "matroska"),
    AudioFormat.PCM: AudioFormatSpec("pcm", "audio/L16", "s16le", raw=True),
}

_AUDIO_ALIASES: dict[str, AudioFormat] = {
    **{member.value: member for member in AudioFormat},
    **{spec.mime_type: member for member, spec in _AUDIO_FORMATS.items()},
    "oga": AudioFormat.OGG,
    "mpeg": AudioFormat.MP3,
    "audio/mp3": AudioFormat.MP3,
    "audio/x-wav": AudioFormat.WAV,
    "audio/wave": AudioFormat.WAV,
    "wave": AudioFormat.WAV,
    "audio/opus": AudioFormat.OPUS,
    "audio/ogg": AudioFormat.OGG,
    "audio/x-flac": AudioFormat.FLAC,
    "adts": AudioFormat.AAC,
    "audio/x-aac": AudioFormat.AAC,
    "s16le": AudioFormat.PCM,
}
