"""Provider protocols and the registry that resolves provider names.

``slidestream.providers.get("edge-tts", voice="en-US-AriaNeural")`` creates a registered
provider; the concrete built-in providers live in this package's private modules and are
imported only when first asked for.
"""

from .._registry import ProviderInfo as ProviderInfo
from .._registry import get as get
from .._registry import list_providers as list_providers
from .._registry import provider_kind as provider_kind
from .._registry import register as register
from ._fallback import FallbackImages as FallbackImages
from ._fallback import FallbackTTS as FallbackTTS
from ._protocols import ImageProvider as ImageProvider
from ._protocols import ScriptProvider as ScriptProvider
from ._protocols import SlideStreamingScriptProvider as SlideStreamingScriptProvider
from ._protocols import TTSProvider as TTSProvider

__all__ = [
    "FallbackImages",
    "FallbackTTS",
    "ImageProvider",
    "ProviderInfo",
    "ScriptProvider",
    "SlideStreamingScriptProvider",
    "TTSProvider",
    "get",
    "list_providers",
    "provider_kind",
    "register",
]
