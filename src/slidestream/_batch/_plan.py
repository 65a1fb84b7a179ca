"""From a batch's inputs to its deck jobs: read each outline, name each deck's folder."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .._constants import DEFAULT_LANGUAGE
from .._exceptions import ConfigurationError, InvalidInputError
from ..providers.script.markdown import MarkdownScriptProvider
from ._deck import DeckJob, DeckSettings
from ._inputs import BatchInput, InputSpec, assign_projects, expand_inputs
from ._models import BatchItemResult

__all__ = ["BatchPlan", "plan_batch"]


@dataclass(frozen=True, kw_only=True)
class _Deck:
    """One input, read: its deck topic and script provider, or why it cannot be made."""

    item: BatchInput
    topic: str
    script: object = None
    language: str = DEFAULT_LANGUAGE
    voice: str | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class BatchPlan:
    """The inputs of a batch, the jobs to run, and the inputs refused before running."""

    inputs: list[BatchInput]
    jobs: list[DeckJob]
    refused: dict[int, BatchItemResult]
    """By input position: an input that cannot become a deck (an outline with a mistake)."""


def _read(item: BatchInput, script: object, language: str | None, voice: str | None) -> _Deck:
    if item.markdown is None:
        if script is None:
            raise ConfigurationError(
                f"No script provider to write slides about the topic {item.topic!r}: pass "
                "script_provider (e.g. 'openai'; --script on the command line), or give "
                "Markdown outlines."
            )
        return _Deck(
            item=item,
            topic=item.topic,
            script=script,
            language=language or DEFAULT_LANGUAGE,
            voice=voice,
        )
    try:
        outline = MarkdownScriptProvider(item.markdown)
    except InvalidInputError as error:
        return _Deck(item=item, topic=item.topic, error=str(error))
    return _Deck(
        item=item,
        topic=outline.deck.title,
        script=outline,
        language=language or outline.deck.language or DEFAULT_LANGUAGE,
        voice=voice or outline.deck.voice,
    )


def plan_batch(
    inputs: InputSpec | Iterable[InputSpec],
    *,
    batch_id: str,
    output_dir: Path,
    script: object,
    settings: DeckSettings,
    language: str | None,
    voice: str | None,
) -> BatchPlan:
    """Expand ``inputs``, read every outline and name each deck's folder (blocking).

    An outline is read by its own ``markdown`` provider (its front matter gives the language
    and voice unless ``language``/``voice`` say); ``script`` writes the decks of topics.

    Raises:
        InvalidInputError: an input does not exist or gives no deck.
        ConfigurationError: there are topics and no ``script`` provider.
    """
    items = expand_inputs(inputs)
    decks = [_read(item, script, language, voice) for item in items]
    projects = assign_projects(items, output_dir, [deck.topic for deck in decks])
    jobs = [
        DeckJob(
            batch_id=batch_id,
            item=position,
            project=project,
            topic=deck.topic,
            script=deck.script,
            language=deck.language,
            voice=deck.voice,
            settings=settings,
            output_dir=output_dir,
        )
        for position, (deck, project) in enumerate(zip(decks, projects, strict=True))
        if deck.error is None
    ]
    refused = {
        position: BatchItemResult(input=deck.item.source, project=project, error=deck.error)
        for position, (deck, project) in enumerate(zip(decks, projects, strict=True))
        if deck.error is not None
    }
    return BatchPlan(inputs=items, jobs=jobs, refused=refused)
