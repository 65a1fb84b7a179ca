"""Pexels: free stock photos; needs an API key (``PEXELS_API_KEY``)."""

from __future__ import annotations

from typing import Any, ClassVar

from ..._models import DeckRequest
from .search import ImageCandidate, SearchImageProvider, api_key

__all__ = ["PexelsImages"]

ENV_VAR = "PEXELS_API_KEY"


class PexelsImages(SearchImageProvider):
    """Photos from Pexels (``GET /v1/search``, key in the ``Authorization`` header).

    Args:
        api_key: the Pexels API key; by default the ``PEXELS_API_KEY`` environment variable.
        orientation: ``"landscape"`` (default, fits slides), ``"portrait"`` or ``"square"``.
        size: which rendering of ``src`` to download (``"large2x"``, ``"large"``,
            ``"original"``, ...).
        **options: see :class:`SearchImageProvider` (``base_url``, ``timeout_s``, ...).
    """

    name = "pexels"
    default_base_url: ClassVar[str] = "https://api.pexels.com/v1/search"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        orientation: str | None = "landscape",
        size: str = "large2x",
        **options: Any,
    ) -> None:
        self._key = _key(api_key)
        self.orientation = orientation
        self.size = size
        super().__init__(**options)

    def api_headers(self) -> dict[str, str]:
        """The key goes in the ``Authorization`` header as it is."""
        return {"Accept": "application/json", "Authorization": self._key}

    async def search(self, query: str, *, count: int, request: DeckRequest) -> list[ImageCandidate]:
        """Search photos; credit goes to the photographer, under the Pexels licence."""
        params: dict[str, Any] = {"query": query, "per_page": count}
        if self.orientation:
            params["orientation"] = self.orientation
        if request.language:
            params["locale"] = _locale(request.language)
        body = await self.get_json(self.base_url, params, call="search")
        candidates = []
        for photo in body["photos"]:
            src = photo.get("src") or {}
            url = src.get(self.size) or src.get("large") or src.get("original")
            if not url:
                continue
            candidates.append(
                ImageCandidate(
                    url=url,
                    source_url=photo.get("url") or url,
                    attribution=f"Photo by {photo.get('photographer') or 'unknown'} on Pexels",
                    license="Pexels License",
                )
            )
        return candidates


def _key(value: str | None) -> str:
    return api_key(value, ENV_VAR, "pexels", "https://www.pexels.com/api/")


_LOCALES = {"en": "en-US", "de": "de-DE", "fr": "fr-FR", "es": "es-ES", "it": "it-IT"}


def _locale(language: str) -> str:
    language = language.replace("_", "-")
    return language if "-" in language else _LOCALES.get(language.lower(), "en-US")
