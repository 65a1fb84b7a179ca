"""The ``edge-tts`` provider by its earlier path (it lives in :mod:`.tts.edge`).

::

    from slidestream.providers.edge import EdgeTTSProvider

    tts = EdgeTTSProvider(voice="en-GB-SoniaNeural", rate="+5%")
"""

from .tts.edge import EdgeTTSProvider as EdgeTTSProvider

__all__ = ["EdgeTTSProvider"]
