"""HTTP plumbing shared by the online providers: clients, retries and error mapping.

Retries are narrow: connection errors, timeouts and the statuses in :data:`RETRY_STATUSES`
(408, 409, 429 and 5xx). The wait honours ``Retry-After`` (seconds or an HTTP date) and
``retry-after-ms``, else it is a capped exponential backoff with jitter. When the retries run
out the caller gets a :class:`ProviderError` naming the provider, the call and the last status;
``tenacity.RetryError`` and raw httpx errors never reach users.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from .._constants import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    INITIAL_RETRY_DELAY_S,
    MAX_RETRY_DELAY_S,
)
from .._exceptions import (
    ProviderError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderTimeoutError,
)

__all__ = [
    "RETRY_STATUSES",
    "RetryPolicy",
    "create_client",
    "refused_error",
    "request_with_retries",
    "retry_after_seconds",
]

RETRY_STATUSES = frozenset({408, 409, 429})
_MAX_BODY_IN_ERROR = 300


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry a provider call."""

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay_s: float = INITIAL_RETRY_DELAY_S
    max_delay_s: float = MAX_RETRY_DELAY_S
    max_retry_after_s: float = 120.0
    """The longest ``Retry-After`` we wait for; longer asks give up at once."""

    def backoff_s(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based) when no
        ``Retry-After`` says otherwise: capped exponential backoff with "equal jitter"
        (half fixed, half random), so concurrent clients do not retry in lockstep."""
        ceiling = min(self.max_delay_s, self.initial_delay_s * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def create_client(
    *,
    base_url: str = "",
    headers: dict[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
    follow_redirects: bool = True,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with our timeouts and a ``slidestream`` user agent."""
    from .. import __version__

    return httpx.AsyncClient(
        base_url=base_url,
        headers={"User-Agent": f"slidestream/{__version__}", **(headers or {})},
        timeout=httpx.Timeout(timeout_s, connect=DEFAULT_CONNECT_TIMEOUT_S),
        transport=transport,
        follow_redirects=follow_redirects,
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The wait a response asks for (``retry-after-ms`` or ``Retry-After``), if any."""
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def _is_retryable(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


class _RetryableResponse(Exception):
    def __init__(self, status_code: int, body: str, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.body = body
        self.retry_after = retry_after


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_BODY_IN_ERROR else text[:_MAX_BODY_IN_ERROR] + "..."


async def _body_text(response: httpx.Response) -> str:
    try:
        await response.aread()
        return response.text
    except (httpx.HTTPError, UnicodeDecodeError):
        return ""
    finally:
        await response.aclose()


def _status_hint(status: int) -> str:
    return {
        401: " Check the API key.",
        403: " Check the API key and that it may use this model or endpoint.",
        404: " Check the base URL and the model name.",
    }.get(status, "")


async def request_with_retries(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    provider: str,
    call: str,
    stage: str | None = None,
    policy: RetryPolicy | None = None,
    return_redirects: bool = False,
    pass_statuses: Collection[int] = (),
) -> httpx.Response:
    """Call ``send`` until it returns a successful response, retrying what is worth retrying.

    ``send`` may open a streamed response (``client.send(request, stream=True)``); a failed
    attempt's response is closed before the next, and the successful one is returned open.
    With ``return_redirects`` a 3xx response is returned too, for callers that follow
    redirects themselves.
    A response whose status is in ``pass_statuses`` (non-retryable ones such as 400 or 422)
    is returned as it is, still open, for the caller to inspect and close.

    Raises:
        ProviderRateLimitError: still 429 after the last retry.
        ProviderTimeoutError: the last attempt timed out.
        ProviderResponseError: a non-retryable status, or a retryable one after the last retry.
        ProviderError: the connection kept failing.
    """
    policy = policy or RetryPolicy()
    where: dict[str, Any] = {"provider": provider, "stage": stage}

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _RetryableResponse) and error.retry_after is not None:
            return error.retry_after
        return policy.backoff_s(state.attempt_number)

    def retryable(error: BaseException) -> bool:
        if isinstance(error, _RetryableResponse):
            return error.retry_after is None or error.retry_after <= policy.max_retry_after_s
        return isinstance(error, httpx.TransportError)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_retries + 1),
        wait=wait,
        retry=retry_if_exception(retryable),
        sleep=anyio.sleep,
        reraise=True,
    )
    attempts = 0
    try:
        async for attempt in retrying:
            with attempt:
                attempts += 1
                response = await send()
                if _is_retryable(response.status_code):
                    body = await _body_text(response)
                    raise _RetryableResponse(
                        response.status_code, body, retry_after_seconds(response)
                    )
    except _RetryableResponse as error:
        error_class = ProviderRateLimitError if error.status_code == 429 else ProviderResponseError
        raise error_class(
            f"{provider}: {call} failed after {attempts} attempt(s); last status "
            f"{error.status_code}: {_snippet(error.body)}",
            status_code=error.status_code,
            **where,
        ) from error
    except httpx.TimeoutException as error:
        raise ProviderTimeoutError(
            f"{provider}: {call} timed out after {attempts} attempt(s) ({type(error).__name__}).",
            **where,
        ) from error
    except httpx.TransportError as error:
        raise ProviderError(
            f"{provider}: {call} could not connect after {attempts} attempt(s): "
            f"{type(error).__name__}: {error}",
            **where,
        ) from error
    if (
        response.is_success
        or (return_redirects and response.is_redirect)
        or response.status_code in pass_statuses
    ):
        return response
    raise await refused_error(response, provider=provider, call=call, stage=stage)


async def refused_error(
    response: httpx.Response, *, provider: str, call: str, stage: str | None = None
) -> ProviderResponseError:
    """The error for a refused (non-retryable) response; reads and closes the response."""
    body = await _body_text(response)
    return ProviderResponseError(
        f"{provider}: {call} was refused with status {response.status_code}: {_snippet(body)}."
        + _status_hint(response.status_code),
        status_code=response.status_code,
        provider=provider,
        stage=stage,
    )
