"""Microsoft Edge's online neural voices, through the ``edge-tts`` package.

The provider asks for word boundaries explicitly (edge-tts 7.2 made sentence boundaries the
default), turns them into :class:`WordTiming` values (a turn that brings sentence boundaries
only gives one per sentence instead), splits long narrations at sentence
boundaries into several requests and stitches the MP3 audio and the timings back together.
When no voice is given it picks one for the language from the service's voice list, which is
fetched once per process.

edge-tts talks to the service through aiohttp, which runs only under asyncio. Under trio
each request runs in a private asyncio loop on a worker thread (``_common.asyncio_bridge``),
so the provider works on both backends; cancelling the caller stops the request. Dropped
connections, timeouts, 408/409/429 and 5xx handshakes go through the same retry loop as
every HTTP provider (``Retry-After`` honoured); a service that accepted the request and then
went silent past ``timeout_s`` is retried once at most, so a slide's fallback voice is not
kept waiting. The service refusing with 403 (a stale token or clock skew: edge-tts has
already retried once after correcting its clock) is not retried. A voice the service does not
offer (withdrawn, or misspelt) gets no audio at all; when its voice list lacks the voice, that
is a :class:`ConfigurationError` naming it, not a retry. Word boundaries that run backwards or
past the audio are kept in the order spoken and inside the audio.

::

    from slidestream.providers.tts.edge import EdgeTTSProvider

    tts = EdgeTTSProvider(voice="en-GB-SoniaNeural", rate="+5%")
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import aiohttp
import anyio
import edge_tts
import edge_tts.exceptions
from edge_tts.typing import TTSChunk

from ..._exceptions import (
    ConfigurationError,
    ProviderError,
    ProviderResponseError,
    SlidestreamError,
)
from ..._limits import ServiceKey
from ..._models import SpeechClip, WordTiming
from ..._text import chunk_text
from .._common.asyncio_bridge import run_on_asyncio
from .._common.audio import mp3_duration
from .._common.retry import (
    Failure,
    RetryableFailure,
    RetryPolicy,
    call_with_retries,
    retry_after_s,
)
from .._protocols import Provider

__all__ = ["EdgeTTSProvider", "pick_voice"]

NAME: Final = "edge-tts"
TICKS_PER_SECOND: Final = 10_000_000
"""Edge reports offsets and durations in 100-nanosecond ticks."""
DEFAULT_MAX_CHARS: Final = 1500
"""Longer narrations are sent as several requests, split between sentences."""

_DEFAULT_REGIONS: Final = {
    "ar": "ar-SA",
    "de": "de-DE",
    "en": "en-US",
    "es": "es-ES",
    "fr": "fr-FR",
    "hi": "hi-IN",
    "it": "it-IT",
    "ja": "ja-JP",
    "ko": "ko-KR",
    "nl": "nl-NL",
    "pl": "pl-PL",
    "pt": "pt-BR",
    "ru": "ru-RU",
    "sv": "sv-SE",
    "tr": "tr-TR",
    "uk": "uk-UA",
    "zh": "zh-CN",
}
_PERCENT = re.compile(r"^[+-]\d+%$")
_HERTZ = re.compile(r"^[+-]\d+Hz$")

# aiohttp 3.10 tells a connect timeout apart from a silent server; older ones do not.
_CONNECT_TIMEOUTS: tuple[type[BaseException], ...] = tuple(
    kind for kind in (getattr(aiohttp, "ConnectionTimeoutError", None),) if kind is not None
)

_voice_cache: dict[str, list[dict[str, Any]]] = {}
"""The voice list per voice-list URL, fetched once per process."""

T = TypeVar("T")


def pick_voice(voices: Sequence[dict[str, Any]], language: str) -> str | None:
    """The ``ShortName`` of the voice that fits ``language`` best, or ``None``.

    ``"de-DE"`` matches that locale exactly; a bare ``"en"`` prefers the language's main
    region (``en-US``) and then any locale of the language. Neural voices come first, then
    the service's own order.
    """
    wanted = language.strip().replace("_", "-").lower()
    base = wanted.split("-")[0]

    def locale(voice: dict[str, Any]) -> str:
        return str(voice.get("Locale", "")).lower()

    candidates = [v for v in voices if locale(v) == wanted]
    if not candidates and "-" not in wanted:
        region = _DEFAULT_REGIONS.get(base, "").lower()
        candidates = [v for v in voices if region and locale(v) == region]
    if not candidates:
        candidates = [v for v in voices if locale(v).split("-")[0] == base]
    candidates.sort(key=lambda v: not str(v.get("ShortName", "")).endswith("Neural"))
    return str(candidates[0]["ShortName"]) if candidates else None


def _offers_voice(voices: Sequence[dict[str, Any]], voice: str) -> bool:
    """Whether the voice list ``voices`` holds ``voice``, by short name
    (``"en-US-AriaNeural"``) or full name (``"Microsoft Server Speech Text to Speech Voice
    (en-US, AriaNeural)"``)."""
    try:
        names = {voice, edge_tts.Communicate("", voice).tts_config.voice}
    except ValueError:
        names = {voice}
    return any(v.get("ShortName") in names or v.get("Name") in names for v in voices)


def _boundary_timing(chunk: TTSChunk) -> WordTiming:
    """The :class:`WordTiming` of a ``WordBoundary`` or ``SentenceBoundary`` chunk of edge-tts."""
    offset, duration = chunk.get("offset", 0), chunk.get("duration", 0)
    return WordTiming(
        chunk.get("text", ""),
        offset / TICKS_PER_SECOND,
        (offset + duration) / TICKS_PER_SECOND,
    )


def _spoken_words(words: Sequence[WordTiming], duration_s: float) -> list[WordTiming]:
    """``words`` as the service reported them, in that order, made to fit audio of
    ``duration_s`` seconds: none starts before the one before it ends, none runs past the end,
    and a word said to start after the audio has ended is left out.

    The service's offsets sometimes run backwards or past its audio; sorting by time would
    shuffle the words of a subtitle, and a long last word would stretch the clip.
    """
    fitted: list[WordTiming] = []
    floor = 0.0
    for word in words:
        start = max(word.start_s, floor)
        if start >= duration_s:
            continue
        end = min(max(word.end_s, start), duration_s)
        fitted.append(WordTiming(word.text, start, end))
        floor = end
    return fitted


class _TruncatedStream(Exception):
    """The service closed the connection before the end of the turn."""


@dataclass(frozen=True)
class _Piece:
    audio: bytes
    words: list[WordTiming]


def _failure(error: Exception) -> RetryableFailure | None:
    """``error`` of one attempt described for the retry loop; ``None`` for our own errors."""
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, aiohttp.ClientResponseError):
        return RetryableFailure(
            detail,
            kind=Failure.STATUS,
            status_code=error.status,
            retry_after_s=retry_after_s(error.headers or {}),
        )
    if isinstance(error, _CONNECT_TIMEOUTS):
        return RetryableFailure(detail, kind=Failure.TIMEOUT)
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        # Connected, then silent past the limit: a new attempt starts the request over.
        if not str(error):
            detail = f"{type(error).__name__}: no answer within the time limit"
        return RetryableFailure(detail, kind=Failure.STALL)
    if isinstance(
        error, (edge_tts.exceptions.UnexpectedResponse, edge_tts.exceptions.UnknownResponse)
    ):
        return RetryableFailure(detail, kind=Failure.RESPONSE)
    if isinstance(error, edge_tts.exceptions.NoAudioReceived):
        # The service answered, with a turn and no audio: worth another try, and if it keeps
        # doing it, a failure of this text rather than an unreachable service.
        return RetryableFailure(detail, kind=Failure.RESPONSE, retryable=True)
    if isinstance(
        error,
        (aiohttp.ClientError, OSError, edge_tts.exceptions.WebSocketError, _TruncatedStream),
    ):
        return RetryableFailure(detail, kind=Failure.CONNECTION)
    if isinstance(error, SlidestreamError):
        return None
    return RetryableFailure(detail, kind=Failure.UNEXPECTED)


class EdgeTTSProvider(Provider):
    """Speech from Microsoft Edge's online text-to-speech service (``edge-tts``).

    Args:
        voice: an Edge voice such as ``"en-US-AriaNeural"``; by default one is picked for the
            deck's language. A voice passed to :meth:`synthesize` wins over this one.
        rate: speaking rate change, e.g. ``"+10%"`` or ``"-5%"``.
        pitch: pitch change, e.g. ``"+0Hz"`` or ``"-20Hz"``.
        volume: volume change, e.g. ``"+0%"``.
        max_chars: longer narrations are split between sentences into several requests.
        timeout_s: the longest one request (speech, or the voice list) may take, end to end.
        retry: how often and how patiently to retry dropped connections, 429 and 5xx.
    """

    name = NAME

    def __init__(
        self,
        *,
        voice: str | None = None,
        rate: str | None = None,
        pitch: str | None = None,
        volume: str | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        for option, value, pattern, example in (
            ("rate", rate, _PERCENT, "+10%"),
            ("volume", volume, _PERCENT, "-5%"),
            ("pitch", pitch, _HERTZ, "+0Hz"),
        ):
            if value is not None and not pattern.match(value):
                raise ConfigurationError(
                    f"edge-tts: {option}={value!r} is not valid; use a signed value "
                    f"such as {example!r}."
                )
        if max_chars < 100:
            raise ConfigurationError("edge-tts: max_chars must be at least 100.")
        self.voice = voice
        self.rate = rate or "+0%"
        self.pitch = pitch or "+0Hz"
        self.volume = volume or "+0%"
        self.max_chars = max_chars
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self._voices_lock = anyio.Lock()

    @property
    def limit_key(self) -> ServiceKey:
        """The Edge speech endpoint (its host): every instance shares one limit."""
        url: str = edge_tts.communicate.WSS_URL  # type: ignore[attr-defined]
        return ServiceKey.from_url(NAME, url, path=False)

    def cache_identity(self) -> dict[str, Any]:
        """What changes the audio: voice, rate, pitch, volume, how text is cut, the client."""
        return {
            "edge_tts": getattr(edge_tts, "__version__", None),
            "voice": self.voice,
            "rate": self.rate,
            "pitch": self.pitch,
            "volume": self.volume,
            "max_chars": self.max_chars,
        }

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        """Speak ``text``; returns MP3 audio with one :class:`WordTiming` per spoken word."""
        pieces = chunk_text(text, self.max_chars)
        if not pieces:
            raise ProviderResponseError(
                "edge-tts: there is no text to speak.", provider=NAME, stage="tts"
            )
        chosen = voice or self.voice or await self._voice_for(language)
        audio = bytearray()
        words: list[WordTiming] = []
        start = 0.0  # where the current piece begins in the joined audio
        for piece_text in pieces:
            piece = await self._speak(piece_text, chosen)
            piece_s = mp3_duration(piece.audio)
            words.extend(
                WordTiming(w.text, round(start + w.start_s, 4), round(start + w.end_s, 4))
                for w in _spoken_words(piece.words, piece_s)
            )
            audio += piece.audio
            start += piece_s
        return SpeechClip(audio=bytes(audio), format="mp3", duration_s=start, words=words)

    async def list_voices(self) -> list[dict[str, Any]]:
        """The service's voice list (``ShortName``, ``Locale``, ``Gender``, ...), cached."""
        url: str = edge_tts.voices.VOICE_LIST  # type: ignore[attr-defined]
        async with self._voices_lock:
            if url not in _voice_cache:
                _voice_cache[url] = [
                    dict(v)
                    for v in await self._with_retries(
                        lambda: self._within_time_limit(edge_tts.list_voices),
                        call="list_voices",
                    )
                ]
        return _voice_cache[url]

    async def _voice_for(self, language: str) -> str:
        voice = pick_voice(await self.list_voices(), language)
        if voice is None:
            raise ConfigurationError(
                f"edge-tts has no voice for language {language!r}; pass a voice such as "
                "'en-US-AriaNeural' (`edge-tts --list-voices` lists them)."
            )
        return voice

    def _communicate(self, text: str, voice: str) -> edge_tts.Communicate:
        return edge_tts.Communicate(
            text,
            voice,
            rate=self.rate,
            pitch=self.pitch,
            volume=self.volume,
            boundary="WordBoundary",
            connect_timeout=max(1, round(min(self.timeout_s, 10))),
            receive_timeout=max(1, round(self.timeout_s)),
        )

    async def _speak(self, text: str, voice: str) -> _Piece:
        try:
            self._communicate(text, voice)  # validates the voice before any request
        except ValueError as error:
            raise ConfigurationError(
                f"edge-tts: {error} Use a voice name such as 'en-US-AriaNeural'."
            ) from error

        async def attempt() -> _Piece:
            communicate = self._communicate(text, voice)
            audio = bytearray()
            words: list[WordTiming] = []
            sentences: list[WordTiming] = []
            async for chunk in communicate.stream():
                if chunk["type"] == "audio":
                    audio += chunk.get("data", b"")
                elif chunk["type"] == "WordBoundary":
                    words.append(_boundary_timing(chunk))
                elif chunk["type"] == "SentenceBoundary":
                    sentences.append(_boundary_timing(chunk))
            # edge-tts ends a turn quietly when the socket closes early; it counts the
            # audio of every completed turn, so a mismatch means a dropped connection.
            completed = communicate.state.get("cumulative_audio_bytes")
            if completed is not None and completed != len(audio):
                raise _TruncatedStream(
                    f"the connection closed mid-stream after {len(audio)} bytes of audio"
                )
            return _Piece(bytes(audio), words or sentences)

        async def timed_attempt() -> _Piece:
            try:
                return await self._within_time_limit(attempt)
            except edge_tts.exceptions.NoAudioReceived:
                await self._refuse_voice_not_offered(voice)
                raise

        return await self._with_retries(timed_attempt, call="synthesize")

    async def _within_time_limit(self, request: Callable[[], Awaitable[T]]) -> T:
        """Run the asyncio-only ``request`` of edge-tts; :class:`TimeoutError` once it has
        taken ``timeout_s``."""
        with anyio.fail_after(self.timeout_s):
            return await run_on_asyncio(request)

    async def _refuse_voice_not_offered(self, voice: str) -> None:
        """Raise :class:`ConfigurationError` when the service's voice list lacks ``voice``.

        The service answers a voice it does not offer with no audio, as it now and then does
        for one it has; only the list tells the two apart. A list that cannot be fetched, or
        is empty, says nothing.
        """
        try:
            voices = await self.list_voices()
        except ProviderError:
            return
        if not voices or _offers_voice(voices, voice):
            return
        locale = re.match(r"^([a-z]{2,}-[A-Z]{2,})-", voice)
        instead = pick_voice(voices, locale.group(1)) if locale else None
        example = f", such as {instead!r}" if instead else ""
        raise ConfigurationError(
            f"edge-tts: the service does not offer the voice {voice!r} (it answers it with no "
            f"audio; voices are withdrawn now and then). Pick one that `edge-tts --list-voices` "
            f"lists{example}."
        )

    async def _with_retries(self, call_once: Callable[[], Awaitable[T]], *, call: str) -> T:
        async def attempt() -> T:
            try:
                return await call_once()
            except Exception as error:
                failure = _failure(error)
                if failure is None:
                    raise
                raise failure from error

        return await call_with_retries(
            attempt, policy=self.retry, provider=NAME, call=call, stage="tts"
        )
