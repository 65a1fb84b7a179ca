"""The ``openai-tts`` provider: speech from an OpenAI-compatible ``/v1/audio/speech`` endpoint.

Configured like the ``openai`` script provider (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``), with
the model from ``SLIDESTREAM_TTS_MODEL``. Text longer than the endpoint's 4096-character limit
is spoken in sentence-aligned pieces and the MP3 pieces are joined. The clip's duration is read
from the audio itself.
"""

from __future__ import annotations

import functools
import io
import re
import wave

import anyio
import httpx
import mutagen

from .._constants import DEFAULT_TIMEOUT_S
from .._exceptions import InvalidInputError, ProviderError, ProviderResponseError
from .._models import SpeechClip
from ._http import RetryPolicy, request_with_retries
from ._openai_config import DEFAULT_TTS_MODEL, EndpointClient, resolve_endpoint

__all__ = ["MAX_INPUT_CHARS", "OpenAITTSProvider", "audio_duration_s", "split_text"]

MAX_INPUT_CHARS = 4096
"""The longest ``input`` ``/v1/audio/speech`` accepts."""

_FORMATS = ("mp3", "wav", "opus", "aac", "flac")
_JOINABLE = ("mp3", "aac", "wav")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


def split_text(text: str, limit: int = MAX_INPUT_CHARS) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut between sentences if possible."""
    text = " ".join(text.split())
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > limit:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def audio_duration_s(audio: bytes) -> float:
    """The length in seconds of MP3, WAV, Ogg Opus, AAC or FLAC audio, read from its headers.

    Raises:
        ValueError: the bytes are not audio of a known format.
    """
    try:
        parsed = mutagen.File(io.BytesIO(audio))
    except mutagen.MutagenError as error:
        raise ValueError(f"unreadable audio: {error}") from error
    length = getattr(getattr(parsed, "info", None), "length", None)
    if not length:
        raise ValueError("not audio of a known format")
    return float(length)


def _join(chunks: list[bytes], audio_format: str) -> bytes:
    """Join audio pieces: MP3 and ADTS AAC frames simply follow each other; WAV is re-wrapped."""
    if audio_format != "wav":
        return b"".join(chunks)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        for number, chunk in enumerate(chunks):
            with wave.open(io.BytesIO(chunk), "rb") as reader:
                if number == 0:
                    writer.setparams(reader.getparams())
                writer.writeframes(reader.readframes(reader.getnframes()))
    return out.getvalue()


class OpenAITTSProvider(EndpointClient):
    """Speaks narration with an OpenAI-compatible ``/v1/audio/speech`` endpoint.

    Args:
        base_url: the API base (default: ``OPENAI_BASE_URL``, else OpenAI's).
        api_key: the bearer token (default: ``OPENAI_API_KEY``).
        model: the speech model (default: ``SLIDESTREAM_TTS_MODEL``, else
            ``gpt-4o-mini-tts``; ``tts-1`` and ``tts-1-hd`` work too).
        voice: the voice when ``synthesize`` is given none (default ``"alloy"``).
        response_format: ``"mp3"`` (default), ``"wav"``, ``"opus"``, ``"aac"`` or ``"flac"``.
        speed: 0.25 to 4.0, sent only when given.
        instructions: how to speak (tone, pace), sent only when given (gpt-4o-mini-tts).
        timeout_s, retry_policy, transport: as for the ``openai`` script provider.

    Raises:
        ConfigurationError: no endpoint can be resolved (OpenAI's own without an API key).
    """

    name = "openai-tts"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        voice: str = "alloy",
        response_format: str = "mp3",
        speed: float | None = None,
        instructions: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if response_format not in _FORMATS:
            raise InvalidInputError(
                f"response_format={response_format!r} is not supported: use one of "
                f"{', '.join(_FORMATS)}."
            )
        if speed is not None and not 0.25 <= speed <= 4.0:
            raise InvalidInputError(f"speed={speed} is out of range: use 0.25 to 4.0.")
        self.config = resolve_endpoint(
            base_url=base_url,
            api_key=api_key,
            model=model,
            model_env="SLIDESTREAM_TTS_MODEL",
            default_model=DEFAULT_TTS_MODEL,
            provider=self.name,
        )
        self.voice = voice
        self.response_format = response_format
        self.speed = speed
        self.instructions = instructions
        self.retry_policy = retry_policy or RetryPolicy()
        self._open_client(timeout_s=timeout_s, transport=transport)

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        """Speak ``text``; the endpoint detects the language itself.

        Raises:
            InvalidInputError: the text is empty.
            ProviderError: the endpoint failed after retries, or sent audio we cannot read.
        """
        pieces = split_text(text)
        if not pieces:
            raise InvalidInputError("Nothing to speak: the narration text is empty.")
        if len(pieces) > 1 and self.response_format not in _JOINABLE:
            raise InvalidInputError(
                f"{self.name}: the text is {len(text)} characters, more than one request's "
                f"{MAX_INPUT_CHARS}, and {self.response_format} pieces cannot be joined: use "
                "mp3 or wav, or shorter narration."
            )
        chosen = voice or self.voice
        chunks: list[bytes] = []
        duration = 0.0
        for piece in pieces:
            chunk = await self._speech(piece, chosen)
            try:
                duration += await anyio.to_thread.run_sync(audio_duration_s, chunk)
            except ValueError as error:
                raise ProviderResponseError(
                    f"{self.name}: POST /audio/speech sent {len(chunk)} bytes that are not "
                    f"{self.response_format} audio ({error}).",
                    provider=self.name,
                    stage="tts",
                ) from error
            chunks.append(chunk)
        audio = (
            chunks[0]
            if len(chunks) == 1
            else await anyio.to_thread.run_sync(_join, chunks, self.response_format)
        )
        return SpeechClip(audio=audio, format=self.response_format, duration_s=duration)

    async def _speech(self, text: str, voice: str) -> bytes:
        body: dict[str, object] = {
            "model": self.config.model,
            "input": text,
            "voice": voice,
            "response_format": self.response_format,
        }
        if self.speed is not None:
            body["speed"] = self.speed
        if self.instructions:
            body["instructions"] = self.instructions
        call = "POST /audio/speech"
        request = self._client.build_request("POST", "audio/speech", json=body)
        response = await request_with_retries(
            functools.partial(self._client.send, request),
            provider=self.name,
            call=call,
            stage="tts",
            policy=self.retry_policy,
        )
        if response.headers.get("content-type", "").startswith("application/json"):
            raise ProviderResponseError(
                f"{self.name}: {call} answered with JSON instead of audio: {response.text[:200]!r}",
                provider=self.name,
                stage="tts",
            )
        if not response.content:
            raise ProviderError(
                f"{self.name}: {call} sent no audio.", provider=self.name, stage="tts"
            )
        return response.content
