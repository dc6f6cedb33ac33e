"""OpenID Connect login end to end: a real provider (panva/oidc-provider, OpenID Certified, run by node on
127.0.0.1 from tests/oidc_provider, installed by ``scripts/setup --test``), the real server (``kb serve``,
gunicorn) with ``auth = oidc``, and headless Debian Chromium: log in (authorization code + PKCE), search,
open the assistant, link and unlink as the signed-in user (CSRF token required), log out at both ends,
and a session that expires sends the browser back through the provider.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT, free_port, get_json, running_server
from tests import browser_kit as kit
from tests.browser_kit import CHROMEDRIVER, CHROMIUM
from tests.browser_kit import wait as _wait

PROVIDER_DIR = ROOT / "tests" / "oidc_provider"
ACCOUNTS = {"ana": {"groups": ["support"]}, "root": {"groups": ["kb-admins"]}}
ROLE_GROUPS = "reader=*,agent=support,admin=kb-admins"
CLIENT_ID, CLIENT_SECRET = "kb-test", "kb-test-secret-0123456789"


@contextlib.contextmanager
def oidc_provider(port: int, kb_base: str, log_dir: Path):
    """oidc-provider on 127.0.0.1:``port`` with one client, kb at ``kb_base``; yields the issuer URL."""
    node = shutil.which("node")
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the test OIDC provider is not installed: run scripts/setup --test (node + npm ci in tests/oidc_provider)")
    env = dict(os.environ, PORT=str(port), CLIENT_ID=CLIENT_ID, CLIENT_SECRET=CLIENT_SECRET,
               REDIRECT_URIS=f"{kb_base}/auth/callback", POST_LOGOUT_REDIRECT_URIS=f"{kb_base}/",
               ACCOUNTS=json.dumps(ACCOUNTS))
    log_path = log_dir / f"oidc-provider-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([node, "provider.mjs"], cwd=PROVIDER_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if get_json(issuer + "/.well-known/openid-configuration", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("oidc-provider did not start: " + log_path.read_text(errors="replace")[-2000:])
            time.sleep(0.1)
        yield issuer
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)


@contextlib.contextmanager
def oidc_site(real_settings, tmp_path_factory, session_minutes: float = 480):
    """The provider and an ``auth = oidc`` server that trust each other; yields (kb base URL, data dir)."""
    tmp = tmp_path_factory.mktemp("oidc")
    index_root = tmp / "index"
    shutil.copytree(real_settings.index_path, index_root)
    kb_port, op_port = free_port(), free_port()
    kb_base = f"http://127.0.0.1:{kb_port}"
    with oidc_provider(op_port, kb_base, tmp) as issuer:
        env = {"KB_AUTH": "oidc", "KB_OIDC_ISSUER": issuer, "KB_OIDC_CLIENT_ID": CLIENT_ID,
               "KB_OIDC_CLIENT_SECRET": CLIENT_SECRET, "KB_OIDC_ROLE_GROUPS": ROLE_GROUPS,
               "KB_SESSION_MINUTES": str(session_minutes), "KB_API_TOKEN": ""}
        with running_server(real_settings, tmp, index_root, token="", extra_env=env, port=kb_port) as base:
            yield base, tmp


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("needs Debian chromium and chromium-driver (scripts/setup --test installs them)")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                # the provider's development pages import a web font: fail that lookup at once, offline
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(15)
    yield driver
    driver.quit()


def _log_in(browser, user: str) -> None:
    """On the provider's sign-in page: any password for a known login; consent once per user."""
    from selenium.webdriver.common.by import By

    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=login]"))
    browser.find_element(By.CSS_SELECTOR, "input[name=login]").send_keys(user)
    browser.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys("any-password")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-kb-user]")
          or d.find_elements(By.XPATH, "//button[normalize-space()='Continue']"))
    consent = browser.find_elements(By.XPATH, "//button[normalize-space()='Continue']")
    if consent:
        consent[0].click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-kb-user]"))


def _page_fetch(browser, path: str, method: str = "GET", raw: bool = False) -> dict:
    """Run a request from the page (its cookie); ``raw`` uses XMLHttpRequest, which auth.js leaves alone."""
    return browser.execute_async_script("""
        var done = arguments[arguments.length - 1], path = arguments[0], method = arguments[1];
        if (arguments[2]) {
          var x = new XMLHttpRequest(); x.open(method, path);
          x.onload = function () { done({status: x.status, body: x.responseText}); }; x.send(); return;
        }
        fetch(path, {method: method}).then(function (r) { return r.text().then(function (t) {
          done({status: r.status, body: t}); }); });""", path, method, raw)


def _audit(data_dir: Path) -> list[dict]:
    from kb_cli.main import cli

    result = CliRunner().invoke(cli, ["audit", "--json"], obj={},
                                env={"KB_DATA_DIR": str(data_dir), "KB_AUDIT_LOG": str(data_dir / "audit-cli.jsonl")})
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


@pytest.mark.slow
def test_log_in_search_link_unlink_log_out(browser, real_settings, tmp_path_factory):
    from selenium.webdriver.common.by import By

    with oidc_site(real_settings, tmp_path_factory) as (base, data_dir):
        assert get_json(base + "/api/search?q=6007")[0] == 401                  # nothing without a login
        browser.get(base + "/")                                                 # → /auth/login → the provider
        assert browser.current_url.startswith("http://127.0.0.1:") and not browser.current_url.startswith(base)
        _log_in(browser, "ana")
        assert browser.current_url == base + "/"
        assert "ana" in browser.find_element(By.CSS_SELECTOR, "[data-kb-user]").text
        cookie = browser.get_cookie("kb_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]   # http here: not Secure

        kit.open_search(browser, "manifestLoadError")                         # search, with the session cookie
        _wait(browser, lambda d: "FAQ-PLAYER-001" in d.find_element(By.CSS_SELECTOR, "[data-kb-results]").text)

        kit.load(browser, base + "/assistant/")
        kit.ask_assistant(browser, "ZD-4242")
        card = browser.find_element(By.CSS_SELECTOR, "[data-kb-suggestion='FAQ-DRM-001']")
        assert not browser.find_element(By.CSS_SELECTOR, "input[name=api_token]").is_displayed()   # no token: the login
        outcome = lambda d: card.find_element(By.CSS_SELECTOR, ".kb-card__outcome").text   # noqa: E731
        _wait(browser, lambda d: card.find_element(By.CSS_SELECTOR, "[data-kb-link]").is_displayed())
        card.find_element(By.CSS_SELECTOR, "[data-kb-link]").click()          # link
        _wait(browser, lambda d: outcome(d) == "Linked to ZD-4242.")
        links = json.loads(_page_fetch(browser, "/api/links?ticket_id=ZD-4242")["body"])["links"]
        assert [(l["article_id"], l["agent"]) for l in links] == [("FAQ-DRM-001", "ana")]
        forged = _page_fetch(browser, f"/api/links/{links[0]['id']}", "DELETE", raw=True)   # no CSRF token
        assert forged["status"] == 403 and "csrf_token_missing" in forged["body"]
        card.find_element(By.CSS_SELECTOR, "[data-kb-link]").click()          # unlink, from the same button
        _wait(browser, lambda d: outcome(d) == "Unlinked from ZD-4242.")
        assert json.loads(_page_fetch(browser, "/api/links?ticket_id=ZD-4242")["body"])["links"] == []
        assert _page_fetch(browser, "/api/reports")["status"] == 403            # an agent, not an admin

        browser.find_element(By.CSS_SELECTOR, "[data-kb-logout]").click()      # here, then at the provider
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "button[name=logout]")).pop().click()
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=login]"))   # signed out there too
        browser.get(base + "/auth/whoami")
        assert '"authenticated":false' in browser.page_source.replace(" ", "")

        actions = [(row["actor"], row["action"], row["outcome"]) for row in _audit(data_dir)]
        for expected in (("ana", "login", "ok"), ("ana", "suggest", "ok"), ("ana", "link.create", "ok"),
                         ("ana", "link.delete", "ok"), ("ana", "access.denied", "denied"), ("ana", "logout", "ok")):
            assert expected in actions, (expected, actions)


@pytest.mark.slow
def test_an_expired_session_goes_back_through_the_provider(browser, real_settings, tmp_path_factory):
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    with oidc_site(real_settings, tmp_path_factory, session_minutes=0.05) as (base, _data):   # 3 seconds
        browser.get(base + "/")
        _log_in(browser, "root")
        assert _page_fetch(browser, "/api/reports")["status"] == 200           # an admin may read reports
        time.sleep(4)
        assert _page_fetch(browser, "/api/reports")["status"] == 401           # expired: no more access
        browser.get(base + "/assistant/")          # the provider still knows root: straight back, signed in
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-kb-user]"))
        assert browser.current_url == base + "/assistant/"
