"""HTTP plumbing shared by the online providers: clients, and requests through the retry loop.

:func:`request_with_retries` sends a request through :func:`~.retry.call_with_retries`:
connection errors, timeouts and the statuses 408, 409, 429 and 5xx are retried (honouring
``Retry-After``), a refused request says what to check, and raw httpx errors never reach users.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from types import MappingProxyType
from typing import TypeVar

import httpx

from ..._constants import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S
from ..._context import current_slide_index
from ..._exceptions import ProviderResponseError
from ..._version import __version__
from .retry import (
    Failure,
    RetryableFailure,
    RetryPolicy,
    call_with_retries,
    is_retryable_status,
    retry_after_s,
)

__all__ = [
    "API_HINTS",
    "ENDPOINT_HINTS",
    "NO_HINTS",
    "body_text",
    "create_client",
    "read_with_retries",
    "refusal",
    "refused_error",
    "request_with_retries",
    "snippet",
    "user_agent",
]

_MAX_BODY_IN_ERROR = 300
T = TypeVar("T")


def user_agent() -> str:
    """``slidestream/VERSION (+project page) httpx/VERSION``: descriptive, as Wikimedia asks."""
    return (
        f"slidestream/{__version__} (+https://pypi.org/project/slidestream/) "
        f"httpx/{httpx.__version__}"
    )


def create_client(
    *,
    base_url: str = "",
    headers: dict[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
    follow_redirects: bool = True,
    timeout: httpx.Timeout | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with our timeouts (``timeout``, else ``timeout_s`` for each
    read and write) and a descriptive ``User-Agent``."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"User-Agent": user_agent(), **(headers or {})},
        timeout=timeout or httpx.Timeout(timeout_s, connect=DEFAULT_CONNECT_TIMEOUT_S),
        transport=transport,
        follow_redirects=follow_redirects,
    )


def snippet(text: str) -> str:
    """``text`` on one line, cut to a length that fits in an error message."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_BODY_IN_ERROR else text[:_MAX_BODY_IN_ERROR] + "..."


async def body_text(response: httpx.Response) -> str:
    """The body of ``response`` as text (empty when it cannot be read); closes the response."""
    try:
        await response.aread()
        return response.text
    except (httpx.HTTPError, UnicodeDecodeError):
        return ""
    finally:
        await response.aclose()


API_HINTS: Mapping[int, str] = MappingProxyType({401: " Check the API key."})
"""What to check after a refusal from an API called with a key (the default)."""

ENDPOINT_HINTS: Mapping[int, str] = MappingProxyType(
    {
        401: " Check the API key.",
        403: " Check the API key and that it may use this model or endpoint.",
        404: " Check the base URL and the model name.",
    }
)
"""What to check after a refusal from an OpenAI-compatible endpoint."""

NO_HINTS: Mapping[int, str] = MappingProxyType({})
"""For downloads from third-party hosts: no key or model is involved."""


async def request_with_retries(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    provider: str,
    call: str,
    stage: str | None = None,
    policy: RetryPolicy | None = None,
    return_redirects: bool = False,
    pass_statuses: Collection[int] = (),
    hints: Mapping[int, str] = API_HINTS,
) -> httpx.Response:
    """Call ``send`` until it returns a successful response, retrying what is worth retrying.

    ``send`` may open a streamed response (``client.send(request, stream=True)``); a failed
    attempt's response is closed before the next, and the successful one is returned open.
    With ``return_redirects`` a 3xx response is returned too, for callers that follow
    redirects themselves.
    A response whose status is in ``pass_statuses`` (non-retryable ones such as 400 or 422)
    is returned as it is, still open, for the caller to inspect and close. A refusal's
    message ends with what to check, from ``hints`` by status.

    Raises:
        ProviderRateLimitError: still 429 after the last retry.
        ProviderTimeoutError: the last attempt timed out.
        ProviderResponseError: a non-retryable status, or a retryable one after the last retry.
        ProviderError: the connection kept failing.
    """
    return await read_with_retries(
        send,
        _as_it_is,
        provider=provider,
        call=call,
        stage=stage,
        policy=policy,
        return_redirects=return_redirects,
        pass_statuses=pass_statuses,
        hints=hints,
    )


async def _as_it_is(response: httpx.Response) -> httpx.Response:
    return response


async def read_with_retries(
    send: Callable[[], Awaitable[httpx.Response]],
    read: Callable[[httpx.Response], Awaitable[T]],
    *,
    provider: str,
    call: str,
    stage: str | None = None,
    policy: RetryPolicy | None = None,
    return_redirects: bool = False,
    pass_statuses: Collection[int] = (),
    hints: Mapping[int, str] = API_HINTS,
) -> T:
    """As :func:`request_with_retries`, with reading the body part of each attempt.

    ``read`` gets each accepted response (and closes it when it is done with it); a body that
    breaks off or times out mid-way is retried like a failed connection.
    """

    async def attempt() -> T:
        try:
            response = await send()
            status = response.status_code
            if (
                response.is_success
                or (return_redirects and response.is_redirect)
                or status in pass_statuses
            ):
                return await read(response)
            if not is_retryable_status(status):
                raise await refused_error(
                    response, provider=provider, call=call, stage=stage, hints=hints
                )
            raise RetryableFailure(
                snippet(await body_text(response)),
                kind=Failure.STATUS,
                status_code=status,
                retry_after_s=retry_after_s(response.headers),
            )
        except httpx.TooManyRedirects as error:
            raise ProviderResponseError(
                f"{provider}: {call} was redirected too many times ({error}).",
                provider=provider,
                stage=stage,
                slide_index=current_slide_index(),
            ) from error
        except httpx.ReadTimeout as error:
            # The service has the request and went silent: another attempt starts it over.
            raise RetryableFailure(
                "ReadTimeout: the service accepted the request, then sent nothing for "
                f"{_read_timeout(error)}",
                kind=Failure.STALL,
            ) from error
        except httpx.TimeoutException as error:
            raise RetryableFailure(type(error).__name__, kind=Failure.TIMEOUT) from error
        except httpx.TransportError as error:
            raise RetryableFailure(
                f"{type(error).__name__}: {error}", kind=Failure.CONNECTION
            ) from error

    return await call_with_retries(
        attempt, policy=policy or RetryPolicy(), provider=provider, call=call, stage=stage
    )


def _read_timeout(error: httpx.ReadTimeout) -> str:
    try:
        seconds = error.request.extensions.get("timeout", {}).get("read")
    except RuntimeError:  # no request attached
        seconds = None
    return f"{seconds:g} s" if isinstance(seconds, (int, float)) else "too long"


async def refused_error(
    response: httpx.Response,
    *,
    provider: str,
    call: str,
    stage: str | None = None,
    hints: Mapping[int, str] = API_HINTS,
) -> ProviderResponseError:
    """The error for a refused (non-retryable) response; reads and closes the response."""
    return refusal(
        response.status_code,
        await body_text(response),
        provider=provider,
        call=call,
        stage=stage,
        hints=hints,
    )


def refusal(
    status: int,
    body: str,
    *,
    provider: str,
    call: str,
    stage: str | None = None,
    hints: Mapping[int, str] = API_HINTS,
) -> ProviderResponseError:
    """The error for a request refused with ``status`` and the (already read) ``body``, with
    what to check from ``hints`` (by status)."""
    return ProviderResponseError(
        f"{provider}: {call} was refused with status {status}: {snippet(body)}."
        + hints.get(status, ""),
        status_code=status,
        provider=provider,
        stage=stage,
        slide_index=current_slide_index(),
    )
