"""OpenAI-compatible providers: chat completions for scripts, ``/audio/speech`` for narration.

::

    from slidestream.providers.openai import OpenAIScriptProvider, OpenAITTSProvider

    script = OpenAIScriptProvider(base_url="http://localhost:11434/v1", model="llama3.1")
    tts = OpenAITTSProvider(voice="nova")  # OPENAI_API_KEY from the environment

Both read ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` when not given; the models default to
``SLIDESTREAM_MODEL`` and ``SLIDESTREAM_TTS_MODEL``. They are registered as ``openai`` and
``openai-tts``.
"""

from ._http import RetryPolicy as RetryPolicy
from ._openai import OpenAIScriptProvider as OpenAIScriptProvider
from ._openai import OutputMode as OutputMode
from ._openai_tts import OpenAITTSProvider as OpenAITTSProvider

__all__ = ["OpenAIScriptProvider", "OpenAITTSProvider", "OutputMode", "RetryPolicy"]
