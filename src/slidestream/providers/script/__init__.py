"""Script providers: they plan the outline and write each slide.

- :mod:`slidestream.providers.script.markdown` (``markdown``): the deck from a Markdown outline;
- :mod:`slidestream.providers.script.openai` (``openai``): any OpenAI-compatible
  chat-completions endpoint, every slide in one streamed reply.

Each provider lives in its own module, imported only when used.
"""
