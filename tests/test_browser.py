"""Headless Debian Chromium against the real server (one server and one browser for the module):
the search box shows the service's results in mkdocs-material's result list and is driven by the
keyboard; filters are visible chips; counts are honest; the offline fallback and a hung service
say so; the stable-id 404 page. The ticket assistant and the article page: tests/test_browser_assistant.py;
what a person sees (axe-core, geometry, dark mode): tests/test_browser_ui.py."""
from __future__ import annotations

import contextlib
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import browser_kit as kit
from tests.conftest import free_port, get_json, running_server

pytestmark = pytest.mark.skipif(not (kit.CHROMIUM.exists() and kit.CHROMEDRIVER.exists()),
                                reason="needs Debian chromium and chromium-driver (scripts/test installs them)")


@pytest.fixture(scope="module")
def live(real_settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    index_root = tmp / "index"
    shutil.copytree(real_settings.index_path, index_root)
    with running_server(real_settings, tmp, index_root, token="browser-token") as base:
        yield base


@pytest.fixture
def page(browser, live):
    """The home page, fresh: no recent searches, desktop size, light."""
    kit.set_viewport(browser, kit.DESKTOP)
    kit.load(browser, live + "/")
    browser.execute_script("localStorage.clear(); sessionStorage.clear();")
    kit.load(browser, live + "/")
    return browser


def _results(driver) -> list[dict]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-kb-results] > li')).map(function (li) {"
        "  var a = li.querySelector('a'); return {id: li.getAttribute('data-kb-article'), text: li.innerText,"
        "  href: a && a.href, weak: li.classList.contains('kb-result--weak'),"
        "  marks: li.querySelectorAll('h1 mark, .kb-snippet mark').length}; });")


def _status(driver) -> str:
    return driver.find_element("css selector", "[data-kb-status]").text


def _csp_violations(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_results_are_materials_result_items_with_highlights_and_deep_links(page):
    kit.open_search(page, "manifestLoadError")
    first = _results(page)[0]
    assert first["id"] == "FAQ-PLAYER-001" and "faq" in first["text"] and "playback" in first["text"]
    assert first["marks"] >= 1
    url = urlsplit(first["href"])
    assert "/playback/" in url.path and url.fragment and parse_qs(url.query)["h"] == ["manifestLoadError"]
    classes = page.execute_script(
        "var li = document.querySelector('[data-kb-results] > li');"
        "return [li.className, li.querySelector('a').className, li.querySelector('article').className,"
        "        li.closest('[data-md-component]').getAttribute('data-md-component')];")
    assert classes == ["md-search-result__item", "md-search-result__link", "md-search-result__article md-typeset",
                       "search-result"]
    # material's own list and count are hidden while ours is shown
    assert page.execute_script(
        "return getComputedStyle(document.querySelector('.md-search-result__list:not(.kb-results)')).display") == "none"
    assert _csp_violations(page) == []


def test_count_is_the_number_of_matches_and_weak_matches_look_different(page, live):
    kit.open_search(page, "manifestLoadError")
    results = _results(page)
    matched = get_json(live + "/api/search?q=manifestLoadError")[1]["matched_articles"]
    n = len(results)   # the box states the API's real count next to what it shows
    expected = (f"{matched} articles match — showing the {n} best; add words or a filter to narrow them"
                if matched > n else f"{n} closest articles ({matched} contain your words)" if matched < n
                else f"{n} articles match")
    assert 0 < n < 10 and matched > 0 and _status(page) == expected
    assert not any(r["weak"] for r in results)
    box = page.find_element("css selector", "[data-md-component=search-query]")
    box.clear()
    box.send_keys("zzqxj")
    kit.wait(page, lambda d: "No confident match" in _status(d))
    weak = page.find_element("css selector", "[data-kb-status]")
    assert "kb-search__status--weak" in weak.get_attribute("class")
    assert all(r["weak"] for r in _results(page))
    colours = page.execute_script(
        "var s = getComputedStyle(document.querySelector('[data-kb-status]'));"
        "var b = getComputedStyle(document.querySelector('.kb-result--weak article'));"
        "return [s.backgroundColor, b.borderLeftStyle];")
    assert colours[0] not in ("rgba(0, 0, 0, 0)", "transparent") and colours[1] == "dashed"


def test_area_filter_is_a_visible_chip_with_search_all_areas(page):
    from selenium.webdriver.support.ui import Select

    kit.open_search(page, "license 6007")
    Select(page.find_element("css selector", "[data-kb-area]")).select_by_value("upload")
    kit.wait(page, lambda d: d.find_elements("css selector", "[data-kb-chips] .kb-chip"))
    chips = [c.text for c in page.find_elements("css selector", "[data-kb-chips] .kb-chip")]
    assert chips == ["Area: Upload ✕", "Search all areas"]
    assert all(r["id"].startswith(("FAQ-UPLOAD", "RB-UPLOAD")) for r in _results(page))
    page.find_element("css selector", ".kb-chip--all").click()
    kit.wait(page, lambda d: any(r["id"] == "FAQ-DRM-001" for r in _results(d)))
    assert page.find_elements("css selector", "[data-kb-chips] .kb-chip") == []
    # typed tag:NAME filters by tag and shows as a chip too
    box = page.find_element("css selector", "[data-md-component=search-query]")
    box.send_keys(" tag:widevine")
    kit.wait(page, lambda d: "Tag: widevine ✕" in [c.text for c in d.find_elements("css selector", ".kb-chip")])
    kit.wait(page, lambda d: [r["id"] for r in _results(d)] == ["FAQ-DRM-001"])


def test_keyboard_down_moves_a_visible_selection_enter_opens_it_esc_closes(page):
    from selenium.webdriver.common.keys import Keys

    kit.open_search(page, "error")
    assert len(_results(page)) >= 2
    kit.press(page, Keys.ARROW_DOWN, Keys.ARROW_DOWN)
    focused = page.execute_script(
        "var a = document.activeElement, links = Array.from(document.querySelectorAll('[data-kb-results] a[href]'));"
        "var r = a.getBoundingClientRect(), w = document.querySelector('.md-search__scrollwrap').getBoundingClientRect();"
        "return {index: links.indexOf(a), href: a.href,"
        "        bg: getComputedStyle(a).backgroundColor, bar: getComputedStyle(a).boxShadow,"
        "        inside: r.top >= w.top - 1 && r.bottom <= w.bottom + 1 && r.bottom <= innerHeight};")
    assert focused["index"] == 1 and focused["inside"]   # the second link: Down walks every visible link
    assert focused["bar"] != "none"   # the selection is visible: a bar, and material's background (after its transition)
    kit.wait(page, lambda d: d.execute_script("return getComputedStyle(document.activeElement).backgroundColor")
             not in ("rgba(0, 0, 0, 0)", "transparent"), timeout=3)
    kit.press(page, Keys.TAB)                                       # Tab moves on, the dialog stays open
    assert page.execute_script("return document.getElementById('__search').checked")
    kit.press(page, Keys.TAB, modifier=Keys.SHIFT)
    assert page.execute_script("return document.activeElement.href") == focused["href"]
    kit.press(page, Keys.ENTER)
    kit.wait(page, lambda d: d.current_url == focused["href"])
    kit.open_search(page, "error")
    kit.press(page, Keys.ESCAPE)
    kit.wait(page, lambda d: not d.execute_script("return document.getElementById('__search').checked"))


def test_enter_typed_before_results_arrive_opens_the_first_result(page):
    from selenium.webdriver.common.keys import Keys

    kit.press(page, "/")
    box = page.find_element("css selector", "[data-md-component=search-query]")
    kit.wait(page, lambda d: d.execute_script("return document.activeElement === arguments[0]", box))
    box.send_keys("shaka 6007" + Keys.ENTER)
    kit.wait(page, lambda d: "/drm/" in d.current_url)
    assert "h=shaka+6007" in page.current_url
    # the opened page highlights the terms (mkdocs-material's search.highlight reads ?h=)
    kit.wait(page, lambda d: d.execute_script("return document.querySelectorAll('.md-content mark').length") > 0)


def test_recent_searches_show_on_an_empty_box(page, live):
    kit.open_search(page, "manifestLoadError")
    page.find_element("css selector", "[data-kb-results] a").click()
    kit.wait(page, lambda d: "/playback/" in d.current_url)
    kit.load(page, live + "/")
    from selenium.webdriver.common.keys import Keys

    kit.press(page, "k", modifier=Keys.CONTROL)
    kit.wait(page, lambda d: _status(d) == "Recent searches")
    recent = page.find_element("css selector", "[data-kb-recent]")
    assert recent.text == "manifestLoadError"
    kit.press(page, Keys.ARROW_DOWN, Keys.ENTER)
    kit.wait(page, lambda d: any(r["id"] == "FAQ-PLAYER-001" for r in _results(d)))


def test_unknown_and_miscased_stable_ids(page, live):
    kit.load(page, live + "/id/faq-drm-001/#resolution")
    kit.wait(page, lambda d: "/drm/" in d.current_url and d.current_url.endswith("#resolution"))
    kit.load(page, live + "/id/NOPE-404/")
    box = kit.wait(page, lambda d: d.find_element("css selector", "[data-kb-notfound]"))
    kit.wait(page, lambda d: "No article has the id “NOPE-404”" in box.text)
    box.find_element("css selector", "button").click()
    kit.wait(page, lambda d: d.find_elements("css selector", "[data-kb-results] > li") or "No results" in _status(d))
    assert _csp_violations(page) == []


@contextlib.contextmanager
def _static_site(site_dir: Path, hang_api: bool = False):
    """The built site without the search service; with ``hang_api`` the API paths accept the
    connection and never answer (until the block ends)."""
    release = threading.Event()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(site_dir), **kwargs)

        def do_GET(self):   # noqa: N802 - http.server's name
            if hang_api and self.path.startswith(("/api/", "/readyz")):
                release.wait(60)
                return
            super().do_GET()

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_search_falls_back_visibly_when_the_api_is_unreachable(browser, real_settings):
    with _static_site(Path(real_settings.site_dir)) as base:
        kit.load(browser, base + "/")
        kit.open_search_box(browser).send_keys("license")
        notice = browser.find_element("css selector", "[data-kb-fallback]")
        kit.wait(browser, lambda d: notice.is_displayed())
        assert "unreachable" in notice.text and "offline search" in notice.text
        kit.wait(browser, lambda d: d.find_elements("css selector", ".md-search-result__list:not(.kb-results) li"))


def test_a_hung_service_times_out_and_says_so(browser, real_settings):
    with _static_site(Path(real_settings.site_dir), hang_api=True) as base:
        kit.load(browser, base + "/")
        kit.open_search_box(browser).send_keys("license")
        notice = browser.find_element("css selector", "[data-kb-fallback]")
        kit.wait(browser, lambda d: notice.is_displayed(), timeout=12)
        assert "did not answer within 4 s" in notice.text
        kit.load(browser, base + "/assistant/")
        browser.find_element("css selector", "textarea[name=body]").send_keys("shaka error 6007")
        browser.find_element("css selector", "[data-kb-assistant-form] button[type=submit]").click()
        status = browser.find_element("css selector", "[data-kb-assistant-status]")
        kit.wait(browser, lambda d: "did not answer within 8 s" in status.text, timeout=15)
        assert not browser.find_elements("css selector", "[data-kb-link]")


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
    before = get_json(live + "/api/reports")[1]
    (tmp_path / "index.html").write_text(ATTACK_PAGE.replace("TARGET", repr(live)), encoding="utf-8")
    with _static_site(tmp_path) as other_origin:
        browser.get(other_origin + "/")
        kit.wait(browser, lambda d: len(d.execute_script("return window.results")) == 2)
        assert browser.execute_script("return window.results") == ["text/plain opaque", "application/json opaque"]
    status, report = get_json(live + "/api/reports")
    assert status == 200 and report["suggestion_requests"] == before["suggestion_requests"]
    assert "ZD-666" not in report["knowledge_gaps"]
    assert get_json(live + "/api/search?q=6007")[0] == 200   # the server is up and answering


def test_a_dns_rebound_name_gets_no_api_answer(live):
    """DNS rebinding: a name the attacker controls resolves to 127.0.0.1, so its page is same-origin with
    the API. Chromium maps evil.test to 127.0.0.1 here; the service refuses that Host with a JSON 400."""
    import json

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    port = urlsplit(live).port
    options = webdriver.ChromeOptions()
    options.binary_location = str(kit.CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--host-resolver-rules=MAP evil.test 127.0.0.1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(kit.CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.get(f"http://evil.test:{port}/api/links?limit=5")
        body = json.loads(driver.find_element("tag name", "body").text)
        assert body["error"]["code"] == "host_not_allowed"
        driver.get(f"http://evil.test:{port}/")
        assert "host_not_allowed" in driver.find_element("tag name", "body").text
    finally:
        driver.quit()
