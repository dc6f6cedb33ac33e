"""Headless Debian Chromium against the real server: the search box uses the API, falls back to the
built-in search when the API is missing, and the ticket assistant links an article to a ticket."""
from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from tests.conftest import free_port, get_json, running_server

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                                reason="needs Debian chromium and chromium-driver (scripts/test installs them)")


@pytest.fixture(scope="module")
def browser():
    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def live(real_settings, tmp_path_factory):
    """A fresh production server per test (isolation: one test's traffic cannot affect the next)."""
    tmp = tmp_path_factory.mktemp("browser")
    index_root = tmp / "index"
    shutil.copytree(real_settings.index_path, index_root)
    with running_server(real_settings, tmp, index_root, token="browser-token") as base:
        yield base


def _wait(driver, condition, timeout: float = 15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _open_search(driver):
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, "[data-md-component=search-query]")
    _wait(driver, lambda d: box.is_displayed())
    box.click()
    return box


def _csp_violations(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_search_box_queries_the_api(browser, live):
    from selenium.webdriver.common.by import By

    browser.get(live + "/")
    _open_search(browser).send_keys("manifestLoadError")
    _wait(browser, lambda d: "FAQ-PLAYER-001" in d.find_element(By.CSS_SELECTOR, "[data-kb-results]").text)
    first = browser.execute_script(
        "var li = document.querySelector('[data-kb-results] li');"
        "return {text: li.innerText, marks: li.querySelectorAll('.kb-search__snippet mark').length,"
        "        href: li.querySelector('a').href};")
    assert "FAQ-PLAYER-001" in first["text"] and "faq" in first["text"] and "playback" in first["text"]
    assert first["marks"] >= 1 and "/playback/" in first["href"] and "#" in first["href"]
    assert not browser.find_element(By.CSS_SELECTOR, "[data-kb-search]").get_attribute("hidden")
    assert browser.find_element(By.CSS_SELECTOR, "[data-kb-fallback]").get_attribute("hidden")
    area = browser.find_element(By.CSS_SELECTOR, "[data-kb-area]")
    from selenium.webdriver.support.ui import Select

    Select(area).select_by_value("drm")
    _wait(browser, lambda d: d.execute_script(
        "var items = Array.from(document.querySelectorAll('[data-kb-results] li'));"
        "return items.length > 0 && items.every(function (li) { return li.innerText.indexOf('drm') >= 0; });"))
    assert _csp_violations(browser) == []


@contextlib.contextmanager
def _static_site(site_dir: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site_dir))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_search_falls_back_visibly_when_the_api_is_unreachable(browser, real_settings):
    from selenium.webdriver.common.by import By

    with _static_site(Path(real_settings.site_dir)) as base:   # the site without the search service
        browser.get(base + "/")
        _open_search(browser).send_keys("license")
        notice = browser.find_element(By.CSS_SELECTOR, "[data-kb-fallback]")
        _wait(browser, lambda d: notice.is_displayed())
        assert "unreachable" in notice.text
        assert browser.find_element(By.CSS_SELECTOR, "[data-kb-search]").get_attribute("hidden")
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item"))  # built-in results


def test_ticket_assistant_suggests_and_links(browser, live):
    from selenium.webdriver.common.by import By

    browser.get(live + "/assistant/")
    browser.find_element(By.CSS_SELECTOR, "input[name=ticket_id]").send_keys("ZD-4242")
    browser.find_element(By.CSS_SELECTOR, "textarea[name=body]").send_keys(
        "Hi,\nour Chrome users get shaka error 6007 when starting protected videos.\nThanks, Tom")
    browser.find_element(By.CSS_SELECTOR, "[data-kb-assistant-form] button").click()
    item = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-kb-suggestion]"))[0]
    assert item.get_attribute("data-kb-suggestion") == "FAQ-DRM-001"
    assert "6007" in item.text and "Matched identifiers" in item.text
    item.find_element(By.CSS_SELECTOR, "[data-kb-link]").click()   # auth none: the local user, no token asked
    button = item.find_element(By.CSS_SELECTOR, "[data-kb-link]")
    _wait(browser, lambda d: "Linked" in button.text)
    status, body = get_json(live + "/api/links?ticket_id=ZD-4242")
    assert status == 200 and [l["article_id"] for l in body["links"]] == ["FAQ-DRM-001"]
    assert body["links"][0]["agent"] == "local"
    href = item.find_element(By.CSS_SELECTOR, ".kb-assistant__open").get_attribute("href")
    browser.get(href)
    count = browser.find_element(By.CSS_SELECTOR, ".kb-ticket-count")
    _wait(browser, lambda d: count.is_displayed())
    assert count.text == "Linked to 1 ticket"
    assert _csp_violations(browser) == []


ATTACK_PAGE = """<!doctype html><meta charset="utf-8"><title>another site</title><script>
window.results = [];
function send(type, body) {
  return fetch(TARGET + "/api/suggest", {method: "POST", mode: "no-cors", headers: {"Content-Type": type}, body: body})
    .then(function (r) { results.push(type + " " + r.type); }, function (e) { results.push(type + " error " + e); });
}
send("text/plain", "Shaka error 6007 since today")
  .then(function () { return send("application/json", JSON.stringify({ticket_id: "ZD-666", body: "Shaka error 6007"})); });
</script>"""


def test_a_page_on_another_origin_cannot_write_suggestions(browser, live, tmp_path):
    """Issue 17 item 10: any web page an employee visits could write into the suggestion log with a
    no-cors fetch (text/plain is a body a page may send anywhere without asking). Here a page on
    another 127.0.0.1 port (same site, other origin) tries both content types; the browser sends both
    (each fetch resolves with an opaque response), the service records neither."""
    (tmp_path / "index.html").write_text(ATTACK_PAGE.replace("TARGET", repr(live)), encoding="utf-8")
    with _static_site(tmp_path) as other_origin:
        browser.get(other_origin + "/")
        _wait(browser, lambda d: len(d.execute_script("return window.results")) == 2)
        assert browser.execute_script("return window.results") == ["text/plain opaque", "application/json opaque"]
    status, report = get_json(live + "/api/reports")
    assert status == 200 and report["suggestion_requests"] == 0 and report["tickets_with_suggestions"] == 0
    status, _ = get_json(live + "/api/search?q=6007")   # the server is up and answering
    assert status == 200


def test_a_dns_rebound_name_gets_no_api_answer(live):
    """DNS rebinding: a name the attacker controls resolves to 127.0.0.1, so its page is same-origin with
    the API. Chromium maps evil.test to 127.0.0.1 here; the service refuses that Host with a JSON 400."""
    import json as json_module
    from urllib.parse import urlsplit

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    port = urlsplit(live).port
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--host-resolver-rules=MAP evil.test 127.0.0.1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.get(f"http://evil.test:{port}/api/links?limit=5")
        body = json_module.loads(driver.find_element(By.TAG_NAME, "body").text)
        assert body["error"]["code"] == "host_not_allowed"
        driver.get(f"http://evil.test:{port}/")
        assert "host_not_allowed" in driver.find_element(By.TAG_NAME, "body").text
    finally:
        driver.quit()
