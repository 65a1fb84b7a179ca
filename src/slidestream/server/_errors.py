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

Every answer has the same body: ``{"error": {"type", "message", "status"}}``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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


async def _handle(request: Request, error: Exception) -> JSONResponse:
    return _response(error)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every slidestream error raised by a route with its status and JSON body."""
    app.add_exception_handler(SlidestreamError, _handle)
