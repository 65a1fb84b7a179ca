"""The ``openai-tts`` provider: speech from an OpenAI-compatible ``/v1/audio/speech`` endpoint.

By default it reaches the same server as the ``openai`` script provider (``OPENAI_BASE_URL``,
``OPENAI_API_KEY``); a speech server apart from the chat model (a local one next to a hosted
LLM) has its own settings: ``SLIDESTREAM_TTS_BASE_URL``, ``SLIDESTREAM_TTS_API_KEY``,
``SLIDESTREAM_TTS_MODEL`` and ``SLIDESTREAM_TTS_VOICE``. The chat key is never sent to a speech
server named apart. Both providers talk through the same client class, and the audio is read
as it streams in, under the same time limits. Text longer than the endpoint's
4096-character limit is spoken in sentence-aligned pieces and the pieces are joined. Each
piece is decoded to check it and measure its duration.

::

    from slidestream.providers.tts.openai import OpenAITTSProvider

    tts = OpenAITTSProvider(voice="nova")  # OPENAI_API_KEY from the environment
    local = OpenAITTSProvider(base_url="http://localhost:8880/v1", model="kokoro", voice="af_sky")
"""

from __future__ import annotations

import functools
import logging
import os

import anyio
import httpx

from ..._exceptions import InvalidInputError, ProviderResponseError
from ..._media import check_clip
from ..._models import SpeechClip
from ..._text import chunk_text
from .._common.audio import join_audio, sniff_audio_format
from .._common.openai_client import OpenAIEndpointProvider, TimeoutHints
from .._common.openai_config import (
    DEFAULT_TTS_VOICE,
    FIRST_TOKEN_TIMEOUT_ENV,
    TIMEOUT_ENV,
    resolve_timeouts,
    resolve_tts_endpoint,
)
from .._common.retry import RetryPolicy, resolve_retry

__all__ = ["MAX_INPUT_CHARS", "OpenAITTSProvider"]

MAX_INPUT_CHARS = 4096
"""The longest ``input`` ``/v1/audio/speech`` accepts."""

logger = logging.getLogger("slidestream.providers")

_FORMATS = ("mp3", "wav", "opus", "aac", "flac")
_JOINABLE = ("mp3", "aac", "wav")
_HINTS = TimeoutHints(
    first_token=f"raise first_token_timeout_s or {FIRST_TOKEN_TIMEOUT_ENV}",
    silence=f"raise timeout_s or {TIMEOUT_ENV}",
)


class OpenAITTSProvider(OpenAIEndpointProvider):
    """Speaks narration with an OpenAI-compatible ``/v1/audio/speech`` endpoint.

    Args:
        base_url: the API base (default: ``SLIDESTREAM_TTS_BASE_URL``, else
            ``OPENAI_BASE_URL``, else OpenAI's).
        api_key: the bearer token (default: ``SLIDESTREAM_TTS_API_KEY``; ``OPENAI_API_KEY``
            only when the speech server is the chat server).
        model: the speech model (default: ``SLIDESTREAM_TTS_MODEL``, else
            ``gpt-4o-mini-tts``; ``tts-1`` and ``tts-1-hd`` work too).
        voice: the voice when ``synthesize`` is given none (default:
            ``SLIDESTREAM_TTS_VOICE``, else ``"alloy"``).
        response_format: ``"mp3"`` (default), ``"wav"``, ``"opus"``, ``"aac"`` or ``"flac"``.
        speed: 0.25 to 4.0, sent only when given.
        instructions: how to speak (tone, pace), sent only when given (gpt-4o-mini-tts).
        timeout_s: the longest silence once the audio has begun (default:
            ``SLIDESTREAM_OPENAI_TIMEOUT``, else 60 s).
        first_token_timeout_s: the longest wait for the first audio bytes (default:
            ``SLIDESTREAM_OPENAI_FIRST_TOKEN_TIMEOUT``, else 300 s).
        retry, transport: as for the ``openai`` script provider.
        retry_policy: the old name of ``retry`` (deprecated).

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
        voice: str | None = None,
        response_format: str = "mp3",
        speed: float | None = None,
        instructions: str | None = None,
        timeout_s: float | None = None,
        first_token_timeout_s: float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if response_format not in _FORMATS:
            raise InvalidInputError(
                f"response_format={response_format!r} is not supported: use one of "
                f"{', '.join(_FORMATS)}."
            )
        if speed is not None and not 0.25 <= speed <= 4.0:
            raise InvalidInputError(f"speed={speed} is out of range: use 0.25 to 4.0.")
        config = resolve_tts_endpoint(
            base_url=base_url, api_key=api_key, model=model, provider=self.name
        )
        self.voice = (voice or os.environ.get("SLIDESTREAM_TTS_VOICE") or DEFAULT_TTS_VOICE).strip()
        self.response_format = response_format
        self.speed = speed
        self.instructions = instructions
        self._connect(
            config,
            timeouts=resolve_timeouts(
                timeout_s=timeout_s, first_token_timeout_s=first_token_timeout_s
            ),
            retry=resolve_retry(retry, retry_policy, provider=self.name),
            transport=transport,
            hints=_HINTS,
        )

    def cache_identity(self) -> dict[str, object]:
        """What changes the audio: endpoint, model, voice, format, speed and instructions."""
        return {
            "base_url": self.config.base_url,
            "model": self.config.model,
            "voice": self.voice,
            "response_format": self.response_format,
            "speed": self.speed,
            "instructions": self.instructions,
        }

    async def synthesize(self, text: str, *, voice: str | None, language: str) -> SpeechClip:
        """Speak ``text``; the endpoint detects the language itself.

        Raises:
            InvalidInputError: the text is empty.
            ProviderError: the endpoint failed after retries, or sent audio that does not
                decode.
        """
        pieces = chunk_text(text, MAX_INPUT_CHARS)
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
        formats: set[str] = set()
        duration = 0.0
        for piece in pieces:
            chunk = await self._speech(piece, chosen)
            audio_format = self._format_of(chunk)
            check = functools.partial(check_clip, chunk, audio_format, provider=self.name)
            duration += (await anyio.to_thread.run_sync(check))[1]
            chunks.append(chunk)
            formats.add(audio_format)
        (audio_format, *others) = sorted(formats)
        if others or (len(chunks) > 1 and audio_format not in _JOINABLE):
            raise ProviderResponseError(
                f"{self.name}: the server sent the pieces of a long narration as "
                f"{', '.join(sorted(formats))} although {self.response_format} was asked for; "
                "they cannot be joined. Use shorter narration or a server that honours "
                "response_format.",
                provider=self.name,
                stage="tts",
            )
        audio = chunks[0] if len(chunks) == 1 else await self._join(chunks, audio_format)
        return SpeechClip(audio=audio, format=audio_format, duration_s=duration)

    def _format_of(self, audio: bytes) -> str:
        """The format the server really sent: some ignore ``response_format`` (LocalAI and
        Coqui wrappers always send WAV) or label it wrongly; the bytes tell."""
        found = sniff_audio_format(audio)
        if found is None or found == self.response_format:
            return self.response_format
        logger.info(
            "%s: asked for %s audio, the server sent %s; keeping it as %s",
            self.name,
            self.response_format,
            found,
            found,
        )
        return found

    async def _join(self, chunks: list[bytes], audio_format: str) -> bytes:
        """The pieces of one narration as one clip."""
        try:
            return await anyio.to_thread.run_sync(join_audio, chunks, audio_format)
        except ValueError as error:
            raise ProviderResponseError(
                f"{self.name}: the {len(chunks)} pieces of the narration cannot be joined: "
                f"{error}.",
                provider=self.name,
                stage="tts",
            ) from error

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
        return await self.client.speech(body, call="POST /audio/speech")
