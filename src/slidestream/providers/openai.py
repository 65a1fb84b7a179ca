"""OpenAI-compatible providers, by their earlier path: chat completions for scripts
(:mod:`slidestream.providers.script.openai`), ``/audio/speech`` for narration
(:mod:`slidestream.providers.tts.openai`).

::

    from slidestream.providers.openai import OpenAIScriptProvider, OpenAITTSProvider

    script = OpenAIScriptProvider(base_url="http://localhost:11434/v1", model="llama3.1")
    tts = OpenAITTSProvider(voice="nova")  # OPENAI_API_KEY from the environment

Both read ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` when not given; the models default to
``SLIDESTREAM_MODEL`` and ``SLIDESTREAM_TTS_MODEL``. They are registered as ``openai`` and
``openai-tts``.
"""

from ._common.retry import RetryPolicy as RetryPolicy
from .script.openai import OpenAIScriptProvider as OpenAIScriptProvider
from .script.openai import OutputMode as OutputMode
from .tts.openai import OpenAITTSProvider as OpenAITTSProvider

__all__ = ["OpenAIScriptProvider", "OpenAITTSProvider", "OutputMode", "RetryPolicy"]
