"""The service's own errors, and the one place that turns any error into an HTTP answer.

The service errors extend slidestream's tree (see :mod:`slidestream._exceptions`)::

    SlidestreamError
    ├── InvalidInputError                422
    │   ├── ProviderNotAllowedError      403  a provider outside the server's allow-list
    │   └── PayloadTooLargeError         413
    ├── ConfigurationError               400  (ProviderNotFoundError included)
    ├── ProviderError, PipelineError     502  a service behind the deck failed
    ├── RenderError                      500
    └── ServiceError
        ├── UnauthorizedError            401
        ├── ForbiddenRequestError        403  another site's page, or a host name not ours
        ├── NotFoundError                404
        │   └── JobNotFoundError         404
        ├── JobConflictError             409  the project is busy, or the deck was cancelled
        ├── QueueFullError               429  with Retry-After
        └── ShuttingDownError            503  with Retry-After

Every answer has the same body: ``{"error": {"type", "message", "status"}}``, the framework's
own refusals included (a body that does not validate, no such path, a method not allowed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .._exceptions import (
    ConfigurationError,
    InvalidInputError,
    ProviderError,
    SlidestreamError,
)
from .._run_error import PipelineError

__all__ = [
    "ForbiddenRequestError",
    "JobConflictError",
    "JobNotFoundError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ProviderNotAllowedError",
    "QueueFullError",
    "ServiceError",
    "ShuttingDownError",
    "UnauthorizedError",
    "error_body",
    "install_error_handlers",
    "status_for",
    "validation_message",
]


class ServiceError(SlidestreamError):
    """An error of the service itself (not of making a deck)."""


class UnauthorizedError(ServiceError):
    """The request lacks the server's bearer token."""


class ForbiddenRequestError(ServiceError):
    """A browser sent the request for another site's page (its ``Origin`` is not ours), or it
    names a host this server does not answer to (a DNS-rebinding page)."""


class NotFoundError(ServiceError, LookupError):
    """Nothing is at that path."""


class JobNotFoundError(NotFoundError):
    """No deck job has that id, or the deck has no such file."""


class JobConflictError(ServiceError):
    """The request conflicts with a job's state (its project is busy, or it was cancelled)."""


class QueueFullError(ServiceError):
    """Every deck slot and queue place is taken; try again after ``retry_after_s``."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ShuttingDownError(QueueFullError):
    """The server is shutting down and takes no new decks."""


class ProviderNotAllowedError(InvalidInputError):
    """The request chose a provider outside the server's allow-list."""


class PayloadTooLargeError(InvalidInputError):
    """The request body or the uploaded outline is larger than the server accepts."""


_STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (UnauthorizedError, 401),
    (ForbiddenRequestError, 403),
    (NotFoundError, 404),
    (JobConflictError, 409),
    (ShuttingDownError, 503),
    (QueueFullError, 429),
    (ProviderNotAllowedError, 403),
    (PayloadTooLargeError, 413),
    (InvalidInputError, 422),
    (ConfigurationError, 400),
    (ProviderError, 502),
    (PipelineError, 502),
)


def status_for(error: BaseException) -> int:
    """The HTTP status for ``error`` (500 for anything not listed)."""
    for error_type, status in _STATUSES:
        if isinstance(error, error_type):
            return status
    return 500


def error_body(error: BaseException, status: int) -> dict[str, dict[str, object]]:
    """The JSON body of an error answer."""
    message = str(error) if isinstance(error, SlidestreamError) else "Internal server error."
    return {"error": {"type": type(error).__name__, "message": message, "status": status}}


def _response(error: Exception) -> JSONResponse:
    status = status_for(error)
    headers = {}
    if isinstance(error, QueueFullError):
        headers["Retry-After"] = str(error.retry_after_s)
    if isinstance(error, UnauthorizedError):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(error, status), status_code=status, headers=headers)


def validation_message(problems: Sequence[Mapping[str, Any]]) -> str:
    """One sentence naming what is wrong with a request (pydantic's errors, the first five)."""
    return "Invalid request: " + "; ".join(_problem_text(problem) for problem in problems[:5])


def _problem_text(problem: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in problem.get("loc", ())) or "body"
    message = str(problem.get("msg", "invalid"))
    if problem.get("type") == "json_invalid":  # FastAPI's says only "JSON decode error"
        detail = str(problem.get("ctx", {}).get("error", ""))
        where = "body"
        if detail and detail not in message:
            message = f"{message}: {detail}"
    return f"{where}: {message}"


async def _handle(request: Request, error: Exception) -> JSONResponse:
    return _response(error)


async def _handle_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return _response(InvalidInputError(validation_message(error.errors())))


async def _handle_http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    if isinstance(error.__cause__, SlidestreamError):  # FastAPI wraps what reading the body raised
        return _response(error.__cause__)
    status = error.status_code
    if status == 404:
        message = f"Nothing is at {request.url.path[:80]!r}: the API is under /v1 (see /docs)."
        kind = NotFoundError.__name__
    elif status == 405:
        allowed = (error.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed on {request.url.path[:80]!r}; use {allowed}."
        kind = "MethodNotAllowedError"
    else:
        message, kind = f"{error.detail}", "HTTPError"
    body = {"error": {"type": kind, "message": message, "status": status}}
    return JSONResponse(body, status_code=status, headers=error.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with its status and the one JSON body.

    Slidestream's errors by :func:`status_for`; the framework's own (a request that does not
    validate, no such path, a method not allowed, a body it could not read) in the same shape.
    """
    app.add_exception_handler(SlidestreamError, _handle)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(HTTPException, _handle_http)
