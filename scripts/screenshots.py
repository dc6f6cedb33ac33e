#!/usr/bin/env python3
"""Screenshots of the pages a support engineer looks at, for review by a person: home, an article,
the search dialog with results, with no confident match, the ticket assistant with suggestions, the
error-code index, an area page, a filtered search, recent searches, the 404 page, an article with
staff-only passages, an article's feedback box with the flag form open and the review queue; at 1400x900 and 390x844, light and dark (OS preference emulated
with CDP). Needs a running `kb serve` (writes enabled or not) and Debian chromium + chromedriver.

    scripts/screenshots.py --base http://127.0.0.1:8000 --out build/screenshots
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import browser_kit as kit  # noqa: E402

STATES = {   # name → (path, action)
    "home": ("/", None),
    "article": ("/id/FAQ-DRM-001/", None),
    "search": ("/", lambda d: kit.open_search(d, "fragLoadError 403")),
    "search-weak": ("/", lambda d: kit.open_search(d, "zzqxj")),
    "search-filtered": ("/", lambda d: _filtered(d, "webhook signature", "cdn")),
    "search-recent": ("/", lambda d: _recent(d)),
    "assistant": ("/assistant/", lambda d: kit.ask_assistant(d)),
    "not-found": ("/id/NOPE-001/", lambda d: kit.wait(d, lambda x: x.find_elements("css selector", "[data-kb-notfound] button"))),
    "error-codes": ("/error-codes/", None),
    "area": ("/cdn/", None),
    # a customer article with staff passages (!!! staff): styled on the staff site, absent from the
    # customer build (--base of a customer site: kb build --audience customer)
    "article-staff": ("/id/FAQ-PLAYER-007/", lambda d: _scroll_to(d, ".admonition.staff, h2#resolution")),
    # feedback at the end of an article with the flag form open, and the owners' review queue
    "article-flag": ("/id/FAQ-DRM-001/", lambda d: _open_flag(d)),
    "review": ("/review/", lambda d: kit.wait(d, lambda x: x.execute_script(
        "var s = document.querySelector('[data-kb-review] [role=status]'); return s && s.textContent !== 'Loading…';"))),
}


def _open_flag(driver) -> None:
    kit.wait(driver, lambda d: d.find_elements("css selector", "[data-kb-flag]"))
    driver.execute_script("var b = document.querySelector('[data-kb-flag]'); b.click(); b.scrollIntoView({block: 'start'});")


def _filtered(driver, query: str, area: str) -> None:
    from selenium.webdriver.support.ui import Select

    kit.open_search(driver, query)
    Select(driver.find_element("css selector", "[data-kb-area]")).select_by_value(area)
    kit.wait(driver, lambda d: d.find_elements("css selector", ".kb-chip--all"))
    time.sleep(0.5)


def _scroll_to(driver, selector: str) -> None:
    driver.execute_script("var e = document.querySelector(arguments[0]); if (e) e.scrollIntoView({block: 'center'});",
                          selector)


def _recent(driver) -> None:
    driver.execute_script("localStorage.setItem('kb-recent-searches', JSON.stringify("
                          "['fragLoadError 403', 'shaka 6007', 'webhook signature']))")
    kit.open_search_box(driver)
    kit.wait(driver, lambda d: d.find_elements("css selector", "[data-kb-recent]"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000", help="URL of a running kb serve")
    parser.add_argument("--out", default="build/screenshots", help="directory for the PNGs")
    parser.add_argument("--only", action="append", choices=sorted(STATES), help="only these states (repeatable)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    driver = kit.make_driver()
    try:
        for size_name, size in (("desktop", kit.DESKTOP), ("phone", kit.PHONE)):
            kit.set_viewport(driver, size)
            for scheme in ("light", "dark"):
                kit.set_scheme(driver, scheme == "dark")
                for name in args.only or STATES:
                    path, action = STATES[name]
                    kit.load(driver, args.base.rstrip("/") + path)
                    if action:
                        action(driver)
                    time.sleep(0.5)   # let transitions (the search dialog fades in) finish
                    target = out / f"{name}-{size_name}-{scheme}.png"
                    driver.save_screenshot(str(target))
                    print(target)
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
