"""Retries shared by the online providers, against a real local HTTP server."""

from __future__ import annotations

import email.utils
import importlib
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from aiohttp import web

import slidestream as ss
from slidestream.providers import RetryPolicy
from slidestream.providers._common.http import create_client, request_with_retries
from slidestream.providers._common.retry import (
    Failure,
    RetryableFailure,
    call_with_retries,
    retry_after_s,
)
from tests.servers._base import serve_app

pytestmark = pytest.mark.anyio
FAST = RetryPolicy(max_retries=3, initial_delay_s=0.01, max_delay_s=0.05)


class Script:
    """Answers requests with a scripted list of (status, headers) and records arrival times."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.times: list[float] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.times.append(time.monotonic())
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        body = {"ok": True} if status == 200 else {"error": {"message": f"status {status}"}}
        return web.json_response(body, status=status, headers=headers)


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def base_url(script: Script) -> Iterator[str]:
    app = web.Application()
    app.router.add_post("/v1/thing", script.handle)
    with serve_app(app) as url:
        yield url


async def call(base_url: str, policy: RetryPolicy = FAST) -> httpx.Response:
    async with create_client(base_url=base_url) as client:
        return await request_with_retries(
            lambda: client.post("/v1/thing", json={}),
            provider="demo",
            call="POST /v1/thing",
            stage="tts",
            policy=policy,
        )


async def test_429_with_retry_after_is_honoured_then_succeeds(
    script: Script, base_url: str
) -> None:
    script.answers = [(429, {"Retry-After": "1"}), (200, {})]
    response = await call(base_url)
    assert response.json() == {"ok": True}
    assert len(script.times) == 2
    assert script.times[1] - script.times[0] >= 0.9


async def test_a_500_storm_ends_in_a_provider_error(script: Script, base_url: str) -> None:
    script.answers = [(500, {})] * 10
    with pytest.raises(ss.ProviderResponseError) as caught:
        await call(base_url)
    error = caught.value
    assert error.status_code == 500 and error.provider == "demo" and error.stage == "tts"
    assert "POST /v1/thing failed after 4 attempt(s); last status 500" in str(error)
    assert len(script.times) == 4
    assert not isinstance(error.__cause__, httpx.HTTPError)


async def test_persistent_429_is_a_rate_limit_error(script: Script, base_url: str) -> None:
    script.answers = [(429, {"retry-after-ms": "10"})] * 10
    with pytest.raises(ss.ProviderRateLimitError, match="last status 429"):
        await call(base_url)


async def test_client_errors_are_not_retried_and_say_what_to_check(
    script: Script, base_url: str
) -> None:
    script.answers = [(401, {})]
    with pytest.raises(ss.ProviderResponseError, match="Check the API key") as caught:
        await call(base_url)
    assert caught.value.status_code == 401 and len(script.times) == 1


async def test_a_retry_after_longer_than_allowed_gives_up_at_once(
    script: Script, base_url: str
) -> None:
    script.answers = [(503, {"Retry-After": "3600"})]
    with pytest.raises(ss.ProviderResponseError, match="after 1 attempt") as caught:
        await call(base_url)
    assert "asked to wait 60 min (3600 s), longer than the 120 s" in str(caught.value)
    assert "try again later" in str(caught.value)


async def test_a_retry_after_date_hours_away_says_how_long_the_wait_would_be(
    script: Script, base_url: str
) -> None:
    later = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(hours=2), True)
    script.answers = [(429, {"Retry-After": later})]
    with pytest.raises(ss.ProviderRateLimitError, match=r"asked to wait 2 h \(7\d{3} s\)"):
        await call(base_url)
    assert len(script.times) == 1


async def test_connection_errors_are_retried_then_reported() -> None:
    with pytest.raises(ss.ProviderError, match=r"failed after 4 attempt.*could not connect") as c:
        await call("http://127.0.0.1:9")
    assert type(c.value) is ss.ProviderError


def test_retry_after_parsing() -> None:
    def headers(**values: str) -> httpx.Headers:
        return httpx.Headers(values)

    assert retry_after_s(headers()) is None
    assert retry_after_s(headers(**{"Retry-After": "2.5"})) == 2.5
    assert retry_after_s(headers(**{"retry-after-ms": "250"})) == 0.25
    assert retry_after_s(headers(**{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after_s(headers(**{"retry-after": "soon"})) is None
    later = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30))
    assert 25 < (retry_after_s(headers(**{"Retry-After": later})) or 0) <= 30


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is hours away from UTC."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
def test_a_retry_after_date_without_a_zone_is_read_as_gmt_whatever_the_local_zone() -> None:
    # HTTP dates are GMT; "-0000" (what email.utils.formatdate() writes) and the asctime form
    # carry no zone of their own, and must not be read as local time.
    when = time.time() + 30
    for date in (
        email.utils.formatdate(when, usegmt=True),
        email.utils.formatdate(when),
        time.asctime(time.gmtime(when)),
    ):
        assert 25 < (retry_after_s(httpx.Headers({"Retry-After": date})) or 0) <= 31, date


ONLINE = [
    "slidestream.providers.script.openai:OpenAIScriptProvider",
    "slidestream.providers.tts.openai:OpenAITTSProvider",
    "slidestream.providers.tts.edge:EdgeTTSProvider",
    "slidestream.providers.images.openverse:OpenverseImages",
    "slidestream.providers.images.wikimedia:WikimediaImages",
    "slidestream.providers.images.pexels:PexelsImages",
    "slidestream.providers.images.unsplash:UnsplashImages",
]


@pytest.mark.parametrize("target", ONLINE)
def test_every_online_provider_takes_retry(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("PEXELS_API_KEY", "key")
    monkeypatch.setenv("UNSPLASH_ACCESS_KEY", "key")
    module, name = target.split(":")
    provider_class = getattr(importlib.import_module(module), name)
    provider = provider_class(retry=FAST)
    assert provider.retry is FAST


@pytest.mark.parametrize("name", ["openai", "openai-tts"])
def test_the_old_retry_policy_keyword_still_works_with_a_warning(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.warns(DeprecationWarning, match=r"retry_policy= is deprecated; pass retry="):
        provider = ss.providers.get(name, retry_policy=FAST)
    assert provider.retry is FAST


def test_backoff_is_capped_exponential_with_jitter() -> None:
    policy = RetryPolicy(initial_delay_s=1.0, max_delay_s=8.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        waits = {policy.backoff_s(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1  # jittered, so concurrent clients spread out


@pytest.mark.parametrize(
    ("failure", "error_class", "attempts"),
    [
        (RetryableFailure("reset", kind=Failure.CONNECTION), ss.ProviderError, 4),
        (RetryableFailure("ReadTimeout", kind=Failure.TIMEOUT), ss.ProviderTimeoutError, 4),
        (
            RetryableFailure("busy", kind=Failure.STATUS, status_code=429),
            ss.ProviderRateLimitError,
            4,
        ),
        (
            RetryableFailure("down", kind=Failure.STATUS, status_code=502),
            ss.ProviderResponseError,
            4,
        ),
        (
            RetryableFailure("bad", kind=Failure.STATUS, status_code=400),
            ss.ProviderResponseError,
            1,
        ),
        (RetryableFailure("odd reply", kind=Failure.RESPONSE), ss.ProviderResponseError, 1),
        (RetryableFailure("KeyError: 'x'", kind=Failure.UNEXPECTED), ss.ProviderError, 1),
    ],
)
async def test_the_retry_loop_retries_what_is_worth_it_and_names_the_outcome(
    failure: RetryableFailure, error_class: type[ss.ProviderError], attempts: int
) -> None:
    calls: list[int] = []

    async def attempt() -> None:
        calls.append(1)
        raise failure

    with pytest.raises(ss.ProviderError) as caught:
        await call_with_retries(attempt, policy=FAST, provider="demo", call="work", stage="tts")
    assert type(caught.value) is error_class
    assert len(calls) == attempts
    assert str(caught.value).startswith(f"demo: work failed after {attempts} attempt(s)")
    assert failure.detail in str(caught.value)
