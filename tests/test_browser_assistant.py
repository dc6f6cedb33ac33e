"""Headless Debian Chromium against the real server (writes enabled; one server and one browser for
the module): the ticket assistant as a workspace (copy links, link / unlink with the outcome beside
the button, existing links marked, token in a visible field, Ctrl+Enter) and the article page
(linked tickets list, copy stable URL, error-code chips to the index's anchors, the index filter)."""
from __future__ import annotations

import shutil

import pytest

from tests import browser_kit as kit
from tests.conftest import get_json, running_server

pytestmark = pytest.mark.skipif(not (kit.CHROMIUM.exists() and kit.CHROMEDRIVER.exists()),
                                reason="needs Debian chromium and chromium-driver (scripts/test installs them)")
TOKEN = "browser-token"


@pytest.fixture(scope="module")
def live(real_settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-assistant")
    index_root = tmp / "index"
    shutil.copytree(real_settings.index_path, index_root)
    with running_server(real_settings, tmp, index_root, token=TOKEN) as base:
        yield base


@pytest.fixture(scope="module")
def browser(live):
    driver = kit.make_driver(kit.DESKTOP)
    driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": live, "permissions": [
        "clipboardReadWrite", "clipboardSanitizedWrite"]})
    yield driver
    driver.quit()


def _clipboard(driver) -> str:
    return driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, function (e) { done('error: ' + e); });")


def _card(driver, article_id: str):
    return driver.find_element("css selector", f"[data-kb-suggestion='{article_id}']")


def _outcome_beside(driver, card) -> dict:
    return driver.execute_script(
        "var b = arguments[0].querySelector('[data-kb-link]'), o = arguments[0].querySelector('.kb-card__outcome');"
        "var rb = b.getBoundingClientRect(), ro = o.getBoundingClientRect();"
        "return {text: o.textContent, near: ro.top - rb.top < 60 && ro.top >= rb.top - 5, dy: ro.top - rb.top, dx: ro.left - rb.left,"
        "        visible: ro.top >= 0 && ro.bottom <= innerHeight && ro.right <= innerWidth};", card)


def _links(live: str, ticket: str) -> list[str]:
    status, body = get_json(f"{live}/api/links?ticket_id={ticket}")
    assert status == 200
    return [f"{link['article_id']}#{link['anchor']}" for link in body["links"]]


def test_assistant_links_and_unlinks_with_the_outcome_beside_the_button(browser, live):
    from selenium.webdriver.common.keys import Keys

    kit.load(browser, live + "/assistant/")
    browser.execute_script("sessionStorage.clear()")
    kit.load(browser, live + "/assistant/")
    token = browser.find_element("css selector", "input[name=api_token]")
    kit.wait(browser, lambda d: d.execute_script("return !!(window.kbAuth && window.kbAuth.signedIn())"))
    kit.ask_assistant(browser, "ZD-4242")
    card = _card(browser, "FAQ-DRM-001")
    assert browser.find_elements("css selector", "[data-kb-suggestion]")[0] == card
    assert "6007" in card.text and "Matched identifiers" in card.text
    button = card.find_element("css selector", "[data-kb-link]")
    assert button.text == "Link to ticket"
    assert not token.is_displayed()           # auth none on loopback: the local user links, no token (issue 19)
    button.click()
    kit.wait(browser, lambda d: _outcome_beside(d, card)["text"] == "Linked to ZD-4242.")
    outcome = _outcome_beside(browser, card)
    assert outcome["near"] and outcome["visible"], outcome
    assert button.text == "Unlink" and card.find_element("css selector", ".kb-linked").is_displayed()
    anchor = browser.execute_script("return arguments[0].querySelector('.kb-assistant__open').hash.slice(1)", card)
    assert _links(live, "ZD-4242") == [f"FAQ-DRM-001#{anchor}"]
    # resubmitting (Ctrl+Enter) keeps the linked state: the ticket's links are loaded and marked
    from selenium.webdriver.support import expected_conditions as ec

    browser.find_element("css selector", "textarea[name=body]").send_keys(Keys.CONTROL, Keys.ENTER)
    kit.wait(browser, ec.staleness_of(card))
    kit.wait(browser, lambda d: d.execute_script(
        "var b = document.querySelector(\"[data-kb-suggestion='FAQ-DRM-001'] [data-kb-link]\"); return b && b.textContent;")
        == "Unlink")
    card = _card(browser, "FAQ-DRM-001")
    card.find_element("css selector", "[data-kb-link]").click()
    kit.wait(browser, lambda d: _outcome_beside(d, card)["text"] == "Unlinked from ZD-4242.")
    assert _links(live, "ZD-4242") == []
    assert not card.find_element("css selector", ".kb-linked").is_displayed()


def test_assistant_copies_stable_and_markdown_links(browser, live):
    kit.load(browser, live + "/assistant/")
    kit.ask_assistant(browser, "ZD-77")
    card = _card(browser, "FAQ-DRM-001")
    title = card.find_element("css selector", ".kb-assistant__open")
    href = title.get_attribute("href")
    anchor = href.split("#", 1)[1]
    stable = f"{live}/id/FAQ-DRM-001/#{anchor}"
    buttons = card.find_elements("css selector", ".kb-card__actions button")
    buttons[0].click()
    kit.wait(browser, lambda d: _clipboard(d) == stable)
    assert card.find_element("css selector", ".kb-card__outcome").text == "Copied: " + stable
    buttons[1].click()
    kit.wait(browser, lambda d: _clipboard(d).endswith(f"]({stable})"))
    assert _clipboard(browser) == f"[{title.text}]({stable})"


def test_assistant_form_is_labelled_bordered_and_monospace(browser, live):
    kit.load(browser, live + "/assistant/")
    fields = browser.execute_script(
        "return Array.from(document.querySelectorAll('[data-kb-assistant-form] input, [data-kb-assistant-form] textarea'))"
        ".map(function (f) { var s = getComputedStyle(f); return {name: f.name,"
        "  label: f.closest('label') ? f.closest('label').querySelector('.kb-field__label').textContent : '',"
        "  border: parseFloat(s.borderTopWidth), style: s.borderTopStyle, font: s.fontFamily}; });")
    by_name = {f["name"]: f for f in fields}
    assert {by_name[n]["label"] for n in ("ticket_id", "subject", "body")} == {"Ticket id", "Subject", "Ticket text"}
    assert all(f["border"] >= 1 and f["style"] == "solid" for f in fields)
    assert "mono" in by_name["body"]["font"].lower()


def test_snippets_read_as_text_and_reasons_do_not_repeat_them(browser, live):
    kit.load(browser, live + "/assistant/")
    html = browser.execute_script(
        "return KB.snippetInto(document.createElement('p'), '| code | meaning |\\n|---|---|\\n| <mark>6007</mark> | expired |').innerHTML")
    assert "|" not in html and "<mark>6007</mark>" in html and "code · meaning" in html
    kit.ask_assistant(browser, "ZD-78")
    repeats = browser.execute_script(
        "return Array.from(document.querySelectorAll('.kb-card')).filter(function (c) {"
        "  var q = c.querySelector('.kb-card__reason'), s = c.querySelector('.kb-snippet');"
        "  return q && s.textContent.indexOf(q.textContent.slice(0, 40)) >= 0; }).length;")
    assert repeats == 0


def test_article_header_counts_copies_and_links_error_codes(browser, live):
    import json
    import urllib.request

    request = urllib.request.Request(f"{live}/api/links", method="POST", data=json.dumps(
        {"ticket_id": "ZD-9001", "article_id": "FAQ-DRM-001", "anchor": "", "source": "manual"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)
    kit.load(browser, live + "/id/FAQ-DRM-001/")
    count = kit.wait(browser, lambda d: d.find_element("css selector", ".kb-ticket-count button"))
    assert count.text == "Linked to 1 ticket"
    count.click()
    kit.wait(browser, lambda d: "ZD-9001" in d.find_element("css selector", ".kb-ticket-list").text)
    header = browser.find_element("css selector", ".kb-meta").text
    assert "Tags" in header and "widevine" in header
    browser.find_element("css selector", ".kb-copy").click()
    kit.wait(browser, lambda d: _clipboard(d) == f"{live}/id/FAQ-DRM-001/")
    chip = browser.find_element("css selector", "a.kb-code-chip")
    assert chip.text == "6007" and chip.get_attribute("href") == f"{live}/error-codes/#6007"
    chip.click()
    kit.wait(browser, lambda d: d.current_url.endswith("/error-codes/#6007"))
    target = browser.find_element("id", "6007")
    assert browser.execute_script("var r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight",
                                  target)


def test_error_code_index_filters(browser, live):
    kit.load(browser, live + "/error-codes/")
    box = browser.find_element("css selector", "[data-kb-code-filter] input")
    assert box.is_displayed()
    box.send_keys("http")
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('.md-typeset table tbody tr')).filter(function (r) {"
        "  return !r.hidden; }).map(function (r) { return r.cells[0].textContent; });")
    assert rows and all("HTTP" in r for r in rows)
    assert browser.find_element("css selector", "[data-kb-code-count]").text.startswith(f"{len(rows)} of ")
    assert [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]] == []
