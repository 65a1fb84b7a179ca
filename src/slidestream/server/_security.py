"""What keeps requests inside their bounds: the token, file names, outlines, request sizes.

- A browser cannot be made to act for another site: a request that changes something
  (``POST``, ``DELETE``...) from a page of another origin is refused (only the server's own
  page and ``cors_origins`` may), and a server on loopback without a token answers only to
  loopback host names, so a DNS-rebinding page cannot reach it under its own name.
- The bearer token is compared in constant time; a browser gets it once through ``/?token=``
  and keeps it in an HttpOnly, SameSite=Strict cookie, so the page's event stream, audio and
  downloads (which cannot send headers) are authorised too.
- A file name in a URL is resolved inside the deck's folder and refused if it leaves it,
  names a hidden file, or is not a plain file.
- An uploaded Markdown outline loses its image references before it is parsed, and is parsed
  with images off (image lines left out unread), so it can never make the server read one of
  its own files, nor tell whether one exists.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._exceptions import InvalidInputError
from ._config import is_loopback
from ._errors import (
    ForbiddenRequestError,
    JobNotFoundError,
    PayloadTooLargeError,
    UnauthorizedError,
    error_body,
    status_for,
)
from ._schemas import JOB_ID_PATTERN

__all__ = [
    "TOKEN_COOKIE",
    "BodyLimitMiddleware",
    "BrowserGuardMiddleware",
    "TokenMiddleware",
    "check_host",
    "check_job_id",
    "check_origin",
    "check_token",
    "safe_file",
    "strip_images",
]

TOKEN_COOKIE = "slidestream_token"
_JOB_ID = re.compile(JOB_ID_PATTERN)
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)|!\[[^\]\n]*\]\[[^\]\n]*\]")
_HTML_IMAGE = re.compile(r"<\s*(img|image|picture|source|video|audio|iframe)\b[^>]*>", re.I)
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*\S+.*$", re.M)
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def check_token(expected: str | None, authorization: str | None, cookie: str | None) -> None:
    """Raise :class:`UnauthorizedError` unless the request carries ``expected``."""
    if expected is None:
        return
    given = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            given = value.strip()
    if given is None:
        given = cookie
    if given is None or not secrets.compare_digest(given.encode(), expected.encode()):
        raise UnauthorizedError(
            "This server needs its token: send 'Authorization: Bearer <token>', "
            "or open the page once as /?token=<token>."
        )


def check_origin(origin: str | None, host: str | None, allowed: Collection[str]) -> None:
    """Raise :class:`ForbiddenRequestError` unless a browser's ``Origin`` is ours or allowed.

    A request without ``Origin`` (curl, a script) passes: browsers send it with every request
    that can change something, including the form posts and ``text/plain`` bodies another
    site's page can send without asking first.
    """
    if origin is None or origin in allowed:
        return
    parts = urlsplit(origin)
    if host is not None and parts.scheme in ("http", "https") and parts.netloc == host.lower():
        return
    raise ForbiddenRequestError(
        f"Requests from the page at {origin[:80]!r} are refused: only this server's own page "
        "may change decks from a browser. Call the API without a browser, or start the "
        "server with --cors-origin for that page."
    )


def check_host(host: str | None, server: tuple[str, int] | None) -> None:
    """Raise :class:`ForbiddenRequestError` when a loopback connection names another host.

    For a server on loopback without a token: a web page that rebinds its own DNS name to
    127.0.0.1 reaches the server under that name, which this refuses.
    """
    if server is None or not is_loopback(str(server[0])):
        return
    name = urlsplit(f"//{host or ''}").hostname or ""
    if is_loopback(name) or name.endswith(".localhost"):
        return
    port = server[1]
    raise ForbiddenRequestError(
        f"This server listens on this machine without a token, so it answers only to "
        f"127.0.0.1, localhost or [::1], not to {(host or '')[:80]!r}: open "
        f"http://127.0.0.1:{port}/, or set a token (--token) to reach it under other names."
    )


class BrowserGuardMiddleware:
    """Refuses what a web page of another site could make a browser send.

    Every request that changes something must come from no browser, the server's own page or
    one of ``allowed_origins`` (:func:`check_origin`); with ``host_check`` (no token), a
    connection that arrived on loopback must name a loopback host (:func:`check_host`).
    """

    def __init__(self, app: ASGIApp, *, allowed_origins: Collection[str], host_check: bool) -> None:
        self.app = app
        self.allowed_origins = frozenset(allowed_origins)
        self.host_check = host_check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            if self.host_check:
                check_host(headers.get("host"), scope.get("server"))
            if scope["method"] in _UNSAFE_METHODS:
                check_origin(headers.get("origin"), headers.get("host"), self.allowed_origins)
        except ForbiddenRequestError as error:
            status = status_for(error)
            response = JSONResponse(error_body(error, status), status_code=status)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def check_job_id(job_id: str) -> str:
    """``job_id`` if it has the shape of one, else :class:`JobNotFoundError`."""
    if not _JOB_ID.fullmatch(job_id):
        raise JobNotFoundError(f"No deck job {job_id[:40]!r}: job ids are 16 hex digits.")
    return job_id


def safe_file(folder: Path, name: str) -> Path:
    """The file ``name`` (``a/b.png``) inside ``folder``; refused if it would leave it."""
    parts = PurePosixPath(name).parts
    if (
        not parts
        or len(name) > 200
        or "\\" in name
        or "\x00" in name
        or PurePosixPath(name).is_absolute()
        or any(part in ("", ".", "..") or part.startswith(".") for part in parts)
    ):
        raise InvalidInputError(f"{name[:80]!r} is not a file name of this deck.")
    root = folder.resolve()
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise JobNotFoundError(f"This deck has no file {name[:80]!r}.")
    return path


def strip_images(markdown: str) -> str:
    """``markdown`` without image references (``![..](..)``, ``<img>``, link definitions)."""
    text = _MD_IMAGE.sub("", markdown)
    text = _HTML_IMAGE.sub("", text)
    return _REFERENCE.sub("", text)


class BodyLimitMiddleware:
    """Answers ``413`` to any request whose body is larger than ``limit`` bytes.

    ``Content-Length`` is checked first; a chunked body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(self.limit, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise PayloadTooLargeError(_too_large_text(self.limit))
            return message

        await self.app(scope, limited, send)


def _too_large_text(limit: int) -> str:
    return f"The request is larger than this server accepts ({limit} bytes)."


async def _too_large(limit: int, send: Send) -> None:
    import json

    body = json.dumps(
        {
            "error": {
                "type": "PayloadTooLargeError",
                "message": _too_large_text(limit),
                "status": 413,
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TokenMiddleware:
    """Requires the server's token on every path but ``/healthz``.

    ``GET /?token=<token>`` answers with a redirect to ``/`` that sets the token cookie, so a
    person can open the page from a link.
    """

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)  # OPTIONS: CORS pre-flights carry no token
            return
        request = Request(scope)
        if scope["path"] == "/" and "token" in request.query_params:
            given = request.query_params["token"]
            if secrets.compare_digest(given.encode(), self.token.encode()):
                response: Response = RedirectResponse("/", status_code=303)
                response.set_cookie(
                    TOKEN_COOKIE, self.token, httponly=True, samesite="strict", path="/"
                )
                await response(scope, receive, send)
                return
        try:
            check_token(
                self.token, request.headers.get("authorization"), request.cookies.get(TOKEN_COOKIE)
            )
        except UnauthorizedError as error:
            status = status_for(error)
            response = JSONResponse(
                error_body(error, status),
                status_code=status,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
