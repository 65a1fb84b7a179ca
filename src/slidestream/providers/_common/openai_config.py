"""Where an OpenAI-compatible endpoint is and how to reach it: arguments, else environment.

``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` are the variables the official OpenAI clients read;
``SLIDESTREAM_MODEL`` names the chat model. The speech endpoint may be another server:
``SLIDESTREAM_TTS_BASE_URL``, ``SLIDESTREAM_TTS_API_KEY``, ``SLIDESTREAM_TTS_MODEL`` and
``SLIDESTREAM_TTS_VOICE`` (see :func:`resolve_tts_endpoint`). Time limits come from
``SLIDESTREAM_OPENAI_TIMEOUT`` (the longest silence between chunks) and
``SLIDESTREAM_OPENAI_FIRST_TOKEN_TIMEOUT`` (the longest wait for an answer to begin);
``SLIDESTREAM_STRUCTURED_OUTPUT`` (``json_schema``, ``json_object``, ``text`` or ``off``) says
how the chat model is asked for JSON.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..._constants import DEFAULT_FIRST_TOKEN_TIMEOUT_S, DEFAULT_TIMEOUT_S
from ..._exceptions import ConfigurationError, InvalidInputError
from .chat_shape import OutputMode
from .sse import StreamTimeouts

__all__ = [
    "CONFIGURE_BY_ENV",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_TTS_MODEL",
    "DEFAULT_TTS_VOICE",
    "FIRST_TOKEN_TIMEOUT_ENV",
    "HOW_TO_CONFIGURE",
    "OPENAI_BASE_URL",
    "STRUCTURED_OUTPUT_ENV",
    "TIMEOUT_ENV",
    "EndpointConfig",
    "endpoint_configured",
    "resolve_endpoint",
    "resolve_output_mode",
    "resolve_timeouts",
    "resolve_tts_endpoint",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_CHAT_MODEL = "gpt-4o-mini"
DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"
DEFAULT_TTS_VOICE = "alloy"
TIMEOUT_ENV = "SLIDESTREAM_OPENAI_TIMEOUT"
FIRST_TOKEN_TIMEOUT_ENV = "SLIDESTREAM_OPENAI_FIRST_TOKEN_TIMEOUT"
STRUCTURED_OUTPUT_ENV = "SLIDESTREAM_STRUCTURED_OUTPUT"

CONFIGURE_BY_ENV = (
    "Set OPENAI_API_KEY for OpenAI, or OPENAI_BASE_URL for any OpenAI-compatible server "
    "(for Ollama: OPENAI_BASE_URL=http://localhost:11434/v1 SLIDESTREAM_MODEL=llama3.1)."
)
HOW_TO_CONFIGURE = CONFIGURE_BY_ENV + " Or pass base_url=, api_key= and model= to the provider."


@dataclass(frozen=True, kw_only=True)
class EndpointConfig:
    """A resolved endpoint: base URL (ending in ``/v1`` for most servers), key and model."""

    base_url: str
    api_key: str | None
    model: str

    @property
    def headers(self) -> dict[str, str]:
        """The request headers: the bearer token when there is a key."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def endpoint_configured(env: Mapping[str, str] | None = None) -> bool:
    """True when the environment names an endpoint (``OPENAI_BASE_URL`` or ``OPENAI_API_KEY``)."""
    env = os.environ if env is None else env
    return bool(env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_KEY"))


def _url(value: str, *, provider: str) -> str:
    url = value.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"{provider}: base URL {url!r} is not an http(s) URL; use e.g. "
            "http://localhost:11434/v1."
        )
    return url


def resolve_endpoint(
    *,
    base_url: str | None,
    api_key: str | None,
    model: str | None,
    model_env: str,
    default_model: str,
    provider: str,
    env: Mapping[str, str] | None = None,
) -> EndpointConfig:
    """Arguments first, then environment variables, then defaults.

    Raises:
        ConfigurationError: the endpoint is OpenAI's own and there is no API key.
    """
    env = os.environ if env is None else env
    url = _url(base_url or env.get("OPENAI_BASE_URL") or OPENAI_BASE_URL, provider=provider)
    key = api_key if api_key is not None else env.get("OPENAI_API_KEY")
    if not key and url == OPENAI_BASE_URL:
        raise ConfigurationError(
            f"{provider}: no API key for {OPENAI_BASE_URL}. {HOW_TO_CONFIGURE}"
        )
    chosen = (model or env.get(model_env) or default_model).strip()
    return EndpointConfig(base_url=url, api_key=key or None, model=chosen)


def resolve_tts_endpoint(
    *,
    base_url: str | None,
    api_key: str | None,
    model: str | None,
    provider: str,
    env: Mapping[str, str] | None = None,
) -> EndpointConfig:
    """The speech endpoint: arguments, then ``SLIDESTREAM_TTS_*``, then the chat endpoint's.

    The chat endpoint's key (``OPENAI_API_KEY``) goes only to the chat endpoint's server: a
    speech server named apart (``SLIDESTREAM_TTS_BASE_URL`` or ``base_url=``) gets
    ``SLIDESTREAM_TTS_API_KEY`` or the ``api_key`` passed, else no key.

    Raises:
        ConfigurationError: the endpoint is OpenAI's own and there is no API key.
    """
    env = os.environ if env is None else env
    chat_url = _url(env.get("OPENAI_BASE_URL") or OPENAI_BASE_URL, provider=provider)
    url = _url(base_url or env.get("SLIDESTREAM_TTS_BASE_URL") or chat_url, provider=provider)
    key = api_key if api_key is not None else env.get("SLIDESTREAM_TTS_API_KEY")
    if key is None and url == chat_url:
        key = env.get("OPENAI_API_KEY")
    if not key and url == OPENAI_BASE_URL:
        raise ConfigurationError(
            f"{provider}: no API key for {OPENAI_BASE_URL}. Set SLIDESTREAM_TTS_API_KEY or "
            "OPENAI_API_KEY, or SLIDESTREAM_TTS_BASE_URL for a local speech server, or pass "
            "base_url= and api_key= to the provider."
        )
    chosen = (model or env.get("SLIDESTREAM_TTS_MODEL") or DEFAULT_TTS_MODEL).strip()
    return EndpointConfig(base_url=url, api_key=key or None, model=chosen)


def _seconds(value: float | None, env_name: str, default: float, env: Mapping[str, str]) -> float:
    if value is not None:
        return value
    text = env.get(env_name, "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ConfigurationError(f"{env_name}={text!r} is invalid: use a number of seconds > 0.")
    return seconds


def resolve_timeouts(
    *,
    timeout_s: float | None,
    first_token_timeout_s: float | None,
    env: Mapping[str, str] | None = None,
) -> StreamTimeouts:
    """The time limits: arguments, then ``SLIDESTREAM_OPENAI_*TIMEOUT``, then defaults.

    Raises:
        ConfigurationError: an environment variable is not a number of seconds.
        InvalidInputError: an argument is not a number of seconds.
    """
    env = os.environ if env is None else env
    return StreamTimeouts(
        silence_s=_seconds(timeout_s, TIMEOUT_ENV, DEFAULT_TIMEOUT_S, env),
        first_token_s=_seconds(
            first_token_timeout_s, FIRST_TOKEN_TIMEOUT_ENV, DEFAULT_FIRST_TOKEN_TIMEOUT_S, env
        ),
    )


def resolve_output_mode(
    value: bool | str | OutputMode | None, *, env: Mapping[str, str] | None = None
) -> OutputMode:
    """How to ask for JSON: the argument, then ``SLIDESTREAM_STRUCTURED_OUTPUT``, then JSON schema.

    Raises:
        InvalidInputError: the argument names no mode.
        ConfigurationError: the environment variable names no mode.
    """
    env = os.environ if env is None else env
    if value is not None:
        try:
            return OutputMode.parse(value)
        except ValueError as error:
            raise InvalidInputError(f"structured_output: {error}.") from None
    text = env.get(STRUCTURED_OUTPUT_ENV, "").strip()
    if not text:
        return OutputMode.JSON_SCHEMA
    try:
        return OutputMode.parse(text)
    except ValueError as error:
        raise ConfigurationError(f"{STRUCTURED_OUTPUT_ENV}: {error}.") from None
