"""Feedback, flags and the review queue as a support engineer and an article owner use them, in headless
Debian Chromium at desktop and phone width against `kb serve` (auth none on loopback: the local user
may do everything): vote and flag a section at the end of an article, vote on a suggestion of the
ticket assistant, then find the flag (its comment redacted) in the owner's queue at /review/ and
resolve it. axe-core finds no serious or critical violation in any of these states; a screenshot
of each is written to ``SCREENSHOT_DIR`` (default: the test's temporary directory) for review."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import browser_kit as kit
from tests.conftest import running_server

pytestmark = [
    pytest.mark.skipif(not (kit.CHROMIUM.exists() and kit.CHROMEDRIVER.exists()),
                       reason="needs Debian chromium and chromium-driver (scripts/test installs them)"),
    pytest.mark.skipif(not kit.AXE.exists(), reason="needs axe-core in build/node (scripts/setup --test installs it)"),
]
SIZES = {"desktop": kit.DESKTOP, "phone": kit.PHONE}


@pytest.fixture(scope="module")
def live(real_settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-feedback")
    index_root = tmp / "index"
    shutil.copytree(real_settings.index_path, index_root)
    # one machine, one caller: the gaps report's k-anonymity rule (gaps_min_callers) is 1 here
    with running_server(real_settings, tmp, index_root, token="", extra_env={"KB_GAPS_MIN_CALLERS": "1"}) as base:
        yield base


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    where = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path_factory.mktemp("feedback-shots"))
    where.mkdir(parents=True, exist_ok=True)
    return where


def _text(driver, selector: str) -> str:
    return driver.execute_script("var n = document.querySelector(arguments[0]); return n ? n.textContent : '';", selector)


def _wait_text(driver, selector: str, part: str) -> None:
    kit.wait(driver, lambda d: part in _text(d, selector))


def _check(driver, shots: Path, name: str) -> None:
    driver.execute_script("return new Promise(function (r) { setTimeout(r, 300); })")
    driver.save_screenshot(str(shots / f"{name}.png"))
    assert kit.axe_violations(driver) == [], name


def _click(driver, selector: str):
    node = driver.find_element("css selector", selector)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", node)
    node.click()
    return node


@pytest.mark.parametrize("size", sorted(SIZES))
def test_engineer_flags_and_owner_resolves(browser, live, shots, size):
    kit.set_viewport(browser, SIZES[size])
    kit.set_scheme(browser, False)
    ticket = f"ZD-{size.upper()}-1"
    # 1. an article: a vote, then a flag on its Resolution section with a comment and a ticket id
    kit.load(browser, live + "/id/FAQ-DRM-001/")
    kit.wait(browser, lambda d: d.find_elements("css selector", "[data-kb-feedback-for] [data-kb-vote=helpful]"))
    _click(browser, "[data-kb-feedback-for] [data-kb-vote=helpful]")
    _wait_text(browser, ".kb-feedback__outcome", "Thank you for the feedback")
    assert browser.find_element("css selector", "[data-kb-vote=helpful]").get_attribute("aria-pressed") == "true"
    _click(browser, "[data-kb-flag]")
    assert browser.find_element("css selector", "[data-kb-flag]").get_attribute("aria-expanded") == "true"
    _click(browser, ".kb-flag input[value=outdated]")
    browser.execute_script("var s = document.querySelector('.kb-flag select'); s.value = 'resolution';")
    browser.find_element("css selector", ".kb-flag textarea").send_keys(f"Step 2 is old; ask ana@example.com ({size})")
    browser.find_element("css selector", ".kb-flag input[type=text]").send_keys(ticket)
    _check(browser, shots, f"{size}-1-article-flag-form")
    _click(browser, ".kb-flag button[type=submit]")
    _wait_text(browser, ".kb-feedback__outcome", "sent to the article's owner")
    assert browser.find_element("css selector", ".kb-flag").is_displayed() is False
    _check(browser, shots, f"{size}-2-article-flag-sent")
    # 2. the ticket assistant: each suggestion has the same controls
    kit.load(browser, live + "/assistant/")
    kit.ask_assistant(browser, ticket_id=ticket)
    kit.wait(browser, lambda d: d.find_elements("css selector", "[data-kb-suggestion] [data-kb-vote=not_helpful]"))
    _click(browser, "[data-kb-suggestion] [data-kb-vote=not_helpful]")
    _wait_text(browser, "[data-kb-suggestion] .kb-feedback__outcome", "the owner will see it")
    _check(browser, shots, f"{size}-3-assistant-voted")
    # 3. the owner's queue: the flag is there, its comment redacted; resolving it
    kit.load(browser, live + "/review/?owner=team-drm")
    kit.wait(browser, lambda d: d.find_elements("css selector", "[data-kb-review-article=FAQ-DRM-001] [data-kb-resolve]"))
    card = _text(browser, "[data-kb-review-article=FAQ-DRM-001]")
    assert "Flag: Outdated" in card and "section #resolution" in card and f"ticket {ticket}" in card
    assert "[email]" in card and "ana@example.com" not in card
    assert browser.find_element("css selector", "#kb-review-owner").get_attribute("value") == "team-drm"
    _check(browser, shots, f"{size}-4-review-queue")
    first = browser.find_element("css selector", "[data-kb-review-article=FAQ-DRM-001] [data-kb-item]")
    item_id = first.get_attribute("data-kb-item")
    _click(browser, f"[data-kb-item='{item_id}'] [data-kb-resolve]")
    _wait_text(browser, f"[data-kb-item='{item_id}']", "Resolved by local")
    _check(browser, shots, f"{size}-5-review-resolved")
    kit.load(browser, live + "/review/?owner=team-nobody")
    _wait_text(browser, "[data-kb-review] [role=status]", "Nothing to review for team-nobody")
    # 4. the knowledge gaps under the queue: a search nobody could answer, and the ticket's identifiers
    kit.load(browser, live + f"/api/search?q=Zqxv+WOBBLEFLANGE+frumious+{size}&area=drm")
    kit.load(browser, live + "/api/search?q=Shaka+error+6007+license+request+failed")
    kit.load(browser, live + "/review/")
    gap = f"[data-kb-gap='zqxv wobbleflange frumious {size}']"
    kit.wait(browser, lambda d: d.find_elements("css selector", gap))
    assert "without a confident match" in _text(browser, gap)
    assert "Area: drm" in _text(browser, "[data-kb-gaps-area=drm]")
    assert "at least 1 person" in _text(browser, "[data-kb-gaps] [role=status]")
    assert "FAQ-DRM-001" in _text(browser, "[data-kb-top='shaka error 6007 license request failed']")
    browser.execute_script("document.querySelector('[data-kb-gaps]').scrollIntoView({block: 'start'})")
    _check(browser, shots, f"{size}-6-knowledge-gaps")


def test_review_page_tells_a_reader_why_it_is_empty(browser, live):
    """A 403 from the API (a reader without the review scope) is explained, not shown as a blank page."""
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "var f = window.fetch; window.fetch = function (u, i) { if (/\\/api\\/(review|gaps)/.test(String(u)))"
        " return Promise.resolve(new Response(JSON.stringify({error: {code: 'forbidden', message: 'x'}}),"
        " {status: 403, headers: {'Content-Type': 'application/json'}})); return f.apply(this, arguments); };")})
    try:
        kit.set_viewport(browser, kit.DESKTOP)
        kit.load(browser, live + "/review/")
        _wait_text(browser, "[data-kb-review] [role=status]", "may not see the review queue")
        _wait_text(browser, "[data-kb-gaps] [role=status]", "may not see the knowledge gaps")
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})


def _post(driver, path: str, body: dict) -> int:
    return driver.execute_async_script(
        "var done = arguments[2]; fetch(arguments[0], {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify(arguments[1])}).then(function (r) { done(r.status); }, function () { done(0); });",
        path, body)


def _fake_reports(driver, status: int, body: dict) -> str:
    import json
    return driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "var f = window.fetch; window.fetch = function (u, i) { if (/\\/api\\/review\\/usage/.test(String(u)))"
        f" return Promise.resolve(new Response({json.dumps(json.dumps(body))}, {{status: {status}, "
        "headers: {'Content-Type': 'application/json'}})); return f.apply(this, arguments); };")})["identifier"]


@pytest.mark.parametrize("size", sorted(SIZES))
def test_dashboard_shows_usage_and_outcomes(browser, live, shots, size):
    """Usage and outcomes on /review/: headline numbers, the per-day chart with its table, the articles
    linked to the most tickets (links to them); light and dark."""
    kit.set_viewport(browser, SIZES[size])
    kit.set_scheme(browser, False)
    kit.load(browser, live + "/review/")
    ticket = {"ticket_id": f"ZD-DASH-{size}", "body": "Shaka error 6007 LICENSE_REQUEST_FAILED on every play"}
    assert _post(browser, "/api/suggest", ticket) == 200
    assert _post(browser, "/api/links", {"ticket_id": ticket["ticket_id"], "article_id": "FAQ-DRM-001",
                                         "anchor": "", "source": "suggested"}) in (200, 201)
    assert _post(browser, "/api/suggest", {"body": f"Zqxv WOBBLEFLANGE frumious gronk {size}"}) == 200   # no confident match
    for dark in (False, True):
        kit.set_scheme(browser, dark)
        kit.load(browser, live + "/review/")
        kit.wait(browser, lambda d: d.find_elements("css selector", "[data-kb-dash-chart] svg rect"))
        numbers = _text(browser, "[data-kb-dash-numbers]")
        assert "Suggestion requests" in numbers and "With a confident match" in numbers and "%" in numbers
        assert "Linked from a suggestion" in numbers
        link = browser.find_element("css selector", "[data-kb-dashboard] table a[href$='/id/FAQ-DRM-001/']")
        assert link.text == "FAQ-DRM-001"
        rows = browser.execute_script("return document.querySelectorAll('.kb-dash__details tbody tr').length")
        assert rows >= 1 and "Requests" in _text(browser, ".kb-dash__details thead")
        assert browser.find_element("css selector", "[data-kb-dash-chart] svg").get_attribute("aria-hidden") == "true"
        unsure = browser.execute_script("return [].map.call(document.querySelectorAll('.kb-dash__bar--unsure'),"
                                        " function (r) { return +r.getAttribute('height'); })")
        assert unsure and unsure[-1] > 0                       # today's bar has a part without a confident match
        browser.execute_script("document.querySelector('[data-kb-dashboard]').scrollIntoView({block: 'start'})")
        _check(browser, shots, f"{size}-7-dashboard-{'dark' if dark else 'light'}")
    kit.set_scheme(browser, False)


def test_dashboard_empty_state_and_forbidden(browser, live, shots):
    """No data yet, and a caller without the review permission (403): both are said in words."""
    empty = {"top_articles": [], "suggestion_requests": 0, "no_confident_match_requests": 0, "tickets_with_suggestions": 0,
             "tickets_linked_from_suggestion": 0, "knowledge_gaps": [], "days": []}
    kit.set_viewport(browser, kit.PHONE)
    for status, body, said, name in ((200, empty, "No data yet", "empty"),
                                     (403, {"error": {"code": "forbidden", "message": "x"}}, "review permission", "403")):
        script = _fake_reports(browser, status, body)
        try:
            kit.load(browser, live + "/review/")
            _wait_text(browser, "[data-kb-dashboard] [role=status]", said)
            assert not browser.find_elements("css selector", "[data-kb-dashboard] svg")
            browser.execute_script("document.querySelector('[data-kb-dashboard]').scrollIntoView({block: 'start'})")
            _check(browser, shots, f"phone-8-dashboard-{name}")
        finally:
            browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script})
