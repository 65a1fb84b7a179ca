"""What providers return is checked before the run uses it, never trusted.

- the outline and each slide script must be what the protocol promises; their text loses
  terminal escape sequences and control characters (they would reach the terminal, the
  deck files and the subtitles);
- image results must be a list of :class:`ImageAsset`; each image is decoded under a pixel
  limit, flattened to 8-bit and scaled down when huge (:func:`.assets.check_image`);
- narration clips are checked by :func:`slidestream._media.check_clip` (known format, decodes,
  measured duration).

A failed check raises :class:`ProviderResponseError`, which the policy turns into the slide's
error (the outline's: the run's).
"""

from __future__ import annotations

import math
from dataclasses import replace

from .._exceptions import ProviderResponseError
from .._models import ImageAsset, Outline, OutlineItem, SlideScript, SpeechClip, WordTiming
from .._text import clean_text, compose_narration
from .._types import Stage

__all__ = ["checked_clip", "checked_images", "checked_outline", "checked_script", "checked_words"]


def _wrong(what: str, value: object, provider: str, stage: Stage) -> ProviderResponseError:
    return ProviderResponseError(
        f"{provider} returned {type(value).__name__}, not {what}", provider=provider, stage=stage
    )


def _text(value: object) -> str:
    """A one-line text (title, bullet) cleaned, its runs of white space made one space."""
    return " ".join(clean_text(value).split()) if isinstance(value, str) else ""


def _texts(values: object) -> list[str]:
    if not isinstance(values, (list, tuple)):
        return []
    return [text for value in values if (text := _text(value))]


def checked_outline(value: object, provider: str) -> Outline:
    """``value`` if it is an :class:`Outline`, with its text cleaned."""
    if not isinstance(value, Outline):
        raise _wrong("an Outline", value, provider, Stage.OUTLINE)
    items = [
        OutlineItem(title=_text(item.title), key_points=_texts(item.key_points))
        for item in value.items
        if isinstance(item, OutlineItem)
    ]
    return replace(value, title=_text(value.title), items=items)


def checked_script(value: object, provider: str) -> SlideScript:
    """``value`` if it is a :class:`SlideScript`, with its text cleaned.

    A script without narration gets the sentences the narrator will say instead (made from
    its title and bullets), so its speaker notes and subtitles hold what is spoken.
    """
    if not isinstance(value, SlideScript):
        raise _wrong("a SlideScript", value, provider, Stage.SCRIPT)
    query = value.image_query
    title, bullets = _text(value.title), _texts(value.bullets)
    narration = clean_text(value.narration).strip() if isinstance(value.narration, str) else ""
    return replace(
        value,
        title=title,
        bullets=bullets,
        narration=narration or compose_narration(title, bullets),
        image_query=_text(query) or None,
    )


def checked_images(value: object, provider: str) -> list[ImageAsset]:
    """``value`` if it is a list of :class:`ImageAsset` (their bytes are checked later)."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, ImageAsset) for v in value):
        raise _wrong("a list of ImageAsset", value, provider, Stage.IMAGES)
    return list(value)


def checked_clip(value: object, provider: str) -> SpeechClip:
    """``value`` if it is a :class:`SpeechClip` (its audio is checked by ``check_clip``)."""
    if not isinstance(value, SpeechClip) or not isinstance(value.audio, (bytes, bytearray)):
        raise _wrong("a SpeechClip", value, provider, Stage.TTS)
    return value


def checked_words(words: object, duration_s: float) -> list[WordTiming]:
    """The usable word timings of a clip, in order and inside its measured ``duration_s``.

    Timings that are not numbers, run backwards or start after the audio ends are dropped;
    one that runs past the end is cut there.
    """
    if not isinstance(words, (list, tuple)):
        return []
    kept = []
    for word in words:
        if not isinstance(word, WordTiming) or not isinstance(word.text, str):
            continue
        start, end, text = word.start_s, word.end_s, _text(word.text)
        numbers = all(isinstance(t, (int, float)) and math.isfinite(t) for t in (start, end))
        if text and numbers and 0 <= start <= end and start < duration_s:
            kept.append(WordTiming(text, float(start), float(min(end, duration_s))))
    return sorted(kept, key=lambda w: w.start_s)
