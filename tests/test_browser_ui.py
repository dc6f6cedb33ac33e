"""What a person sees, in headless Debian Chromium at 1400x900 and 390x844, light and dark (the OS
preference emulated over CDP): axe-core finds no serious or critical violation (colour contrast
included) on the pages support engineers use; the search results panel is opaque and scrolls to
its last result; the assistant's first suggestion is visible without scrolling. One server (writes
disabled, as by default) and one browser for the module."""
from __future__ import annotations

import shutil

import pytest

from tests import browser_kit as kit
from tests.conftest import running_server

pytestmark = [
    pytest.mark.skipif(not (kit.CHROMIUM.exists() and kit.CHROMEDRIVER.exists()),
                       reason="needs Debian chromium and chromium-driver (scripts/test installs them)"),
    pytest.mark.skipif(not kit.AXE.exists(), reason="needs axe-core in build/node (scripts/setup --test installs it)"),
]
SIZES = {"desktop": kit.DESKTOP, "phone": kit.PHONE}
SEARCH_QUERY = "error"   # matches every article of the fixture KB


@pytest.fixture(scope="module")
def live(real_settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-ui")
    index_root = tmp / "index"
    shutil.copytree(real_settings.index_path, index_root)
    with running_server(real_settings, tmp, index_root, token="") as base:   # writes disabled
        yield base


def _open_flag_form(driver) -> None:
    """The feedback box at the end of an article (feedback.js), with its flag form open."""
    kit.wait(driver, lambda d: d.find_elements("css selector", "[data-kb-flag]"))
    driver.execute_script("document.querySelector('[data-kb-flag]').click();")


STATES = {   # name → (path, action after load)
    "home": ("/", None),
    "article": ("/id/FAQ-DRM-001/", None),
    "search-results": ("/", lambda d: kit.open_search(d, SEARCH_QUERY)),
    "search-weak": ("/", lambda d: kit.open_search(d, "zzqxj")),
    "assistant-results": ("/assistant/", lambda d: kit.ask_assistant(d)),
    "article-flag-form": ("/id/FAQ-DRM-001/", lambda d: _open_flag_form(d)),
    "review-queue": ("/review/", lambda d: kit.wait(d, lambda d2: d2.execute_script(
        "var s = document.querySelector('[data-kb-review] [role=status]'); return s && s.textContent !== 'Loading…';"))),
    "error-codes": ("/error-codes/", None),
    "area": ("/drm/", None),
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", sorted(SIZES))
def test_no_serious_or_critical_accessibility_violations(browser, live, size, scheme):
    kit.set_viewport(browser, SIZES[size])
    kit.set_scheme(browser, scheme == "dark")
    found = {}
    for name, (path, action) in STATES.items():
        kit.load(browser, live + path)
        if action:
            action(browser)
        browser.execute_script("return new Promise(function (r) { setTimeout(r, 450); })")   # the dialog's fade-in
        violations = kit.axe_violations(browser)
        if violations:
            found[name] = violations
    assert found == {}


def test_dark_mode_follows_the_os_preference(browser, live):
    kit.set_viewport(browser, kit.DESKTOP)
    for dark, scheme in ((True, "slate"), (False, "default")):
        kit.set_scheme(browser, dark)
        kit.load(browser, live + "/")
        assert browser.execute_script("return document.body.getAttribute('data-md-color-scheme')") == scheme
    kit.set_scheme(browser, True)
    kit.load(browser, live + "/")
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert sum(int(c) for c in background[background.index("(") + 1:-1].split(",")[:3]) < 3 * 80
    kit.set_scheme(browser, False)


GEOMETRY = """
var wrap = document.querySelector('.md-search__scrollwrap');
var items = document.querySelectorAll('[data-kb-results] > li');
var last = items[items.length - 1];
function opaque(el) { var c = getComputedStyle(el).backgroundColor; return c !== 'transparent' && !/, 0\\)$/.test(c); }
var w = wrap.getBoundingClientRect();
var first = items[0].getBoundingClientRect();
var hit = document.elementFromPoint(first.left + 10, first.top + 10);
last.scrollIntoView({block: 'end'});
var r = last.getBoundingClientRect(); w = wrap.getBoundingClientRect();
var probe = document.elementFromPoint(r.left + r.width / 2, r.bottom - 4);
return {opaque: opaque(wrap), firstOnTop: items[0].contains(hit), count: items.length,
        scrollable: getComputedStyle(wrap).overflowY,
        lastInWrap: r.bottom <= w.bottom + 1 && r.top >= w.top - 1, lastOnScreen: r.bottom <= innerHeight + 1,
        lastOnTop: last.contains(probe), wrapBottom: w.bottom, viewport: innerHeight};
"""


@pytest.mark.parametrize("size", sorted(SIZES))
def test_results_panel_is_opaque_and_scrolls_to_the_last_result(browser, live, size):
    kit.set_viewport(browser, SIZES[size])
    kit.load(browser, live + "/")
    kit.open_search(browser, SEARCH_QUERY)
    browser.execute_script("return new Promise(function (r) { setTimeout(r, 450); })")
    geometry = browser.execute_script(GEOMETRY)
    assert geometry["count"] >= 3
    assert geometry["opaque"] and geometry["firstOnTop"], geometry          # nothing shows through or draws over
    assert geometry["scrollable"] in ("auto", "scroll"), geometry
    assert geometry["lastInWrap"] and geometry["lastOnScreen"] and geometry["lastOnTop"], geometry
    text = browser.execute_script(
        "var a = document.querySelector('[data-kb-results] h1'); var s = getComputedStyle(a);"
        "return [s.color, getComputedStyle(document.querySelector('.md-search__scrollwrap')).backgroundColor];")
    assert text[0] != text[1]   # not white on white


VISIBLE_WRITE_CONTROLS = ("return [Array.from(document.querySelectorAll('[data-kb-link]')),"
                          "        Array.from(document.querySelectorAll('input[name=api_token]'))].map(function (l) {"
                          "  return l.filter(function (e) { return e.getClientRects().length > 0; }).length; });")
# the server's answer to "may this caller link?", turned off in the page before it loads
READYZ_WRITES_OFF = """(function () { var f = window.fetch; window.fetch = function (url, init) {
  return f.apply(this, arguments).then(function (r) {
    if (String(url).indexOf('/readyz') < 0) return r;
    return r.json().then(function (b) { b.writes_enabled = false;
      return new Response(JSON.stringify(b), {status: r.status, headers: {'Content-Type': 'application/json'}}); });
  }); }; })();"""


def test_assistant_first_suggestion_visible_without_scrolling_and_link_buttons_follow_writes(browser, live):
    kit.set_viewport(browser, kit.DESKTOP)
    kit.load(browser, live + "/assistant/")
    kit.ask_assistant(browser)
    box = browser.execute_script(
        "var r = document.querySelector('[data-kb-suggestion] .kb-card__title').getBoundingClientRect();"
        "return {top: r.top, bottom: r.bottom, scrollY: scrollY, height: innerHeight};")
    assert box["scrollY"] == 0 and 0 <= box["top"] and box["bottom"] <= box["height"], box
    # auth = none on loopback: the local user may link, as itself: link buttons, no token field
    kit.wait(browser, lambda d: d.execute_script(VISIBLE_WRITE_CONTROLS)[0] > 0)
    assert browser.execute_script(VISIBLE_WRITE_CONTROLS)[1] == 0
    # a caller who may not write (a reader) sees neither
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": READYZ_WRITES_OFF})
    try:
        kit.load(browser, live + "/assistant/")
        kit.ask_assistant(browser)
        assert browser.execute_script(VISIBLE_WRITE_CONTROLS) == [0, 0]
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
