"""Provider protocols, the built-in providers, and the registry that resolves provider names.

``slidestream.providers.get("edge-tts", voice="en-US-AriaNeural")`` creates a registered
provider. The built-ins live in public modules by kind, each imported only when first asked
for: :mod:`.script` (``markdown``, ``openai``), :mod:`.images` (``generated``, ``local``,
``openverse``, ``wikimedia``, ``pexels``, ``unsplash``) and :mod:`.tts` (``piper``,
``edge-tts``, ``openai-tts``).
"""

from .._registry import ProviderInfo as ProviderInfo
from .._registry import get as get
from .._registry import list_providers as list_providers
from .._registry import override as override
from .._registry import provider_kind as provider_kind
from .._registry import register as register
from ._common.retry import RetryPolicy as RetryPolicy
from ._fallback import FallbackImages as FallbackImages
from ._fallback import FallbackTTS as FallbackTTS
from ._protocols import ImageProvider as ImageProvider
from ._protocols import Provider as Provider
from ._protocols import ScriptProvider as ScriptProvider
from ._protocols import SlideStream as SlideStream
from ._protocols import SlideStreamingScriptProvider as SlideStreamingScriptProvider
from ._protocols import SupportsAclose as SupportsAclose
from ._protocols import TTSProvider as TTSProvider

__all__ = [
    "FallbackImages",
    "FallbackTTS",
    "ImageProvider",
    "Provider",
    "ProviderInfo",
    "RetryPolicy",
    "ScriptProvider",
    "SlideStream",
    "SlideStreamingScriptProvider",
    "SupportsAclose",
    "TTSProvider",
    "get",
    "list_providers",
    "override",
    "provider_kind",
    "register",
]
