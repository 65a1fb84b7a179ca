"""Provider answers in the cache: the outline, slide scripts, images and narration clips.

Each answer is keyed by the provider's identity (see :mod:`.identity`) and the inputs that
change it, and no others:

- outline and scripts: the deck's topic, language, slide count, source text, audience and
  tone (not the voice or the project folder), and for a script the outline and its index;
- images: the deck's topic and language, the slide's index, title, bullets and image query
  (not its narration), and how many images are wanted;
- narration: the spoken text, voice and language.

So editing one slide's narration asks for one clip and nothing else, and changing the voice
asks for every clip again but no script or image. Only successful answers are kept, and a
kept image or clip is checked again when it is taken (an image must read as one, a clip must
decode to the length it was kept with), so an entry that is whole but unusable is made again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._exceptions import ProviderResponseError
from .._images import verify_image
from .._media import check_clip
from .._models import DeckRequest, ImageAsset, Outline, OutlineItem, SlideScript, WordTiming
from .._types import AudioFormat, CacheKind
from .identity import provider_identity
from .keys import make_key
from .run import RunCache
from .store import Entry

__all__ = ["CachedClip", "ProviderAnswers"]

_CLIP_LENGTH_SLACK_S = 0.001
"""How far a kept clip's measured length may be from the one kept with it."""


@dataclass(frozen=True, kw_only=True)
class CachedClip:
    """A narration clip as it was checked when it was made."""

    audio: bytes
    format: AudioFormat
    duration_s: float
    """Measured when the clip was checked, not the provider's claim."""
    words: list[WordTiming]
    provider: str | None


def _deck_asked(request: DeckRequest) -> dict[str, Any]:
    return {
        "topic": request.topic,
        "language": request.language,
        "slides": request.slides,
        "source_text": request.source_text,
        "audience": request.audience,
        "tone": request.tone,
    }


def _decode_outline(entry: Entry) -> Outline:
    data = entry.data
    items = [
        OutlineItem(str(item["title"]), [str(point) for point in item["key_points"]])
        for item in data["items"]
    ]
    return Outline(title=str(data["title"]), items=items)


def _decode_script(index: int) -> Callable[[Entry], SlideScript]:
    def decode(entry: Entry) -> SlideScript:
        data = entry.data
        return SlideScript(
            index=index,
            title=str(data["title"]),
            bullets=[str(bullet) for bullet in data["bullets"]],
            narration=str(data["narration"]),
            image_query=data.get("image_query"),
            image_path=data.get("image_path"),
        )

    return decode


def _decode_images(entry: Entry) -> list[ImageAsset]:
    images = []
    for number, meta in enumerate(entry.data["images"]):
        data = entry.blobs[f"image-{number}"]
        verify_image(data)
        images.append(
            ImageAsset(
                data=data,
                mime_type=str(meta["mime_type"]),
                width=int(meta["width"]),
                height=int(meta["height"]),
                source_url=meta.get("source_url"),
                attribution=meta.get("attribution"),
                license=meta.get("license"),
            )
        )
    return images


def _measured_clip(audio: bytes, audio_format: AudioFormat, kept_s: float) -> None:
    """Refuse a kept clip that does not decode, or not to the length it was kept with.

    Raises:
        ValueError: it does not decode, or its length differs from ``kept_s``.
    """
    try:
        _format, measured_s = check_clip(audio, audio_format.value)
    except ProviderResponseError as error:
        raise ValueError(f"the kept audio does not decode: {error}") from None
    if abs(measured_s - kept_s) > _CLIP_LENGTH_SLACK_S:
        raise ValueError(f"the kept audio lasts {measured_s:.3f} s, not {kept_s:.3f} s")


def _decode_clip(entry: Entry) -> CachedClip:
    data = entry.data
    words = [WordTiming(str(w[0]), float(w[1]), float(w[2])) for w in data["words"]]
    audio_format = AudioFormat(data["format"])
    duration_s = float(data["duration_s"])
    _measured_clip(entry.blobs["audio"], audio_format, duration_s)
    return CachedClip(
        audio=entry.blobs["audio"],
        format=audio_format,
        duration_s=duration_s,
        words=words,
        provider=data.get("provider"),
    )


class ProviderAnswers:
    """One run's cached provider answers, for the run's request and providers.

    A provider that is not cacheable (see :mod:`.identity`) gets None from every lookup and
    its answers are not kept.
    """

    def __init__(
        self,
        cache: RunCache,
        request: DeckRequest,
        *,
        script: object,
        images: object | None,
        tts: object | None,
    ) -> None:
        self.cache = cache
        self.request = request
        self._script = provider_identity(script)
        self._images = provider_identity(images) if images is not None else None
        self._tts = provider_identity(tts) if tts is not None else None

    # -- the outline and scripts -----------------------------------------------------------------

    def _outline_key(self) -> str | None:
        if self._script is None:
            return None
        parts = {"provider": self._script, "request": _deck_asked(self.request)}
        return make_key(CacheKind.OUTLINE, parts)

    async def outline(self) -> Outline | None:
        """The outline this provider wrote for this deck before, if kept."""
        key = self._outline_key()
        if key is None:
            return None
        return await self.cache.load(CacheKind.OUTLINE, key, _decode_outline)

    async def keep_outline(self, outline: Outline, made_s: float) -> None:
        """Keep a new outline."""
        key = self._outline_key()
        if key is not None:
            await self.cache.keep(CacheKind.OUTLINE, key, data=outline.to_dict(), made_s=made_s)

    def _script_key(self, outline: Outline, index: int) -> str | None:
        if self._script is None:
            return None
        parts = {
            "provider": self._script,
            "request": _deck_asked(self.request),
            "outline": outline.to_dict(),
            "index": index,
        }
        return make_key(CacheKind.SCRIPT, parts)

    @property
    def scripts_cached(self) -> bool:
        """True when the script provider's answers are cached."""
        return self._script is not None

    async def script(self, outline: Outline, index: int) -> SlideScript | None:
        """Slide ``index`` as this provider wrote it for this outline before, if kept."""
        key = self._script_key(outline, index)
        if key is None:
            return None
        return await self.cache.load(CacheKind.SCRIPT, key, _decode_script(index), index=index)

    async def keep_script(self, outline: Outline, script: SlideScript, made_s: float) -> None:
        """Keep a new slide script."""
        key = self._script_key(outline, script.index)
        if key is not None:
            await self.cache.keep(CacheKind.SCRIPT, key, data=script.to_dict(), made_s=made_s)

    # -- images ----------------------------------------------------------------------------------

    def _images_key(self, slide: SlideScript, limit: int) -> str | None:
        if self._images is None:
            return None
        parts = {
            "provider": self._images,
            "deck": {"topic": self.request.topic, "language": self.request.language},
            "slide": {
                "index": slide.index,
                "title": slide.title,
                "bullets": slide.bullets,
                "image_query": slide.image_query,
            },
            "limit": limit,
        }
        return make_key(CacheKind.IMAGES, parts)

    async def images(self, slide: SlideScript, limit: int) -> list[ImageAsset] | None:
        """The images the provider found for this slide before, if kept."""
        key = self._images_key(slide, limit)
        if key is None:
            return None
        return await self.cache.load(CacheKind.IMAGES, key, _decode_images, index=slide.index)

    async def keep_images(
        self, slide: SlideScript, limit: int, images: Sequence[ImageAsset], made_s: float
    ) -> None:
        """Keep what the provider found (with licence and attribution)."""
        key = self._images_key(slide, limit)
        if key is None:
            return
        data = {
            "images": [
                {
                    "mime_type": image.mime_type,
                    "width": image.width,
                    "height": image.height,
                    "source_url": image.source_url,
                    "attribution": image.attribution,
                    "license": image.license,
                }
                for image in images
            ]
        }
        blobs = {f"image-{number}": image.data for number, image in enumerate(images)}
        await self.cache.keep(CacheKind.IMAGES, key, data=data, blobs=blobs, made_s=made_s)

    # -- narration -------------------------------------------------------------------------------

    def _clip_key(self, text: str) -> str | None:
        if self._tts is None:
            return None
        parts = {
            "provider": self._tts,
            "text": text,
            "voice": self.request.voice,
            "language": self.request.language,
        }
        return make_key(CacheKind.TTS, parts)

    async def clip(self, text: str, index: int) -> CachedClip | None:
        """The checked clip this provider spoke for ``text`` before, if kept."""
        key = self._clip_key(text)
        if key is None:
            return None
        return await self.cache.load(CacheKind.TTS, key, _decode_clip, index=index)

    async def keep_clip(self, text: str, clip: CachedClip, made_s: float) -> None:
        """Keep a checked clip."""
        key = self._clip_key(text)
        if key is None:
            return
        data = {
            "format": clip.format.value,
            "duration_s": clip.duration_s,
            "words": [[w.text, w.start_s, w.end_s] for w in clip.words],
            "provider": clip.provider,
        }
        await self.cache.keep(
            CacheKind.TTS, key, data=data, blobs={"audio": clip.audio}, made_s=made_s
        )
