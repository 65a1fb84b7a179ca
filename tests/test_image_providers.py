"""Image-search providers against local servers speaking each API's real JSON."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from PIL import Image, features

from slidestream import ConfigurationError, DeckRequest, ProviderError, SlideScript
from slidestream._exceptions import ProviderResponseError
from slidestream._images import sniff_image_type
from slidestream.providers import RetryPolicy, get
from slidestream.providers._common.download import DownloadPolicy, fetch_image
from slidestream.providers._common.http import create_client
from slidestream.providers.images import (
    OpenverseImages,
    PexelsImages,
    SearchImageProvider,
    UnsafeURLError,
    UnsplashImages,
    WikimediaImages,
    check_url,
)
from tests.servers.image_servers import (
    BASE_PATHS,
    PEXELS_KEY,
    UNSPLASH_KEY,
    ImageServerState,
    image_files,
    serve_images,
)

FAST = RetryPolicy(max_retries=2, initial_delay_s=0.01, max_delay_s=0.02)
REQUEST = DeckRequest(topic="Volcanoes", project="volcanoes")
SLIDE = SlideScript(index=0, title="Lava flows", image_query="basalt lava flow")


@pytest.fixture
def server() -> Iterator[ImageServerState]:
    with serve_images() as state:
        yield state


def make(kind: str, server: ImageServerState, **options: Any) -> SearchImageProvider:
    options = {
        "base_url": server.base_url + BASE_PATHS[kind],
        "allow_private_addresses": True,
        "retry": FAST,
        **options,
    }
    if kind == "openverse":
        return OpenverseImages(**options)
    if kind == "wikimedia":
        return WikimediaImages(**options)
    if kind == "pexels":
        return PexelsImages(api_key=PEXELS_KEY, **options)
    return UnsplashImages(access_key=UNSPLASH_KEY, **options)


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("kind", ["openverse", "wikimedia", "pexels", "unsplash"])
@pytest.mark.anyio
async def test_each_provider_returns_licensed_images(kind: str, server: ImageServerState) -> None:
    provider = make(kind, server)
    images = await provider.find_images(REQUEST, SLIDE, limit=2)
    await provider.aclose()

    assert len(images) == 2
    first = images[0]
    assert first.data == image_files()["photo.jpg"][0]  # a plain RGB JPEG is kept as it is
    assert (first.mime_type, first.width, first.height) == ("image/jpeg", 800, 600)
    assert images[1].mime_type == "image/png"
    assert opened(images[1].data).mode == "RGB"
    assert all(image.license and image.attribution and image.source_url for image in images)
    _path, query, headers = server.calls[0]
    search_terms = {
        "openverse": query.get("q"),
        "wikimedia": query.get("gsrsearch", "").removesuffix(" filetype:bitmap"),
        "pexels": query.get("query"),
        "unsplash": query.get("query"),
    }[kind]
    assert search_terms == "basalt lava flow"
    expected = {
        "openverse": ("CC BY-SA 2.0", '"basalt lava flow 0" by Creator 0'),
        "wikimedia": ("CC BY-SA 4.0", "photo.jpg: Artist & Co 0, CC BY-SA 4.0, via Wikimedia"),
        "pexels": ("Pexels License", "Photo by Photographer 0 on Pexels"),
        "unsplash": ("Unsplash License", "Photo by Unsplash User 0 on Unsplash"),
    }[kind]
    assert first.license == expected[0]
    assert first.attribution is not None
    assert first.attribution.startswith(expected[1])
    assert headers["User-Agent"].startswith("slidestream/")
    if kind == "pexels":
        assert headers["Authorization"] == PEXELS_KEY
    if kind == "unsplash":
        assert headers["Authorization"] == f"Client-ID {UNSPLASH_KEY}"
        assert headers["Accept-Version"] == "v1"
        assert server.tracked_downloads == ["us0", "us1"]  # the API guidelines' download event
        assert (
            first.source_url
            == "https://unsplash.com/photos/us0?utm_source=slidestream&utm_medium=referral"
        )
    if kind == "wikimedia":
        assert first.source_url == "https://commons.wikimedia.org/wiki/File:photo.jpg"


@pytest.mark.anyio
async def test_title_is_the_query_without_image_query(server: ImageServerState) -> None:
    provider = make("openverse", server)
    await provider.find_images(REQUEST, SlideScript(index=1, title="Magma  chambers"), limit=1)
    assert server.calls[0][1]["q"] == "Magma chambers"
    assert await provider.find_images(REQUEST, SLIDE, limit=0) == []
    await provider.aclose()


CONVERSIONS = [
    ("photo.webp", "JPEG"),
    ("cmyk.jpg", "JPEG"),
    ("palette.png", "PNG"),
    ("gray16.png", "PNG"),
    ("graphic.png", "PNG"),
]
if features.check("avif"):
    CONVERSIONS.append(("photo.avif", "JPEG"))


@pytest.mark.parametrize(("name", "fmt"), CONVERSIONS)
@pytest.mark.anyio
async def test_formats_are_converted_to_rgb(name: str, fmt: str, server: ImageServerState) -> None:
    server.results = [name]
    provider = make("openverse", server)
    [image] = await provider.find_images(REQUEST, SLIDE, limit=1)
    await provider.aclose()
    result = opened(image.data)
    assert (result.format, result.mode) == (fmt, "RGB")
    assert image.mime_type == f"image/{fmt.lower()}"
    assert (image.width, image.height) == result.size
    if name == "gray16.png":  # 40000 of 65535 is 155 of 255, not clipped to white
        assert result.getpixel((10, 10)) == (155, 155, 155)
    if name in ("palette.png", "graphic.png"):  # transparency is flattened onto white
        assert result.getpixel((630, 10)) == (255, 255, 255)
    if name == "palette.png":
        assert result.getpixel((10, 10)) == (0, 0, 255)


@pytest.mark.anyio
async def test_small_images_are_skipped_and_bad_ones_passed_over(
    server: ImageServerState,
) -> None:
    server.results = ["tiny.png", "fake.jpg", "truncated.jpg", "photo.jpg"]
    provider = make("pexels", server)
    [image] = await provider.find_images(REQUEST, SLIDE, limit=1)
    assert image.data == image_files()["photo.jpg"][0]
    assert server.image_requests == ["tiny.png", "fake.jpg", "truncated.jpg", "photo.jpg"]

    server.results = ["tiny.png"]
    assert await provider.find_images(REQUEST, SLIDE, limit=1) == []  # skipped, not failed
    await provider.aclose()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("fake.jpg", "is not an image (it starts with '<!DOCTYPE html>"),
        ("truncated.jpg", "cannot use the jpeg image"),
        ("huge.jpg", "bytes, more than the 1000000-byte limit"),
        ("huge-chunked.jpg", "is more than the 1000000-byte limit"),
        ("redirect-loop.jpg", "more than 5 redirects"),
        ("missing.jpg", "status 404"),
        ("slow.jpg", "took longer than 0.5 s"),
    ],
)
@pytest.mark.anyio
async def test_unusable_downloads_fail_with_the_reason(
    name: str, message: str, server: ImageServerState
) -> None:
    server.results = [name]
    provider = make("wikimedia", server, max_bytes=1_000_000, timeout_s=0.5)
    with pytest.raises(ProviderError, match="wikimedia: none of the 1 images") as caught:
        await provider.find_images(REQUEST, SLIDE, limit=1)
    assert message in str(caught.value)
    assert caught.value.provider == "wikimedia"
    await provider.aclose()


@pytest.mark.parametrize(("name", "status"), [("missing.jpg", 404), ("hotlink.jpg", 403)])
@pytest.mark.anyio
async def test_a_refused_download_gives_no_advice_about_keys_or_models(
    name: str, status: int, server: ImageServerState
) -> None:
    server.results = [name]
    provider = make("pexels", server)
    with pytest.raises(ProviderError, match=f"status {status}") as caught:
        await provider.find_images(REQUEST, SLIDE, limit=1)
    assert "API key" not in str(caught.value)
    assert "model" not in str(caught.value)
    await provider.aclose()


@pytest.mark.anyio
async def test_redirects_are_followed(server: ImageServerState) -> None:
    server.results = ["redirect.jpg"]
    provider = make("openverse", server)
    [image] = await provider.find_images(REQUEST, SLIDE, limit=1)
    assert image.data == image_files()["photo.jpg"][0]
    assert server.image_requests == ["redirect.jpg", "photo.jpg"]
    await provider.aclose()


@pytest.mark.anyio
async def test_private_addresses_are_refused_by_default(server: ImageServerState) -> None:
    provider = OpenverseImages(base_url=server.base_url + BASE_PATHS["openverse"], retry=FAST)
    with pytest.raises(ProviderError, match="private, loopback") as caught:
        await provider.find_images(REQUEST, SLIDE, limit=1)
    assert "allow_private_addresses=True" in str(caught.value)
    assert server.image_requests == []  # nothing was fetched
    await provider.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/a.jpg",
        "file:///etc/passwd",
        "ftp://example.org/a.jpg",
        "data:image/png;base64,AAAA",
        "http://[::1]/a.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/a.jpg",
        "http://192.168.0.1/a.jpg",
        "http://[::ffff:127.0.0.1]/a.jpg",
        "http://0.0.0.0/a.jpg",
        "http://100.64.0.1/a.jpg",
        "http://224.0.0.1/a.jpg",
    ],
)
@pytest.mark.anyio
async def test_ssrf_guard_refuses(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        await check_url(url)
    async with create_client(follow_redirects=False) as client:
        with pytest.raises(UnsafeURLError):
            await fetch_image(client, url)


@pytest.mark.anyio
async def test_ssrf_guard_allows_public_and_opted_in_addresses() -> None:
    assert str(await check_url("https://93.184.216.34/a.jpg")) == "93.184.216.34"
    assert await check_url("http://127.0.0.1/", allow_private_addresses=True) is None
    with pytest.raises(UnsafeURLError):
        await check_url("file:///etc/passwd", allow_private_addresses=True)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A resolver answering from a table, so public-looking names need no network."""
    table: dict[str, str] = {}

    async def getaddrinfo(host: str, port: int, **kwargs: Any) -> list[Any]:
        if host not in table:
            raise socket.gaierror(f"unknown host {host}")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]

    monkeypatch.setattr(anyio, "getaddrinfo", getaddrinfo)
    return table


@pytest.mark.anyio
async def test_each_redirect_hop_is_checked_and_the_checked_address_used(
    fake_dns: dict[str, str],
) -> None:
    fake_dns.update({"images.example": "93.184.216.34", "rebind.example": "10.0.0.7"})
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/hop":
            return httpx.Response(302, headers={"Location": "http://rebind.example/secret"})
        return httpx.Response(302, headers={"Location": "http://127.0.0.1:9/secret"})

    async with create_client(
        transport=httpx.MockTransport(handler), follow_redirects=False
    ) as client:
        with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1"):
            await fetch_image(client, "https://images.example/cat.jpg", retry=FAST)
        with pytest.raises(UnsafeURLError, match=r"rebind\.example"):
            await fetch_image(client, "https://images.example/hop", retry=FAST)
    # The request went to the address that was checked, under the original name.
    assert seen[0].url.host == "93.184.216.34"
    assert seen[0].headers["Host"] == "images.example"
    assert seen[0].extensions["sni_hostname"] == "images.example"
    assert len(seen) == 2  # no request ever reached a refused hop
    with pytest.raises(ProviderError, match=r"cannot resolve 'nowhere\.example'"):
        await check_url("http://nowhere.example/a.jpg")


@pytest.mark.anyio
async def test_api_errors_are_retried_then_reported(server: ImageServerState) -> None:
    provider = make("openverse", server)
    server.api_statuses = [503]
    assert len(await provider.find_images(REQUEST, SLIDE, limit=1)) == 1
    server.api_statuses = [429, 429, 429]
    with pytest.raises(ProviderError, match="last status 429"):
        await provider.find_images(REQUEST, SLIDE, limit=1)
    await provider.aclose()

    wrong_key = PexelsImages(
        api_key="wrong", base_url=server.base_url + BASE_PATHS["pexels"], retry=FAST
    )
    with pytest.raises(ProviderResponseError, match="status 401") as caught:
        await wrong_key.find_images(REQUEST, SLIDE, limit=1)
    assert caught.value.status_code == 401
    assert "Check the API key" in str(caught.value)
    await wrong_key.aclose()


def test_keys_come_from_arguments_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PEXELS_API_KEY", raising=False)
    monkeypatch.delenv("UNSPLASH_ACCESS_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="PEXELS_API_KEY"):
        PexelsImages()
    with pytest.raises(ConfigurationError, match="UNSPLASH_ACCESS_KEY"):
        get("unsplash")
    monkeypatch.setenv("PEXELS_API_KEY", "from-env")
    assert PexelsImages().api_headers()["Authorization"] == "from-env"
    monkeypatch.setenv("UNSPLASH_ACCESS_KEY", "abc")
    assert UnsplashImages().api_headers()["Authorization"] == "Client-ID abc"


def test_registered_under_their_names() -> None:
    assert isinstance(get("openverse"), OpenverseImages)
    assert isinstance(get("wikimedia"), WikimediaImages)
    assert isinstance(get("pexels", api_key="k"), PexelsImages)
    assert isinstance(get("unsplash", access_key="k"), UnsplashImages)


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.anyio
async def test_works_under_trio(server: ImageServerState) -> None:
    server.results = ["photo.webp"]
    provider = make("unsplash", server)
    [image] = await provider.find_images(REQUEST, SLIDE, limit=1)
    assert image.mime_type == "image/jpeg"
    await provider.aclose()


def test_sniffing() -> None:
    files = image_files()
    assert sniff_image_type(files["photo.jpg"][0]) == "jpeg"
    assert sniff_image_type(files["graphic.png"][0]) == "png"
    assert sniff_image_type(files["photo.webp"][0]) == "webp"
    assert sniff_image_type(b"GIF89a....") == "gif"
    assert sniff_image_type(files["fake.jpg"][0]) is None
    if "photo.avif" in files:
        assert sniff_image_type(files["photo.avif"][0]) == "avif"
    assert DownloadPolicy().allow_private_addresses is False


class _BreaksOff(httpx.AsyncByteStream):
    """A body that sends its first bytes, then loses the connection."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> Any:
        yield self.data[:100]
        raise httpx.ReadError("connection reset by peer")


@pytest.mark.anyio
async def test_a_download_that_breaks_off_is_retried_then_reported() -> None:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (20, 120, 200)).save(out, "PNG")
    image, attempts = out.getvalue(), []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) == 1:
            return httpx.Response(200, stream=_BreaksOff(image))
        return httpx.Response(200, content=image)

    policy = DownloadPolicy(allow_private_addresses=True)
    transport = httpx.MockTransport(handler)
    async with create_client(transport=transport, follow_redirects=False) as client:
        prepared = await fetch_image(client, "http://127.0.0.1/a.png", policy=policy, retry=FAST)
        assert prepared is not None and prepared.data == image
        assert len(attempts) == 2

        always = httpx.MockTransport(lambda _: httpx.Response(200, stream=_BreaksOff(image)))
        async with create_client(transport=always, follow_redirects=False) as broken:
            with pytest.raises(ProviderError, match="failed after 3 attempt") as caught:
                await fetch_image(broken, "http://127.0.0.1/a.png", policy=policy, retry=FAST)
    # One of ours, never the raw httpx error (which is kept as the cause).
    assert type(caught.value) is ProviderError and caught.value.stage == "images"
    assert isinstance(caught.value.__cause__, httpx.ReadError)


@pytest.mark.anyio
async def test_an_openverse_result_without_a_licence_is_not_credited_as_cc() -> None:
    picture = io.BytesIO()
    Image.new("RGB", (800, 600), (10, 120, 200)).save(picture, "PNG")
    result = {"url": "http://images.test/a.png", "title": "Lava", "creator": "Ann"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.test":
            return httpx.Response(200, json={"results": [result]})
        return httpx.Response(200, content=picture.getvalue())

    provider = OpenverseImages(
        base_url="http://api.test/v1/images/",
        allow_private_addresses=True,
        retry=FAST,
        transport=httpx.MockTransport(handler),
    )
    [image] = await provider.find_images(REQUEST, SLIDE, limit=1)
    await provider.aclose()
    assert image.license is None
    assert image.attribution == '"Lava" by Ann.'


@pytest.mark.anyio
async def test_a_blank_image_query_searches_for_the_slide_title() -> None:
    asked: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params.get("q"))
        return httpx.Response(200, json={"results": []})

    provider = OpenverseImages(
        base_url="http://api.test/v1/images/", retry=FAST, transport=httpx.MockTransport(handler)
    )
    blank = SlideScript(index=0, title="Lava  flows", image_query="  \n")
    assert await provider.find_images(REQUEST, blank, limit=1) == []
    untitled = SlideScript(index=1, title=" ", image_query=None)
    assert await provider.find_images(REQUEST, untitled, limit=1) == []
    await provider.aclose()
    assert asked == ["Lava flows", "Volcanoes"]
