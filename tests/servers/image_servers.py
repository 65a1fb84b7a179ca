"""Local stand-ins for the Openverse, Wikimedia Commons, Pexels and Unsplash search APIs.

Each answers with the JSON shape of the real API (from its public documentation) and points
at image files served by the same server under ``/img/``, in many kinds: plain JPEG and PNG,
WEBP, AVIF, CMYK JPEG, palette PNG with transparency, 16-bit greyscale PNG, a 50x50 image to
be skipped, an HTML page sent as ``image/jpeg``, oversized bodies (with and without
``Content-Length``), a redirect and a slow response.

Routes (all under the server's base URL):

- ``/openverse/v1/images/?q=...&page_size=...``
- ``/wikimedia/w/api.php?action=query&generator=search&gsrsearch=...&prop=imageinfo&...``
- ``/pexels/v1/search?query=...&per_page=...`` (``Authorization: KEY``)
- ``/unsplash/search/photos?query=...&per_page=...`` (``Authorization: Client-ID KEY``) and
  ``/unsplash/photos/{id}/download`` (the download-tracking endpoint)

With a :class:`~tests.servers.faults.FaultPlan` in ``ImageServerState.faults`` the fault layer
sits in front of every route, API calls and image downloads alike.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image, ImageDraw, features

from tests.servers._base import serve_app
from tests.servers.faults import Fault, FaultPlan, fault_middleware

PEXELS_KEY = "pexels-test-key"
UNSPLASH_KEY = "unsplash-test-key"
BIG_BYTES = 3 * 1024 * 1024
PEXELS_SIZES = ("original", "large2x", "large", "medium", "small", "portrait", "landscape", "tiny")


def _picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    image = Image.new("RGB", size, (40, 90, 160))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 40):
        draw.rectangle([x, 0, x + 19, size[1]], fill=(200, 120 + x % 100, 60))
    return image.convert(mode) if mode != "RGB" else image


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


@functools.lru_cache(maxsize=1)
def image_files() -> dict[str, tuple[bytes, str]]:
    """Every image the server offers: name -> (body, Content-Type it is sent with)."""
    rgba = Image.new("RGBA", (640, 480), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).ellipse([100, 100, 540, 380], fill=(220, 30, 30, 255))
    palette = Image.new("P", (640, 480), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    ImageDraw.Draw(palette).rectangle([0, 0, 319, 479], fill=1)
    palette.info["transparency"] = 0  # the right half (index 0) is transparent
    gray16 = Image.new("I;16", (800, 600), 40000)
    files = {
        "photo.jpg": (_encode(_picture((800, 600)), "JPEG", quality=85), "image/jpeg"),
        "graphic.png": (_encode(rgba, "PNG"), "image/png"),
        "photo.webp": (_encode(_picture((800, 600)), "WEBP"), "image/webp"),
        "cmyk.jpg": (_encode(_picture((800, 600), "CMYK"), "JPEG"), "image/jpeg"),
        "palette.png": (_encode(palette, "PNG"), "image/png"),
        "gray16.png": (_encode(gray16, "PNG"), "image/png"),
        "tiny.png": (_encode(_picture((50, 50)), "PNG"), "image/png"),
        "fake.jpg": (b"<!DOCTYPE html><html><body>Not found</body></html>", "image/jpeg"),
        "truncated.jpg": (_encode(_picture((800, 600)), "JPEG")[:2000], "image/jpeg"),
    }
    if features.check("avif"):
        files["photo.avif"] = (_encode(_picture((800, 600)), "AVIF"), "image/avif")
    return files


@dataclass
class ImageServerState:
    """What the server saw, and what it should return."""

    results: list[str] = field(default_factory=lambda: ["photo.jpg", "graphic.png"])
    """Image names every search returns, in order."""
    api_statuses: list[int] = field(default_factory=list)
    """Answer the next API calls with these statuses (``Retry-After: 0``)."""
    calls: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    """``(path, query, headers)`` of every API call."""
    tracked_downloads: list[str] = field(default_factory=list)
    image_requests: list[str] = field(default_factory=list)
    base_url: str = ""
    faults: FaultPlan | None = None
    """The fault layer in front of every route, if any."""


def _image_url(state: ImageServerState, name: str) -> str:
    return f"{state.base_url}/img/{name}"


def make_app(state: ImageServerState) -> web.Application:
    """The aiohttp application serving the four APIs and the image files."""

    def record(request: web.Request) -> web.Response | None:
        state.calls.append((request.path, dict(request.query), dict(request.headers)))
        if state.api_statuses:
            status = state.api_statuses.pop(0)
            return web.json_response(
                {"error": "try later"}, status=status, headers={"Retry-After": "0"}
            )
        return None

    async def openverse(request: web.Request) -> web.Response:
        if (refusal := record(request)) is not None:
            return refusal
        query, size = request.query["q"], int(request.query.get("page_size", "20"))
        results = [
            {
                "id": f"ov-{n}",
                "title": f"{query} {n}",
                "indexed_on": "2024-01-01T00:00:00Z",
                "foreign_landing_url": f"https://www.flickr.com/photos/x/{n}",
                "url": _image_url(state, name),
                "creator": f"Creator {n}",
                "creator_url": f"https://www.flickr.com/photos/creator{n}",
                "license": "by-sa",
                "license_version": "2.0",
                "license_url": "https://creativecommons.org/licenses/by-sa/2.0/",
                "provider": "flickr",
                "source": "flickr",
                "category": "photograph",
                "filesize": None,
                "filetype": name.rsplit(".", 1)[-1],
                "tags": [{"name": query}],
                "attribution": f'"{query} {n}" by Creator {n} is licensed under CC BY-SA 2.0.',
                "fields_matched": ["title"],
                "mature": False,
                "height": 600,
                "width": 800,
                "thumbnail": f"{state.base_url}/v1/images/ov-{n}/thumb/",
                "detail_url": f"{state.base_url}/v1/images/ov-{n}/",
                "related_url": f"{state.base_url}/v1/images/ov-{n}/related/",
                "unstable__sensitivity": [],
            }
            for n, name in enumerate(state.results[:size])
        ]
        return web.json_response(
            {
                "result_count": len(results),
                "page_count": 1,
                "page_size": size,
                "page": 1,
                "results": results,
                "warnings": [],
            }
        )

    async def wikimedia(request: web.Request) -> web.Response:
        if (refusal := record(request)) is not None:
            return refusal
        q = request.query
        assert q["action"] == "query"
        assert q["generator"] == "search"
        assert q["prop"] == "imageinfo"
        assert set(q["iiprop"].split("|")) >= {"url", "extmetadata", "size", "mime"}
        limit = int(q.get("gsrlimit", "10"))
        mimes = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
        pages = []
        for n, name in enumerate(state.results[:limit]):
            title = f"File:{name}"
            url = _image_url(state, name)
            mime = mimes.get(name.rsplit(".", 1)[-1], "image/jpeg")
            pages.append(
                {
                    "pageid": 1000 + n,
                    "ns": 6,
                    "title": title,
                    "index": n + 1,  # search rank; the pages come in another order
                    "imageinfo": [
                        {
                            "size": 123456,
                            "width": 4000,
                            "height": 3000,
                            "thumburl": url,
                            "thumbwidth": int(q.get("iiurlwidth", "1600")),
                            "thumbheight": 1200,
                            "url": url,
                            "descriptionurl": f"https://commons.wikimedia.org/wiki/{title}",
                            "descriptionshorturl": "https://commons.wikimedia.org/w/"
                            f"index.php?curid={1000 + n}",
                            "mime": mime,
                            "extmetadata": {
                                "LicenseShortName": {
                                    "value": "CC BY-SA 4.0",
                                    "source": "commons-desc-page",
                                    "hidden": "",
                                },
                                "Artist": {
                                    "value": f'<a href="//commons.wikimedia.org/wiki/User:A{n}">'
                                    f"Artist &amp; Co {n}</a>",
                                    "source": "commons-desc-page",
                                },
                                "Credit": {"value": "Own work", "source": "commons-desc-page"},
                                "LicenseUrl": {
                                    "value": "https://creativecommons.org/licenses/by-sa/4.0",
                                    "source": "commons-desc-page",
                                },
                            },
                        }
                    ],
                }
            )
        pages.reverse()  # the API does not return pages in search order
        return web.json_response(
            {
                "batchcomplete": True,
                "continue": {"gsroffset": limit, "continue": "gsroffset||"},
                "query": {"pages": pages},
            }
        )

    async def pexels(request: web.Request) -> web.Response:
        if (refusal := record(request)) is not None:
            return refusal
        if request.headers.get("Authorization") != PEXELS_KEY:
            return web.json_response({"error": "Invalid API key"}, status=401)
        per_page = int(request.query.get("per_page", "15"))
        photos = []
        for n, name in enumerate(state.results[:per_page]):
            url = _image_url(state, name)
            photos.append(
                {
                    "id": 2000 + n,
                    "width": 4000,
                    "height": 3000,
                    "url": f"https://www.pexels.com/photo/p-{2000 + n}/",
                    "photographer": f"Photographer {n}",
                    "photographer_url": f"https://www.pexels.com/@p{n}",
                    "photographer_id": 300 + n,
                    "avg_color": "#978E82",
                    "src": dict.fromkeys(
                        (
                            "original",
                            "large2x",
                            "large",
                            "medium",
                            "small",
                            "portrait",
                            "landscape",
                            "tiny",
                        ),
                        url,
                    ),
                    "liked": False,
                    "alt": request.query["query"],
                }
            )
        return web.json_response(
            {"total_results": len(photos), "page": 1, "per_page": per_page, "photos": photos}
        )

    def unsplash_authorised(request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Client-ID {UNSPLASH_KEY}"

    async def unsplash(request: web.Request) -> web.Response:
        if (refusal := record(request)) is not None:
            return refusal
        if not unsplash_authorised(request):
            return web.json_response(
                {"errors": ["OAuth error: The access token is invalid"]}, status=401
            )
        per_page = int(request.query.get("per_page", "10"))
        results = []
        for n, name in enumerate(state.results[:per_page]):
            url = _image_url(state, name)
            photo_id = f"us{n}"
            results.append(
                {
                    "id": photo_id,
                    "created_at": "2024-01-01T00:00:00Z",
                    "width": 4000,
                    "height": 3000,
                    "color": "#60544D",
                    "blur_hash": "LoC%a7IoIVxZ_NM|M{s:%hRjWAo0",
                    "likes": 12,
                    "description": request.query["query"],
                    "alt_description": request.query["query"],
                    "user": {
                        "id": f"u{n}",
                        "username": f"user{n}",
                        "name": f"Unsplash User {n}",
                        "links": {"html": f"https://unsplash.com/@user{n}"},
                    },
                    "urls": dict.fromkeys(("raw", "full", "regular", "small", "thumb"), url),
                    "links": {
                        "self": f"https://api.unsplash.com/photos/{photo_id}",
                        "html": f"https://unsplash.com/photos/{photo_id}",
                        "download": f"https://unsplash.com/photos/{photo_id}/download",
                        "download_location": f"{state.base_url}/unsplash/photos/{photo_id}"
                        "/download?ixid=abc",
                    },
                }
            )
        return web.json_response({"total": len(results), "total_pages": 1, "results": results})

    async def unsplash_download(request: web.Request) -> web.Response:
        if not unsplash_authorised(request):
            return web.json_response({"errors": ["OAuth error"]}, status=401)
        photo_id = request.match_info["id"]
        state.tracked_downloads.append(photo_id)
        return web.json_response({"url": f"https://images.unsplash.com/photo-{photo_id}"})

    async def image(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        state.image_requests.append(name)
        if name == "redirect.jpg":
            raise web.HTTPFound("/img/photo.jpg")
        if name == "redirect-loop.jpg":
            raise web.HTTPFound("/img/redirect-loop.jpg")
        if name == "slow.jpg":  # three seconds, unless the client gives up first
            for _ in range(60):
                await asyncio.sleep(0.05)
                if request.transport is None or request.transport.is_closing():
                    return web.Response(status=499)
        if name == "huge.jpg":
            body = image_files()["photo.jpg"][0]
            return web.Response(body=body + b"\0" * BIG_BYTES, content_type="image/jpeg")
        if name == "huge-chunked.jpg":
            response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(image_files()["photo.jpg"][0])
            for _ in range(BIG_BYTES // 65536):
                await response.write(b"\0" * 65536)
            await response.write_eof()
            return response
        if name == "hotlink.jpg":  # an image host refusing a download it does not like
            return web.Response(
                status=403, text="<html><h1>403 Forbidden</h1></html>", content_type="text/html"
            )
        if name not in image_files():
            return web.Response(status=404, text="no such image")
        body, content_type = image_files()[name]
        return web.Response(body=body, headers={"Content-Type": content_type})

    middlewares = []
    if state.faults is not None:

        def error_body(status: int, headers: dict[str, str]) -> web.Response:
            return web.json_response({"error": "try later"}, status=status, headers=headers)

        middlewares.append(
            fault_middleware(
                state.faults, "images", frozenset(Fault) - {Fault.WS_CLOSE}, error_body
            )
        )
    app = web.Application(middlewares=middlewares)
    app.router.add_get("/openverse/v1/images/", openverse)
    app.router.add_get("/wikimedia/w/api.php", wikimedia)
    app.router.add_get("/pexels/v1/search", pexels)
    app.router.add_get("/unsplash/search/photos", unsplash)
    app.router.add_get("/unsplash/photos/{id}/download", unsplash_download)
    app.router.add_get("/img/{name}", image)
    return app


BASE_PATHS = {
    "openverse": "/openverse/v1/images/",
    "wikimedia": "/wikimedia/w/api.php",
    "pexels": "/pexels/v1/search",
    "unsplash": "/unsplash/search/photos",
}


@contextmanager
def serve_images(state: ImageServerState | None = None) -> Iterator[ImageServerState]:
    """Run the image APIs on 127.0.0.1; ``state.base_url`` says where."""
    state = state or ImageServerState()
    with serve_app(make_app(state)) as base_url:
        state.base_url = base_url
        yield state
