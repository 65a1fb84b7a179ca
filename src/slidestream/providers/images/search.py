"""What every image-search provider shares: the search-then-download loop.

A provider subclass implements :meth:`SearchImageProvider.search`, which calls its API and
returns :class:`ImageCandidate` values (an image URL plus licence and attribution). The base
class downloads candidates safely (see :class:`DownloadPolicy`), skips the ones that are too
small, moves on past the ones that fail, and returns :class:`ImageAsset` values. When no
candidate could be used and some failed, it raises a :class:`ProviderError` naming the
provider and the failures, so a :class:`FallbackImages` chain can try the next provider.
"""

from __future__ import annotations

import abc
import html
import json
import os
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import anyio
import httpx

from ..._context import current_slide_index
from ..._exceptions import ConfigurationError, ProviderError, ProviderResponseError
from ..._limits import ServiceKey
from ..._models import DeckRequest, ImageAsset, SlideScript
from .._common.download import DownloadPolicy, fetch_image
from .._common.http import create_client, request_with_retries
from .._common.retry import RetryPolicy
from .._protocols import Provider

__all__ = ["ImageCandidate", "SearchImageProvider", "api_key", "html_text", "search_query"]

MAX_CANDIDATES = 20
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, kw_only=True)
class ImageCandidate:
    """One search result: where to download it and how to credit it."""

    url: str
    source_url: str | None = None
    """The page that describes the image (for credits); the image URL when unknown."""
    attribution: str | None = None
    license: str | None = None
    extra: dict[str, Any] | None = None
    """Provider-specific data kept for :meth:`SearchImageProvider.on_used`."""


def html_text(value: object) -> str:
    """Text from an HTML fragment (Wikimedia's ``Artist`` field), whitespace collapsed."""
    text = html.unescape(_TAG.sub(" ", str(value or "")))
    return " ".join(text.split())


def api_key(value: str | None, env_var: str, provider: str, where: str) -> str:
    """``value`` or the environment variable; a :class:`ConfigurationError` when neither."""
    key = (value or os.environ.get(env_var, "")).strip()
    if not key:
        raise ConfigurationError(
            f"{provider} needs an API key: set {env_var} or pass api_key=... "
            f"(get a free key at {where})."
        )
    return key


def search_query(request: DeckRequest, slide: SlideScript) -> str:
    """What to search for: the slide's image query, else its title, else the deck's topic
    (the first that is not blank), with runs of whitespace made single spaces."""
    for text in (slide.image_query, slide.title, request.topic):
        query = " ".join((text or "").split())
        if query:
            return query
    return ""


class SearchImageProvider(Provider, abc.ABC):
    """Base class of the image-search providers (Openverse, Wikimedia, Pexels, Unsplash).

    Args:
        base_url: the search endpoint (defaults to the real service).
        allow_private_addresses: allow downloads from private, loopback and link-local
            addresses (off by default; tests turn it on to reach 127.0.0.1).
        timeout_s: time limit of one API call and of one image download.
        max_bytes: the largest image file downloaded.
        min_size: ``(long side, short side)`` in pixels; smaller images are skipped.
        retry: how often and how patiently to retry 408/409/429/5xx and connection errors.
        transport: an httpx transport for both API calls and downloads (proxies, tests).
    """

    name = "images"
    default_base_url: ClassVar[str] = ""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        allow_private_addresses: bool = False,
        timeout_s: float = 30.0,
        max_bytes: int = 15 * 1024 * 1024,
        min_size: tuple[int, int] = (400, 300),
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url or self.default_base_url
        self.retry = retry or RetryPolicy()
        self.download_policy = DownloadPolicy(
            max_bytes=max_bytes,
            timeout_s=timeout_s,
            min_width=max(min_size),
            min_height=min(min_size),
            allow_private_addresses=allow_private_addresses,
        )
        self._api = create_client(
            headers=self.api_headers(), timeout_s=timeout_s, transport=transport
        )
        self._downloads = create_client(
            timeout_s=timeout_s, transport=transport, follow_redirects=False
        )

    @property
    def limit_key(self) -> ServiceKey:
        """The image API, by host: every instance calling it shares one limit."""
        return ServiceKey.from_url(self.name, self.base_url, path=False)

    def cache_identity(self) -> dict[str, Any]:
        """What changes the images found: the endpoint, the download limits, and the search
        options a subclass keeps as public attributes (``license_type``, ``orientation``...)."""
        options = {
            name: value
            for name, value in vars(self).items()
            if not name.startswith("_") and isinstance(value, (str, int, float, bool, type(None)))
        }
        policy = self.download_policy
        return {
            **options,
            "max_bytes": policy.max_bytes,
            "min_size": [policy.min_width, policy.min_height],
        }

    def api_headers(self) -> dict[str, str]:
        """Headers sent with every API call (authorisation, API version)."""
        return {"Accept": "application/json"}

    @abc.abstractmethod
    async def search(self, query: str, *, count: int, request: DeckRequest) -> list[ImageCandidate]:
        """Ask the service for up to ``count`` images matching ``query``."""

    async def on_used(self, candidate: ImageCandidate) -> None:
        """Called for each image that was downloaded and will be used (does nothing here)."""

    async def get_json(self, url: str, params: dict[str, Any], *, call: str) -> Any:
        """GET ``url`` with retries and return its JSON body."""
        response = await request_with_retries(
            lambda: self._api.get(url, params=params),
            provider=self.name,
            call=call,
            stage="images",
            policy=self.retry,
        )
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ProviderResponseError(
                f"{self.name}: {call} answered with something that is not JSON.",
                provider=self.name,
                stage="images",
                status_code=response.status_code,
            ) from error

    async def find_images(
        self, request: DeckRequest, slide: SlideScript, *, limit: int
    ) -> list[ImageAsset]:
        """Search for the slide's ``image_query`` (or its title) and download ``limit`` images."""
        if limit <= 0:
            return []
        query = search_query(request, slide)
        try:
            candidates = await self.search(
                query, count=min(MAX_CANDIDATES, max(limit * 3, 5)), request=request
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ProviderResponseError(
                f"{self.name}: the search answer for {query!r} has an unexpected shape: "
                f"{type(error).__name__}: {error}",
                provider=self.name,
                stage="images",
                slide_index=current_slide_index(),
            ) from error
        images: list[ImageAsset] = []
        failures: list[str] = []
        position = 0
        while len(images) < limit and position < len(candidates):
            window = candidates[position : position + limit - len(images)]
            position += len(window)
            images.extend(await self._fetch_all(window, failures))
        if not images and failures:
            shown = "; ".join(failures[:3])
            raise ProviderError(
                f"{self.name}: none of the {len(candidates)} images found for {query!r} "
                f"could be used ({len(failures)} failed): {shown}",
                provider=self.name,
                stage="images",
                slide_index=current_slide_index(),
            )
        return images[:limit]

    async def _fetch_all(
        self, window: list[ImageCandidate], failures: list[str]
    ) -> list[ImageAsset]:
        """Download ``window`` concurrently; failures are noted, skipped images left out."""
        found: list[ImageAsset | None] = [None] * len(window)

        async def fetch(slot: int, candidate: ImageCandidate) -> None:
            try:
                found[slot] = await self._fetch(candidate)
            except ProviderError as error:
                failures.append(str(error))

        async with anyio.create_task_group() as group:
            for slot, candidate in enumerate(window):
                group.start_soon(fetch, slot, candidate)
        return [image for image in found if image is not None]

    async def _fetch(self, candidate: ImageCandidate) -> ImageAsset | None:
        prepared = await fetch_image(
            self._downloads,
            candidate.url,
            policy=self.download_policy,
            retry=self.retry,
            provider=self.name,
        )
        if prepared is None:
            return None
        await self.on_used(candidate)
        return ImageAsset(
            data=prepared.data,
            mime_type=prepared.mime_type,
            width=prepared.width,
            height=prepared.height,
            source_url=candidate.source_url or candidate.url,
            attribution=candidate.attribution,
            license=candidate.license,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._api.aclose()
        await self._downloads.aclose()
