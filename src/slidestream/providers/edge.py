"""The ``edge-tts`` provider: Microsoft Edge's online neural voices.

::

    from slidestream.providers.edge import EdgeTTSProvider

    tts = EdgeTTSProvider(voice="en-GB-SoniaNeural", rate="+5%")
"""

from ._edge_tts import EdgeTTSProvider as EdgeTTSProvider

__all__ = ["EdgeTTSProvider"]
