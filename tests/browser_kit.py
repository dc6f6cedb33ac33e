"""Shared by the browser tests and scripts/screenshots.py: headless Debian Chromium, the two
window sizes, light/dark via CDP prefers-color-scheme emulation, axe-core injected from the
project-local npm install (scripts/setup --test), and the page states a person looks at."""
from __future__ import annotations

import os
from pathlib import Path

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
AXE = Path(__file__).resolve().parent.parent / "build" / "node" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP, PHONE = (1400, 900), (390, 844)
TICKET = ("Hi team,\nsince this morning our Chrome users get shaka error 6007 when they start protected videos.\n"
          "shaka.util.Error {severity: 2, category: 6, code: 6007}\nThanks, Tom")


def make_driver(size: tuple[int, int] = DESKTOP):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--hide-scrollbars", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    set_viewport(driver, size)
    return driver


def set_viewport(driver, size: tuple[int, int]) -> None:
    """The page's viewport (not the window) is exactly ``size``; phone widths are touch-less."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size[0] < 600})


def set_scheme(driver, dark: bool) -> None:
    """Emulate the OS colour preference (takes effect for pages loaded afterwards)."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})


def wait(driver, condition, timeout: float = 15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def load(driver, url: str) -> None:
    driver.get(url)
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def open_search(driver, query: str) -> None:
    """Ctrl+K, type ``query``, wait for the service's results (or its answer that there are none)."""
    open_search_box(driver).send_keys(query)
    wait(driver, lambda d: d.execute_script(
        "var s = document.querySelector('[data-kb-status]').textContent;"
        "return s && s !== 'Searching…' && s !== 'Recent searches';"))


def ask_assistant(driver, ticket_id: str = "ZD-4242", body: str = TICKET) -> None:
    driver.find_element("css selector", "input[name=ticket_id]").send_keys(ticket_id)
    driver.find_element("css selector", "textarea[name=body]").send_keys(body)
    driver.find_element("css selector", "[data-kb-assistant-form] button[type=submit]").click()
    wait(driver, lambda d: d.find_elements("css selector", "[data-kb-suggestion]"))


def axe_violations(driver, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's violations of the page as it is now, only the given impacts; each as
    {id, impact, help, nodes: [target + failure summary]}."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(function (r) { done(r.violations); },"
        " function (e) { done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]); });")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [(n["target"], n.get("failureSummary", "")[:300]) for n in v["nodes"][:5]]}
            for v in result if v["impact"] in impacts]


def open_search_box(driver):
    """Ctrl+K; the search box, focused."""
    from selenium.webdriver.common.keys import Keys

    press(driver, "k", modifier=Keys.CONTROL)
    box = driver.find_element("css selector", "[data-md-component=search-query]")
    wait(driver, lambda d: d.execute_script("return document.activeElement === arguments[0]", box))
    return box


def press(driver, *keys: str, modifier: str | None = None) -> None:
    """Press ``keys`` in order (each a fresh action chain: a chain replays its earlier actions)."""
    from selenium.webdriver.common.action_chains import ActionChains

    for key in keys:
        chain = ActionChains(driver)
        if modifier:
            chain.key_down(modifier)
        chain.send_keys(key)
        if modifier:
            chain.key_up(modifier)
        chain.perform()
