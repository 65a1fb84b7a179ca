"""TTS providers: they speak a slide's narration.

- :mod:`slidestream.providers.tts.edge` (``edge-tts``): Microsoft Edge's online neural voices;
- :mod:`slidestream.providers.tts.openai` (``openai-tts``): an OpenAI-compatible
  ``/v1/audio/speech`` endpoint;
- :mod:`slidestream.providers.tts.piper` (``piper``): offline speech (the ``offline`` extra).

Each provider lives in its own module, imported only when used (Edge TTS needs aiohttp,
Piper an ONNX runtime).
"""
