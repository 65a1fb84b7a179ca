"""Download images from URLs that came from a search API, safely.

Image URLs come from third parties, so the downloader treats them as untrusted:

- only ``http`` and ``https``; every other scheme (``file``, ``ftp``, ``data``, ...) is refused;
- the host is resolved first and refused when any address is not a public one (private,
  loopback, link-local, reserved, multicast, shared); the request then goes to the address
  that was checked (the ``Host`` header and TLS server name keep the original name), so a DNS
  answer cannot change between the check and the connection. Redirects are followed by hand
  and every hop is checked the same way. ``allow_private_addresses=True`` turns this off
  (for a self-hosted image server, and for tests on 127.0.0.1);
- a size cap, checked against ``Content-Length`` first and enforced while streaming;
- a time limit for the whole download;
- the type is sniffed from the first bytes (the ``Content-Type`` header is not trusted), then
  :func:`~.images.prepare_image` verifies the file and converts it to 8-bit RGB.

Images smaller than the minimum size are skipped (``None``), not failed.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass
from typing import Final

import anyio
import httpx

from ..._exceptions import ProviderError, ProviderResponseError, ProviderTimeoutError
from ..._images import DEFAULT_MAX_PIXELS, PreparedImage, prepare_image, sniff_image_type
from .http import NO_HINTS, read_with_retries
from .retry import RetryPolicy

__all__ = ["DownloadPolicy", "UnsafeURLError", "check_url", "fetch_image"]

ALLOWED_SCHEMES: Final = frozenset({"http", "https"})
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(ProviderError):
    """A URL was refused: not http(s), or its host is a private, loopback or link-local one."""


@dataclass(frozen=True, kw_only=True)
class DownloadPolicy:
    """Limits for downloading one image."""

    max_bytes: int = 15 * 1024 * 1024
    timeout_s: float = 30.0
    min_width: int = 400
    """The long side must be at least this many pixels."""
    min_height: int = 300
    """The short side must be at least this many pixels."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_redirects: int = 5
    allow_private_addresses: bool = False
    jpeg_quality: int = 90


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def check_url(
    url: str, *, allow_private_addresses: bool = False, provider: str = "images"
) -> IPAddress | None:
    """Refuse ``url`` unless it is http(s) to a public address; returns the address to use.

    Returns ``None`` when ``allow_private_addresses`` is set (nothing is resolved then).

    Raises:
        UnsafeURLError: the scheme is not http(s), or the host resolves to a non-public
            address.
        ProviderError: the host name does not resolve.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise UnsafeURLError(f"{provider}: refused {url!r}: {error}", provider=provider) from error
    if parsed.scheme not in ALLOWED_SCHEMES or not parsed.host:
        raise UnsafeURLError(
            f"{provider}: refused {url!r}: only http and https URLs are downloaded.",
            provider=provider,
        )
    if allow_private_addresses:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(parsed.host)]
    except ValueError:
        try:
            found = await anyio.getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise ProviderError(
                f"{provider}: cannot resolve {parsed.host!r}: {error}", provider=provider
            ) from error
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    for address in addresses:
        if not _is_public(address):
            raise UnsafeURLError(
                f"{provider}: refused {url!r}: {parsed.host} is a private, loopback, "
                "link-local or reserved address. Pass allow_private_addresses=True to allow "
                "it (only for servers you trust).",
                provider=provider,
            )
    if not addresses:
        raise ProviderError(f"{provider}: {parsed.host!r} has no address.", provider=provider)
    return addresses[0]


def _pinned_request(
    client: httpx.AsyncClient, url: str, address: IPAddress | None
) -> httpx.Request:
    if address is None:
        return client.build_request("GET", url)
    parsed = httpx.URL(url)
    host_header = parsed.netloc.decode("ascii")
    request = client.build_request(
        "GET",
        parsed.copy_with(host=str(address)),
        headers={"Host": host_header},
        extensions={"sni_hostname": parsed.host} if parsed.scheme == "https" else None,
    )
    return request


async def _read_capped(response: httpx.Response, limit: int, url: str, provider: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ProviderResponseError(
            f"{provider}: {url} is {int(declared)} bytes, more than the {limit}-byte limit.",
            provider=provider,
        )
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise ProviderResponseError(
                f"{provider}: {url} is more than the {limit}-byte limit.", provider=provider
            )
    return bytes(body)


async def _download(
    client: httpx.AsyncClient, url: str, policy: DownloadPolicy, retry: RetryPolicy, provider: str
) -> bytes:
    for _ in range(policy.max_redirects + 1):
        address = await check_url(
            url, allow_private_addresses=policy.allow_private_addresses, provider=provider
        )
        request = _pinned_request(client, url, address)

        async def read(response: httpx.Response, url: str = url) -> bytes | httpx.URL:
            """The body, or where a redirect points (a URL, to be checked in turn)."""
            try:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    return httpx.URL(url).join(response.headers["location"])
                return await _read_capped(response, policy.max_bytes, url, provider)
            finally:
                await response.aclose()

        found = await read_with_retries(
            functools.partial(client.send, request, stream=True),
            read,
            provider=provider,
            call=f"download {url}",
            stage="images",
            policy=retry,
            return_redirects=True,
            hints=NO_HINTS,
        )
        if isinstance(found, bytes):
            return found
        url = str(found)
    raise ProviderResponseError(
        f"{provider}: more than {policy.max_redirects} redirects downloading {url}.",
        provider=provider,
    )


async def fetch_image(
    client: httpx.AsyncClient,
    url: str,
    *,
    policy: DownloadPolicy | None = None,
    retry: RetryPolicy | None = None,
    provider: str = "images",
) -> PreparedImage | None:
    """Download ``url`` safely and prepare it for a slide; ``None`` when it is too small.

    ``client`` must not follow redirects itself (each hop is checked here).

    Raises:
        UnsafeURLError: the URL, or a redirect, was refused.
        ProviderTimeoutError: the download took longer than ``policy.timeout_s``.
        ProviderResponseError: too large, not an image, or damaged.
        ProviderError: the server could not be reached.
    """
    policy = policy or DownloadPolicy()
    retry = retry or RetryPolicy()
    try:
        with anyio.fail_after(policy.timeout_s):
            data = await _download(client, url, policy, retry, provider)
    except TimeoutError as error:
        raise ProviderTimeoutError(
            f"{provider}: downloading {url} took longer than {policy.timeout_s:g} s.",
            provider=provider,
            stage="images",
        ) from error
    kind = sniff_image_type(data[:16])
    if kind is None:
        start = data[:24].decode("latin-1").strip()
        raise ProviderResponseError(
            f"{provider}: {url} is not an image (it starts with {start!r}).",
            provider=provider,
            stage="images",
        )
    try:
        prepare = functools.partial(
            prepare_image,
            data,
            min_size=(policy.min_width, policy.min_height),
            max_pixels=policy.max_pixels,
            jpeg_quality=policy.jpeg_quality,
        )
        return await anyio.to_thread.run_sync(prepare)
    except ValueError as error:
        raise ProviderResponseError(
            f"{provider}: cannot use the {kind} image at {url}: {error}",
            provider=provider,
            stage="images",
        ) from error
