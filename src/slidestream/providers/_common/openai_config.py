"""Where an OpenAI-compatible endpoint is and how to reach it: arguments, else environment.

``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` are the variables the official OpenAI clients read;
``SLIDESTREAM_MODEL`` names the chat model and ``SLIDESTREAM_TTS_MODEL`` the speech model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..._exceptions import ConfigurationError

__all__ = [
    "CONFIGURE_BY_ENV",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_TTS_MODEL",
    "HOW_TO_CONFIGURE",
    "OPENAI_BASE_URL",
    "EndpointConfig",
    "endpoint_configured",
    "resolve_endpoint",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_CHAT_MODEL = "gpt-4o-mini"
DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"

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
    url = (base_url or env.get("OPENAI_BASE_URL") or OPENAI_BASE_URL).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"{provider}: base URL {url!r} is not an http(s) URL; use e.g. "
            "http://localhost:11434/v1."
        )
    key = api_key if api_key is not None else env.get("OPENAI_API_KEY")
    if not key and url == OPENAI_BASE_URL:
        raise ConfigurationError(
            f"{provider}: no API key for {OPENAI_BASE_URL}. {HOW_TO_CONFIGURE}"
        )
    chosen = (model or env.get(model_env) or default_model).strip()
    return EndpointConfig(base_url=url, api_key=key or None, model=chosen)
