"""The exceptions slidestream raises.

Every exception is rooted at :class:`SlidestreamError`, so callers can catch
ours apart from everything else::

    SlidestreamError
    ├── InvalidInputError          something the user must fix (topic, project, file, option)
    │   └── ProjectBusyError       another run is making that project folder right now
    ├── ConfigurationError         a provider or extra is missing or misconfigured
    │   └── ProviderNotFoundError  no provider registered under that name
    ├── ProviderError              a provider call failed after its retries
    │   ├── ProviderTimeoutError
    │   ├── ProviderRateLimitError
    │   └── ProviderResponseError  the service answered, but not with what we asked for
    ├── RenderError                building a deck file (PPTX, audio, subtitles, video) failed
    ├── OutputError                the output folder or a file in it cannot be written
    └── PipelineError              the run as a whole failed (outline failed, every slide failed,
                                   or several distinct errors at once, kept in ``.errors``);
                                   in ``_run_error``, as it carries the run's slides
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InvalidInputError",
    "OutputError",
    "ProjectBusyError",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderRateLimitError",
    "ProviderResponseError",
    "ProviderTimeoutError",
    "RenderError",
    "SlidestreamError",
]


class SlidestreamError(Exception):
    """Base class of every error slidestream raises."""


class InvalidInputError(SlidestreamError, ValueError):
    """The input cannot be used as given; the message says what to change."""


class ProjectBusyError(InvalidInputError):
    """Another run holds the project folder; wait for it or choose another project name."""


class ConfigurationError(SlidestreamError):
    """A provider, extra or setting is missing or wrong; the message says how to fix it."""


class ProviderNotFoundError(ConfigurationError, LookupError):
    """No provider is registered under the requested name."""


class ProviderError(SlidestreamError):
    """A provider call failed (after retries, where the provider retries).

    Attributes:
        provider: the provider's name, e.g. ``"openai"`` or ``"edge-tts"``.
        stage: the pipeline stage, e.g. ``"outline"``, ``"script"``, ``"images"``, ``"tts"``.
        slide_index: the slide concerned, or ``None`` for deck-level calls.
        status_code: the last HTTP status seen, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        stage: str | None = None,
        slide_index: int | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.stage = stage
        self.slide_index = slide_index
        self.status_code = status_code


class ProviderTimeoutError(ProviderError):
    """A provider call timed out."""


class ProviderRateLimitError(ProviderError):
    """A provider kept answering 429 (rate limited) until the retries ran out."""


class ProviderResponseError(ProviderError):
    """A provider answered with something we could not use (bad status, malformed body)."""


class RenderError(SlidestreamError):
    """Building one of the deck files failed."""


class OutputError(SlidestreamError, OSError):
    """A folder or file of the run's output cannot be created or written.

    The message names the path and the reason (a full disk, a read-only folder, ``--out``
    naming a file). It is also an :class:`OSError`, so code that catches those still does;
    ``errno`` is the operating system's error number, when there was one.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "Cannot write the output."
