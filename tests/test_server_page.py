"""The web page in a real browser: a deck submitted, slides shown as they complete, downloads.

Headless Chromium (Debian's ``chromium``) is driven through playwright; the test is skipped,
saying why, when no Chromium is installed (``.ci/run`` installs it). Set
``SLIDESTREAM_SCREENSHOT=docs/service-page.png`` to refresh the screenshot in the docs.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests._server_helpers import parse_sse, serve

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (apt-get install chromium)")
def test_the_page_makes_a_deck_and_shows_slides_as_they_complete(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    options = ("--option", "test-tts.latency=0.4", "--option", "test-tts.tone=true")
    options += ("--option", "test-script.words_per_slide=8", "--max-concurrent-tts", "2")
    with serve(tmp_path / "decks", *options) as (url, _process), sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url + "/")
            page.wait_for_selector("#tts option[value=test-tts]", state="attached")
            page.fill("#topic", "How volcanoes shape islands")
            page.fill("#slides", "5")
            page.click("#go")
            page.wait_for_selector("#downloads a[data-kind=mp4]", timeout=60_000)
            deck_id = page.evaluate("new URLSearchParams(location.search).get('deck')")

            shown = page.eval_on_selector_all(
                "#slides-done li", "cards => cards.map(c => +c.dataset.index)"
            )
            events = parse_sse(httpx.get(f"{url}/v1/decks/{deck_id}/events").text)
            completed = [e["data"]["index"] for e in events if e["event"] == "slide"]
            assert shown == completed  # cards appear in the order slides completed
            assert page.inner_text("#state") == "complete"
            assert page.inner_text("#counts") == "5 of 5 slides complete"

            ready = page.evaluate(
                """async () => {
                    const audio = document.querySelector('#slides-done audio');
                    audio.muted = true;
                    await audio.play();
                    for (let i = 0; i < 100 && audio.readyState < 2; i++)
                        await new Promise(r => setTimeout(r, 50));
                    return audio.readyState;
                }"""
            )
            assert ready >= 2
            kinds = page.eval_on_selector_all(
                "#downloads a", "links => links.map(a => a.dataset.kind)"
            )
            assert {"mp4", "pptx", "mp3", "srt"} <= set(kinds)
            href = page.get_attribute("#downloads a[data-kind=pptx]", "href")
            assert httpx.get(url + href).content[:2] == b"PK"
            page.wait_for_function(
                "document.querySelectorAll('#slides-done img.frame[src]').length === 5"
            )
            page.wait_for_function("document.querySelector('#preview').readyState >= 2")
            assert errors == []
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            target = os.environ.get("SLIDESTREAM_SCREENSHOT")
            if target:
                page.screenshot(path=target, full_page=True)
        finally:
            browser.close()


def _launch(pw):  # type: ignore[no-untyped-def]
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (apt-get install chromium)")
def test_a_deck_already_underway_previews_from_slide_1_without_console_errors(
    tmp_path: Path,
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    options = ("--option", "test-tts.latency=0.8", "--option", "test-script.words_per_slide=6")
    options += ("--max-concurrent-tts", "1")
    with serve(tmp_path / "decks", *options) as (url, _process), sync_api.sync_playwright() as pw:
        job = httpx.post(
            f"{url}/v1/decks", json={"topic": "Tides", "slides": 10, "video": False}
        ).json()
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}{job['links']['live']}").text.count("#EXTINF") < 6:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        browser = _launch(pw)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{url}{job['links']['page']}")
            page.wait_for_function("document.querySelector('#preview').readyState >= 2")
            assert page.evaluate("state.hls.levels[0].details.live")  # still growing
            # Players join a growing playlist at its live edge unless it says where to start.
            assert page.evaluate("document.querySelector('#preview').currentTime") < 1
            page.wait_for_selector("#state.complete", timeout=60_000)
            assert errors == []
        finally:
            browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (apt-get install chromium)")
def test_the_page_recovers_from_a_refused_event_stream_and_names_a_missing_deck(
    tmp_path: Path,
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    options = ("--option", "test-tts.latency=0.2", "--option", "test-script.words_per_slide=4")
    with serve(tmp_path / "decks", *options) as (url, _process), sync_api.sync_playwright() as pw:
        job = httpx.post(
            f"{url}/v1/decks", json={"topic": "Dunes", "slides": 2, "video": False}
        ).json()
        browser = _launch(pw)
        try:
            page = browser.new_page()
            answered: list[int] = []

            def proxy(route) -> None:  # type: ignore[no-untyped-def]
                # A reverse proxy answers 502 while the server restarts: EventSource gives up.
                if not answered:
                    answered.append(502)
                    route.fulfill(status=502, body="Bad gateway", content_type="text/html")
                else:
                    answered.append(200)
                    route.continue_()

            page.route("**/events*", proxy)
            page.goto(f"{url}{job['links']['page']}")
            page.wait_for_selector("#state.complete", timeout=30_000)
            page.wait_for_function("document.querySelector('#counts').textContent.startsWith('2')")
            assert page.inner_text("#counts") == "2 of 2 slides complete"
            assert answered[:2] == [502, 200]
            assert page.inner_text("#run-error") == ""

            page.unroute("**/events*")
            page.goto(f"{url}/?deck=0123456789abcdef")
            page.wait_for_function("document.querySelector('#run-error').textContent !== ''")
            assert "0123456789abcdef" in page.inner_text("#run-error")
            assert page.inner_text("#state") != "queued"
        finally:
            browser.close()
