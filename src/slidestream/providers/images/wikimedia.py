"""Wikimedia Commons: freely licensed images; no key needed."""

from __future__ import annotations

from typing import Any, ClassVar

from ..._models import DeckRequest
from .search import ImageCandidate, SearchImageProvider, html_text

__all__ = ["WikimediaImages"]

_USABLE_MIME = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


class WikimediaImages(SearchImageProvider):
    """Images from Wikimedia Commons, found with the MediaWiki API.

    One ``action=query`` call with ``generator=search`` over the File namespace and
    ``prop=imageinfo`` (``iiprop=url|extmetadata|size|mime``) gives each file's URL, a scaled
    rendering (``thumb_width`` pixels wide) and its licence (``LicenseShortName``) and
    author (``Artist``, else ``Credit``).

    Args:
        thumb_width: the width of the rendering downloaded (the original can be huge).
        **options: see :class:`SearchImageProvider` (``base_url``, ``timeout_s``, ...).
    """

    name = "wikimedia"
    default_base_url: ClassVar[str] = "https://commons.wikimedia.org/w/api.php"

    def __init__(self, *, thumb_width: int = 1600, **options: Any) -> None:
        self.thumb_width = thumb_width
        super().__init__(**options)

    async def search(self, query: str, *, count: int, request: DeckRequest) -> list[ImageCandidate]:
        """Search the File namespace and read each file's licence metadata."""
        params = {
            "action": "query",
            "format": "json",
            "formatversion": "2",
            "generator": "search",
            "gsrsearch": f"{query} filetype:bitmap",
            "gsrnamespace": "6",
            "gsrlimit": str(count),
            "prop": "imageinfo",
            "iiprop": "url|extmetadata|size|mime",
            "iiurlwidth": str(self.thumb_width),
            "iiextmetadatafilter": "LicenseShortName|Artist|Credit|LicenseUrl",
        }
        body = await self.get_json(self.base_url, params, call="search")
        pages = sorted(body.get("query", {}).get("pages", []), key=lambda p: p.get("index", 0))
        candidates = []
        for page in pages:
            info = (page.get("imageinfo") or [{}])[0]
            if info.get("mime") not in _USABLE_MIME or not info.get("url"):
                continue
            meta = info.get("extmetadata") or {}

            def field(name: str, meta: dict[str, Any] = meta) -> str:
                return html_text((meta.get(name) or {}).get("value"))

            license_ = field("LicenseShortName") or None
            author = field("Artist") or field("Credit") or "Unknown author"
            title = str(page.get("title", "")).removeprefix("File:")
            parts = [author, license_, "via Wikimedia Commons"]
            candidates.append(
                ImageCandidate(
                    url=info.get("thumburl") or info["url"],
                    source_url=info.get("descriptionurl") or info["url"],
                    attribution=f"{title}: " + ", ".join(p for p in parts if p),
                    license=license_,
                )
            )
        return candidates
