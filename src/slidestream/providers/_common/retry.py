"""The one retry loop every online provider uses, HTTP or websocket.

An attempt that fails in a way worth retrying raises :class:`RetryableFailure` (the HTTP
adapter and the Edge TTS provider turn their own errors into it). :func:`call_with_retries`
waits and tries again: as long as ``Retry-After`` asks (seconds, an HTTP date, or
``retry-after-ms``), else a capped exponential backoff with jitter. When the attempts run out,
or the failure is not worth retrying, the caller gets one :class:`ProviderError` naming the
provider, the call, the number of attempts and the last status::

    ProviderRateLimitError   still 429
    ProviderTimeoutError     the last attempt timed out, or went silent once too often
    ProviderResponseError    the service answered, but not with what was asked
    ProviderError            the connection kept failing

A service that accepted the request and then went silent past the time limit (a model still
loading, a stalled stream) is a :attr:`Failure.STALL`: another attempt makes the service start
over, so it is retried at most :attr:`RetryPolicy.max_stall_retries` times (once by default).

A throttling answer (429, 503, or any answer with ``Retry-After``) is reported to the limit of
the service the call runs under (:func:`slidestream.report_throttled`), which backs off for
every run sharing it; the wait before any retry is made without holding the call's slot
(:func:`slidestream.sleep_without_slot`), so other slides may use the service meanwhile.

Every retry is logged on the ``slidestream.providers`` logger (level INFO) with the provider,
the call, the attempt, the kind of failure, the status and the wait.

No foreign exception (httpx, aiohttp, websockets) reaches the caller; the original is kept as
``__cause__``.
"""

from __future__ import annotations

import datetime
import email.utils
import enum
import logging
import random
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ..._constants import DEFAULT_MAX_RETRIES, INITIAL_RETRY_DELAY_S, MAX_RETRY_DELAY_S
from ..._context import current_slide_index
from ..._exceptions import (
    ProviderError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from ..._limits import report_throttled, sleep_without_slot

__all__ = [
    "RETRY_STATUSES",
    "THROTTLE_STATUSES",
    "Failure",
    "RetryPolicy",
    "RetryableFailure",
    "call_with_retries",
    "final_error",
    "is_retryable_status",
    "resolve_retry",
    "retry_after_s",
]

RETRY_STATUSES = frozenset({408, 409, 429})
"""Statuses worth another attempt, besides every 5xx."""

THROTTLE_STATUSES = frozenset({429, 503})
"""Statuses that say the service is busy: its limit backs off."""

T = TypeVar("T")

logger = logging.getLogger("slidestream.providers")


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry a provider call.

    Attributes:
        max_retries: attempts after the first one.
        initial_delay_s: the backoff ceiling after the first failed attempt; it doubles
            after each further one.
        max_delay_s: the largest backoff ceiling.
        max_retry_after_s: the longest ``Retry-After`` waited for; a longer ask gives up at once.
        max_stall_retries: attempts after ones where the service accepted the request and then
            went silent past the time limit (each makes the service start over); they count
            towards ``max_retries`` too.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay_s: float = INITIAL_RETRY_DELAY_S
    max_delay_s: float = MAX_RETRY_DELAY_S
    max_retry_after_s: float = 120.0
    max_stall_retries: int = 1

    def backoff_s(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based) when no
        ``Retry-After`` says otherwise: capped exponential backoff with "equal jitter"
        (half fixed, half random), so concurrent clients do not retry in lockstep."""
        ceiling = min(self.max_delay_s, self.initial_delay_s * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def resolve_retry(
    retry: RetryPolicy | None, retry_policy: RetryPolicy | None, *, provider: str
) -> RetryPolicy:
    """``retry``, or the deprecated ``retry_policy`` keyword with a :class:`DeprecationWarning`."""
    if retry_policy is not None:
        warnings.warn(
            f"{provider}: retry_policy= is deprecated; pass retry= instead.",
            DeprecationWarning,
            stacklevel=3,
        )
        if retry is None:
            retry = retry_policy
    return retry or RetryPolicy()


def is_retryable_status(status: int) -> bool:
    """408, 409, 429 and every 5xx are worth another attempt."""
    return status in RETRY_STATUSES or status >= 500


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The wait the headers ask for (``retry-after-ms``, else ``Retry-After`` in seconds or as
    an HTTP date), or ``None``; ``headers`` must look names up case-insensitively."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = _http_date(value)
    return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


def _http_date(value: str) -> datetime.datetime | None:
    """The moment an HTTP date names, or ``None``. HTTP dates are GMT: one that carries no
    zone of its own ("-0000", or the asctime form) is GMT too, never this machine's time."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.timezone.utc)


class Failure(enum.Enum):
    """What kind of failure an attempt ended in; it picks the final error's class."""

    STATUS = "status"
    """The service answered with a status worth retrying (or not)."""
    CONNECTION = "connection"
    """The service could not be reached, or the connection dropped."""
    TIMEOUT = "timeout"
    """The attempt took too long before the service accepted it (connecting, queueing)."""
    STALL = "stall"
    """The service accepted the request, then sent nothing for longer than the time limit."""
    RESPONSE = "response"
    """The service answered with something unusable (not worth retrying)."""
    UNEXPECTED = "unexpected"
    """The client library failed in a way it does not document (not worth retrying)."""


class RetryableFailure(Exception):
    """One failed attempt, described for :func:`call_with_retries`.

    Args:
        detail: what went wrong, for the final error message.
        kind: the kind of failure.
        status_code: the HTTP status, when the service answered.
        retry_after_s: how long the service asked us to wait, if it did.
        retryable: whether another attempt may help; by default true for connection
            failures, timeouts and stalls, and for :data:`RETRY_STATUSES` and 5xx statuses.
    """

    def __init__(
        self,
        detail: str,
        *,
        kind: Failure,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.kind = kind
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        if retryable is None:
            retryable = kind in (Failure.CONNECTION, Failure.TIMEOUT, Failure.STALL) or (
                kind is Failure.STATUS
                and status_code is not None
                and is_retryable_status(status_code)
            )
        self.retryable = retryable

    @property
    def throttled(self) -> bool:
        """Whether the service said it is busy (429, 503, or a ``Retry-After``)."""
        return self.kind is Failure.STATUS and (
            self.status_code in THROTTLE_STATUSES or self.retry_after_s is not None
        )


def final_error(
    failure: RetryableFailure, *, provider: str, call: str, stage: str | None, attempts: int
) -> ProviderError:
    """The :class:`ProviderError` that ends a call whose last attempt failed with ``failure``."""
    message = f"{provider}: {call} failed after {attempts} attempt(s)"
    if failure.kind is Failure.STATUS:
        message += f"; last status {failure.status_code}: {failure.detail}"
    elif failure.kind in (Failure.TIMEOUT, Failure.STALL):
        message += f" (timed out: {failure.detail})."
    elif failure.kind is Failure.CONNECTION:
        message += f": could not connect or the connection dropped: {failure.detail}"
    else:
        message += f": {failure.detail}"
    if failure.kind in (Failure.TIMEOUT, Failure.STALL):
        error_class: type[ProviderError] = ProviderTimeoutError
    elif failure.status_code == 429:
        error_class = ProviderRateLimitError
    elif failure.kind in (Failure.STATUS, Failure.RESPONSE):
        error_class = ProviderResponseError
    else:
        error_class = ProviderError
    return error_class(
        message,
        provider=provider,
        stage=stage,
        slide_index=current_slide_index(),
        status_code=failure.status_code,
    )


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    provider: str,
    call: str,
    stage: str | None = None,
) -> T:
    """Await ``attempt()`` until it succeeds, retrying the :class:`RetryableFailure` it raises.

    Any other exception ends the loop at once and reaches the caller as it is.

    Raises:
        ProviderError: the attempts ran out, the failure was not worth retrying, or the
            service asked to wait longer than ``policy.max_retry_after_s`` (see the module
            docstring for the subclasses).
    """
    attempts = stalls = 0
    while True:
        attempts += 1
        try:
            return await attempt()
        except RetryableFailure as failure:
            asked = failure.retry_after_s
            if failure.kind is Failure.STALL:
                stalls += 1
            if failure.throttled:
                report_throttled(asked)
            too_long = asked is not None and asked > policy.max_retry_after_s
            give_up = (
                not failure.retryable
                or attempts > policy.max_retries
                or stalls > policy.max_stall_retries
                or too_long
            )
            if give_up:
                if too_long and asked is not None:
                    failure.detail = _with_wait_note(failure.detail, asked, policy)
                raise final_error(
                    failure, provider=provider, call=call, stage=stage, attempts=attempts
                ) from (failure.__cause__ or failure)
            delay = asked if asked is not None else policy.backoff_s(attempts)
            _log_retry(failure, provider=provider, call=call, attempt=attempts, delay_s=delay)
            await sleep_without_slot(delay)


def _with_wait_note(detail: str, asked_s: float, policy: RetryPolicy) -> str:
    """``detail``, plus why the call gave up at once: the service asked for too long a wait
    (a daily quota used up, a service in maintenance)."""
    note = (
        f"the service asked to wait {_duration(asked_s)}, longer than the "
        f"{policy.max_retry_after_s:g} s this call waits; try again later, or raise "
        "RetryPolicy.max_retry_after_s"
    )
    return f"{detail} ({note})" if detail.strip() else note


def _duration(seconds: float) -> str:
    """``"45 s"``, ``"12 min (720 s)"``, ``"2 h (7200 s)"``."""
    whole = round(seconds)
    if whole < 120:
        return f"{seconds:g} s"
    if whole < 5400:
        return f"{round(whole / 60)} min ({whole} s)"
    return f"{round(whole / 3600)} h ({whole} s)"


def _log_retry(
    failure: RetryableFailure, *, provider: str, call: str, attempt: int, delay_s: float
) -> None:
    status = f" {failure.status_code}" if failure.status_code is not None else ""
    logger.info(
        "%s: %s attempt %d failed (%s%s: %s); retrying in %.2f s",
        provider,
        call,
        attempt,
        failure.kind.value,
        status,
        failure.detail,
        delay_s,
        extra={
            "provider": provider,
            "call": call,
            "attempt": attempt,
            "failure": failure.kind.value,
            "status_code": failure.status_code,
            "retry_after_s": failure.retry_after_s,
        },
    )
