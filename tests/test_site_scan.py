"""The built sites carry no script an article could have put there, and the service's CSP agrees.

Every ``.html`` file is parsed with a real HTML parser (``html.parser``; written here, separately
from ``site_builder.checks``, so one bug cannot hide in both). A page fails the scan on:

* an executable inline ``<script>`` that is not one of mkdocs-material's own inline scripts
  (read from the installed theme's ``partials/javascripts/*.html``), or whose SHA-256 is not in the
  ``script-src`` of the Content-Security-Policy that the service actually sends for that site;
* any ``on*=`` event-handler attribute, on any element;
* a ``javascript:``/``vbscript:`` URL in any attribute (entities decoded, tabs/newlines dropped,
  as browsers do);
* an ``<iframe>``/``<object>``/``<embed>``/``<frame>``/``<applet>``/``<base>`` element.

Comments, ``<![CDATA[…]]>`` and ``<style>`` text are scanned as HTML too (browsers end a comment
at ``<!-->``, and ``<style>`` inside ``<svg>`` is markup), so the scan errs towards flagging.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_KB

FORBIDDEN_ELEMENTS = {"iframe", "object", "embed", "frame", "frameset", "applet", "base"}
URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json", "importmap", "speculationrules"}
JS_TYPES = {"", "module", "text/javascript", "application/javascript", "application/ecmascript", "text/ecmascript"}


@dataclasses.dataclass
class PageScan:
    findings: list[str] = dataclasses.field(default_factory=list)
    inline_scripts: list[str] = dataclasses.field(default_factory=list)  # executable ones only


class _Scanner(HTMLParser):
    def __init__(self, result: PageScan, depth: int = 0):
        super().__init__(convert_charrefs=True)
        self.result, self.depth = result, depth
        self._script: list[str] | None = None
        self._style = False

    def handle_starttag(self, tag, attrs):
        where = f"line {self.getpos()[0]}: <{tag}>"
        if tag in FORBIDDEN_ELEMENTS:
            self.result.findings.append(f"{where} element")
        for name, value in attrs:
            if name.startswith("on"):
                self.result.findings.append(f"{where} event handler {name}=")
            cleaned = URL_NOISE.sub("", value or "").lower()
            if "javascript:" in cleaned or "vbscript:" in cleaned:
                self.result.findings.append(f"{where} {name}={value!r}")
        attributes = dict(attrs)
        script_type = (attributes.get("type") or "").strip().lower()
        if tag == "script" and "src" not in attributes:
            if script_type in DATA_SCRIPT_TYPES:
                pass  # data, never executed
            elif script_type in JS_TYPES:
                self._script = []
            else:
                self.result.findings.append(f"{where} inline script of unknown type {script_type!r}")
        self._style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._style = False

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.result.inline_scripts.append("".join(self._script))
            self._script = None
        self._style = False

    def handle_data(self, data):
        if self._script is not None:
            self._script.append(data)
        elif self._style:
            self._nested(data)

    def _nested(self, text):
        if self.depth > 4:
            self.result.findings.append("comments or declarations nested too deeply")
            return
        inner = _Scanner(self.result, self.depth + 1)
        inner.feed(text + ">")
        inner.close()

    handle_comment = unknown_decl = handle_pi = _nested

    def parse_html_declaration(self, i):
        try:
            return super().parse_html_declaration(i)
        except AssertionError:  # '<![junk' on Python < 3.13; a browser reads a bogus comment up to '>'
            end = self.rawdata.find(">", i + 2)
            if end < 0:
                return -1
            self._nested(self.rawdata[i + 2:end])
            return end + 1


def scan_html(text: str) -> PageScan:
    """Findings and executable inline scripts of one HTML document (or fragment)."""
    result = PageScan()
    scanner = _Scanner(result)
    scanner.feed(text + ">")  # completes a tag left open at the very end
    scanner.close()
    return result


def theme_script_patterns() -> list[re.Pattern]:
    """mkdocs-material's inline scripts, from the installed theme: each ``<script>`` body of
    ``partials/javascripts/*.html`` with its Jinja expressions (a URL inside a JS string) as wildcards."""
    import material

    patterns = []
    for partial in sorted((Path(material.__file__).parent / "templates/partials/javascripts").glob("*.html")):
        for body in re.findall(r"<script>(.*?)</script>", partial.read_text(encoding="utf-8"), re.S):
            parts = re.split(r"\{\{.*?\}\}", body)
            patterns.append(re.compile(r'[^"<>\\]*'.join(re.escape(p) for p in parts)))
    assert len(patterns) >= 3, "the theme's inline scripts were not found; has mkdocs-material moved them?"
    return patterns


def served_script_src(client) -> list[str]:
    """The ``script-src`` sources of the Content-Security-Policy the service sends for ``/``."""
    policy = client.get("/").headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    return directives["script-src"]


def csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def scan_site(site: Path, allowed_sources: list[str]) -> tuple[int, int, list[str]]:
    """(pages, executable inline scripts, problems) for a built site under a given ``script-src``."""
    patterns = theme_script_patterns()
    pages = scripts = 0
    problems = []
    for page in sorted(site.rglob("*.html")):
        pages += 1
        rel = page.relative_to(site)
        result = scan_html(page.read_text(encoding="utf-8"))
        problems += [f"{rel}: {f}" for f in result.findings]
        for body in result.inline_scripts:
            scripts += 1
            if not any(p.fullmatch(body) for p in patterns):
                problems.append(f"{rel}: inline script that is not the theme's: {body[:80]!r}")
            if csp_hash(body) not in allowed_sources:
                problems.append(f"{rel}: inline script not allowlisted by the served CSP: {body[:80]!r}")
    return pages, scripts, problems


def assert_strict_script_src(sources: list[str]) -> None:
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, sources
    assert all(s == "'self'" or re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", s) for s in sources), sources


def test_fixture_site_is_clean_and_matches_the_served_csp(fixture_site: Path, client):
    sources = served_script_src(client)
    assert_strict_script_src(sources)
    pages, scripts, problems = scan_site(fixture_site, sources)
    assert problems == []
    assert pages >= 10 and scripts >= 2 * pages // 3, (pages, scripts)  # the hash check was exercised


def test_every_response_carries_the_strict_csp(client):
    for path in ("/", "/api/search?q=6007", "/api/openapi.json", "/no-such-page/", "/healthz"):
        policy = client.get(path).headers.get("Content-Security-Policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
        assert "script-src" in directives, (path, policy)
        assert_strict_script_src(directives["script-src"])
        assert directives.get("object-src") == ["'none'"], (path, policy)


def test_real_kb_site_is_clean_and_matches_the_served_csp(real_kb_site: Path, tmp_path):
    from search.service import create_app
    from search.settings import load_settings

    settings = load_settings(None, {"site_dir": str(real_kb_site), "data_dir": str(tmp_path)}, environ={})
    client = create_app(settings, watch=False).test_client()  # no index: the CSP only depends on the site
    sources = served_script_src(client)
    assert_strict_script_src(sources)
    pages, scripts, problems = scan_site(real_kb_site, sources)
    assert problems == []
    assert pages >= 150 and scripts >= pages, (pages, scripts)


# --- hostile articles: the build rejects them; with the checks switched off, the scan flags them ---

ARTICLE = (FIXTURE_KB / "docs" / "drm" / "shaka-6007.md").read_text(encoding="utf-8")


def _article(n: int, body: str = "", **fields: str) -> str:
    text = ARTICLE.replace("FAQ-DRM-001", f"FAQ-DRM-{n:03d}").replace("related: [FAQ-PLAYER-001]\n", "")
    for key, value in fields.items():
        text = re.sub(rf"(?m)^{key}: .*$", lambda _m, k=key, v=value: f"{k}: {v}", text, count=1)
    return text.replace("The licence server refused or could not be reached.", body or "The licence server refused.")


HOSTILE_BODIES = {
    "js-link.md": ('<a href="javascript:alert(1)">retry</a>', "html: has a javascript: URL"),
    "onerror.md": ('<img src="x.png" onerror="alert(1)">', "html: has an event-handler attribute 'onerror='"),
    "md-js-link.md": ("[retry](javascript:alert(1))", "html: has a javascript: URL"),
    "entity-js.md": ('<a href="&#106;avascript&colon;alert(1)">retry</a>', "html: has a javascript: URL"),
    "split-tag.md": ('<img src="x.png"\n     onerror="alert(1)">', "html: has an event-handler attribute 'onerror='"),
    "comment.md": ("<!--><img src=x onerror=alert(1)>-->", "html: has an event-handler attribute 'onerror='"),
    "script.md": ('<script>var target=document.getElementById("x");alert(1)</script>', "html: contains a <script> element"),
}


def _write_kb(tmp_path: Path, files: dict[str, str]) -> Path:
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, kb, ignore=shutil.ignore_patterns("site"))
    for name, text in files.items():
        (kb / "docs" / "drm" / name).write_text(text, encoding="utf-8")
    return kb


def _build(kb: Path, site: Path) -> str:
    """Build; return the error text ('' when the build passed)."""
    from tests.test_site_validation import build_errors

    return build_errors(kb, site)


def test_the_build_rejects_active_html_naming_file_and_problem(tmp_path):
    files = {name: _article(10 + i, body) for i, (name, (body, _)) in enumerate(HOSTILE_BODIES.items())}
    message = _build(_write_kb(tmp_path, files), tmp_path / "site")
    for name, (_body, expected) in HOSTILE_BODIES.items():
        assert re.search(rf"docs/drm/{re.escape(name)}(:\d+)?: {re.escape(expected)} — ", message), (name, message)
    assert "shaka-6007.md" not in message and "Traceback" not in message
    assert not (tmp_path / "site" / "drm").exists()  # nothing was written


def test_the_scan_flags_what_gets_past_the_checks(tmp_path, monkeypatch):
    """Proves the scan bites on real theme output: with site_builder's HTML checks switched off the
    hostile articles build, and every one of them fails the scan (each page named)."""
    from search.service.site import content_security_policy, theme_script_hashes
    from site_builder import checks

    monkeypatch.setattr(checks, "check_active_html", lambda *args: [])
    monkeypatch.setattr(checks, "check_rendered_html", lambda *args: [])
    files = {name: _article(10 + i, body) for i, (name, (body, _)) in enumerate(HOSTILE_BODIES.items())}
    site = tmp_path / "site"
    assert _build(_write_kb(tmp_path, files), site) == ""
    policy = content_security_policy(theme_script_hashes(site)[0])
    sources = policy.split("script-src ")[1].split(";")[0].split()
    _pages, _scripts, problems = scan_site(site, sources)
    for name in HOSTILE_BODIES:
        assert any(p.startswith(f"drm/{name[:-3]}/index.html: ") for p in problems), (name, problems)
    assert not any(p.startswith(("drm/shaka-6007/", "cdn/", "upload/", "playback/")) for p in problems), problems


def test_hostile_field_values_are_shown_as_text(tmp_path):
    """Front-matter values land in generated pages (area index, tags, error codes) and in the
    page head; backticks, backslashes and quotes in them must not turn into markup."""
    files = {
        "codes.md": _article(20, error_codes='["`` <img src=x onerror=alert(1)> ``", "a`b"]'),
        "title.md": _article(21, title=r"'Retry x\](javascript:alert(1)) [y'"),
        "desc.md": _article(22, status="validated\ndescription: '\"><script>alert(1)</script>'"),
    }
    site = tmp_path / "site"
    assert _build(_write_kb(tmp_path, files), site) == ""
    from search.service.site import content_security_policy, theme_script_hashes

    sources = content_security_policy(theme_script_hashes(site)[0]).split("script-src ")[1].split(";")[0].split()
    _pages, _scripts, problems = scan_site(site, sources)
    assert problems == []
    codes_page = (site / "error-codes" / "index.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in codes_page
    desc_page = (site / "drm" / "desc" / "index.html").read_text(encoding="utf-8")
    assert 'content="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in desc_page


@pytest.mark.parametrize("fragment,flagged", [
    ('<a href="java\tscript:x">', True), ('<svg/onload=x>', True), ("<![CDATA[><img src=x onerror=y>]]>", True),
    ("<svg><style><img src=x onerror=y></style></svg>", True), ('<form><button formaction="JAVASCRIPT:x">', True),
    ('<a href="https://example.com/javascript-guide">', False), ("<p>onerror= is text here</p>", False),
    ('<script type="application/json">{"onload": "javascript:x"}</script>', False),
])
def test_scanner_self_check(fragment, flagged):
    assert bool(scan_html(fragment).findings) is flagged, scan_html(fragment)


def test_service_allowlists_only_exact_theme_scripts(tmp_path):
    """A script that merely starts like a theme script gets no CSP hash (it would run otherwise)."""
    from search.service.site import theme_script_hashes

    theme = '<script>var target=document.getElementById(location.hash.slice(1));target&&target.name&&' \
            '(target.checked=target.name.startsWith("__tabbed_"))</script>'
    lookalike = '<script>var target=document.getElementById(location.hash.slice(1));alert(document.cookie)</script>'
    (tmp_path / "index.html").write_text(f"<html><body>{theme}</body></html>", encoding="utf-8")
    (tmp_path / "evil.html").write_text(f"<html><body>{lookalike}</body></html>", encoding="utf-8")
    hashes, others = theme_script_hashes(tmp_path)
    assert len(hashes) == 1 and others == ["evil.html"]
