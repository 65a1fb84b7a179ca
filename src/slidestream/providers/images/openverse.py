"""Openverse: openly licensed images (Creative Commons and public domain); no key needed."""

from __future__ import annotations

from typing import Any, ClassVar

from ..._models import DeckRequest
from .search import ImageCandidate, SearchImageProvider

__all__ = ["OpenverseImages", "license_name"]


def license_name(code: str, version: str | None) -> str:
    """A readable licence name: ``("by-sa", "2.0")`` -> ``"CC BY-SA 2.0"``."""
    code = code.strip().lower()
    if code == "cc0":
        name = "CC0"
    elif code == "pdm":
        name = "Public Domain Mark"
    else:
        name = f"CC {code.upper()}"
    return f"{name} {version}" if version else name


def _credit(result: dict[str, Any], license_: str | None) -> str:
    """A credit line for a result that has none: title, creator and licence when known."""
    credit = f'"{result.get("title") or "Untitled"}" by {result.get("creator") or "unknown"}'
    return f"{credit} is licensed under {license_}." if license_ else f"{credit}."


class OpenverseImages(SearchImageProvider):
    """Images from Openverse (``GET /v1/images/?q=...``); no key needed.

    Args:
        license_type: ``"commercial"`` or ``"modification"`` to only get images whose licence
            allows that; by default every open licence.
        **options: see :class:`SearchImageProvider` (``base_url``, ``timeout_s``, ...).
    """

    name = "openverse"
    default_base_url: ClassVar[str] = "https://api.openverse.org/v1/images/"

    def __init__(self, *, license_type: str | None = None, **options: Any) -> None:
        self.license_type = license_type
        super().__init__(**options)

    async def search(self, query: str, *, count: int, request: DeckRequest) -> list[ImageCandidate]:
        """Call the search endpoint and read each result's licence and credit."""
        params: dict[str, Any] = {"q": query, "page_size": count, "mature": "false"}
        if self.license_type:
            params["license_type"] = self.license_type
        body = await self.get_json(self.base_url, params, call="search")
        candidates = []
        for result in body["results"]:
            if not result.get("url"):
                continue
            code = (result.get("license") or "").strip()
            license_ = license_name(code, result.get("license_version")) if code else None
            attribution = result.get("attribution") or _credit(result, license_)
            candidates.append(
                ImageCandidate(
                    url=result["url"],
                    source_url=result.get("foreign_landing_url") or result["url"],
                    attribution=attribution,
                    license=license_,
                )
            )
        return candidates
