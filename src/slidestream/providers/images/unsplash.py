"""Unsplash: free photos; needs an access key (``UNSPLASH_ACCESS_KEY``)."""

from __future__ import annotations

from typing import Any, ClassVar

from ..._exceptions import ProviderError
from ..._models import DeckRequest
from .._common.download import check_url
from .search import ImageCandidate, SearchImageProvider, api_key

__all__ = ["UnsplashImages"]

ENV_VAR = "UNSPLASH_ACCESS_KEY"
UTM = "utm_source=slidestream&utm_medium=referral"


class UnsplashImages(SearchImageProvider):
    """Photos from Unsplash (``GET /search/photos``, ``Authorization: Client-ID KEY``).

    As the Unsplash API guidelines require, each photo that is used triggers its
    ``links.download_location`` endpoint, and the credit links carry UTM parameters.

    Args:
        access_key: the Unsplash access key; by default ``UNSPLASH_ACCESS_KEY``.
        orientation: ``"landscape"`` (default), ``"portrait"`` or ``"squarish"``.
        size: which of ``urls`` to download (``"regular"`` is 1080 px wide; ``"full"``).
        **options: see :class:`SearchImageProvider` (``base_url``, ``timeout_s``, ...).
    """

    name = "unsplash"
    default_base_url: ClassVar[str] = "https://api.unsplash.com/search/photos"

    def __init__(
        self,
        *,
        access_key: str | None = None,
        orientation: str | None = "landscape",
        size: str = "regular",
        **options: Any,
    ) -> None:
        self._key = api_key(
            access_key, ENV_VAR, "unsplash", "https://unsplash.com/developers"
        ).removeprefix("Client-ID ")
        self.orientation = orientation
        self.size = size
        super().__init__(**options)

    def api_headers(self) -> dict[str, str]:
        """``Client-ID`` authorisation and the API version."""
        return {
            "Accept": "application/json",
            "Accept-Version": "v1",
            "Authorization": f"Client-ID {self._key}",
        }

    async def search(self, query: str, *, count: int, request: DeckRequest) -> list[ImageCandidate]:
        """Search photos; credit goes to the photographer, under the Unsplash licence."""
        params: dict[str, Any] = {"query": query, "per_page": count, "content_filter": "high"}
        if self.orientation:
            params["orientation"] = self.orientation
        body = await self.get_json(self.base_url, params, call="search")
        candidates = []
        for photo in body["results"]:
            urls = photo.get("urls") or {}
            url = urls.get(self.size) or urls.get("regular")
            if not url:
                continue
            user = photo.get("user") or {}
            links = photo.get("links") or {}
            page = links.get("html")
            candidates.append(
                ImageCandidate(
                    url=url,
                    source_url=f"{page}?{UTM}" if page else url,
                    attribution=f"Photo by {user.get('name') or 'unknown'} on Unsplash",
                    license="Unsplash License",
                    extra={"download_location": links.get("download_location")},
                )
            )
        return candidates

    async def on_used(self, candidate: ImageCandidate) -> None:
        """Trigger the photo's download endpoint, as the API guidelines require.

        A failure here does not cost the slide its image.
        """
        location = (candidate.extra or {}).get("download_location")
        if not location:
            return
        try:
            await check_url(
                location,
                allow_private_addresses=self.download_policy.allow_private_addresses,
                provider=self.name,
            )
            await self.get_json(location, {}, call="track download")
        except ProviderError:
            pass
