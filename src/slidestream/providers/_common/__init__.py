"""Plumbing the built-in providers share; private, and free to change.

- :mod:`.retry`: the one retry loop (backoff, ``Retry-After``) and :class:`RetryPolicy`;
- :mod:`.http`: httpx clients and requests through the retry loop;
- :mod:`.download`: safe image downloads (URL and address checks, size and time limits);
- :mod:`.images`: image bytes: recognise, verify, convert; the user's own image files;
- :mod:`.audio`: WAV containers, MP3 durations, joined pieces;
- :mod:`.asyncio_bridge`: asyncio-only client libraries under any anyio backend;
- :mod:`.openai_config`, :mod:`.openai_client`: an OpenAI-compatible endpoint and its client;
- :mod:`.prompts`, :mod:`.slide_json`: what is asked of a language model, and reading its JSON.
"""
