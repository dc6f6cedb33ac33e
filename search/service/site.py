"""Serves the built MkDocs site from the same origin as the API, with security headers.

The Content-Security-Policy allows scripts from this origin only, plus — by SHA-256 hash — the
small inline scripts mkdocs-material writes into every page (scope, palette, anchor target), each
matched in full against the installed theme's templates. Any other inline script in the site
(even one that starts like a theme script) is not allowlisted, so the browser refuses to run it; no
``unsafe-inline`` for scripts.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import logging
import os
import re
import stat
from pathlib import Path

from flask import Blueprint, Response, current_app, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.routing import PathConverter
from werkzeug.security import safe_join

log = logging.getLogger(__name__)
bp = Blueprint("site", __name__)


class SitePathConverter(PathConverter):
    """Any path except the API's: /api/* never falls through to the static site (so a wrong
    method on an API route is a 405 with the right Allow header, not a site page)."""

    regex = r"(?!api/)[^/].*?"

INLINE_SCRIPT_RE = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", re.S | re.I)


@functools.lru_cache(maxsize=1)
def theme_script_patterns() -> tuple[re.Pattern, ...]:
    """mkdocs-material's own inline scripts, read from the installed theme's templates
    (``partials/javascripts/*.html``; located without importing the theme): each ``<script>`` body
    must match in full, its Jinja expressions (a URL in a JS string) being the only free parts."""
    spec = importlib.util.find_spec("material")
    if spec is None or not spec.submodule_search_locations:
        log.warning("mkdocs-material is not installed: no inline theme script is allowlisted")
        return ()
    folder = Path(spec.submodule_search_locations[0]) / "templates" / "partials" / "javascripts"
    patterns = []
    for partial in sorted(folder.glob("*.html")):
        for body in re.findall(r"<script>(.*?)</script>", partial.read_text(encoding="utf-8"), re.S):
            parts = re.split(r"\{\{.*?\}\}", body)
            patterns.append(re.compile(r'[^"<>\\]*'.join(re.escape(part) for part in parts)))
    return tuple(patterns)


def is_theme_script(body: str) -> bool:
    return any(pattern.fullmatch(body) for pattern in theme_script_patterns())


def theme_script_hashes(site_dir: Path) -> tuple[list[str], list[str]]:
    """(CSP hash sources of the allowlisted theme scripts, files holding any other inline script)."""
    hashes, others = set(), []
    for page in Path(site_dir).rglob("*.html"):
        for attrs, body in INLINE_SCRIPT_RE.findall(page.read_text(encoding="utf-8", errors="replace")):
            if "application/json" in attrs:
                continue  # data, never executed
            if is_theme_script(body):
                digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
                hashes.add(f"'sha256-{digest}'")
            else:
                others.append(str(page.relative_to(site_dir)))
    return sorted(hashes), sorted(set(others))


def content_security_policy(hashes: list[str]) -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' " + " ".join(hashes),
        "style-src 'self' 'unsafe-inline'",     # the theme sets inline style attributes
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]).strip()


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    # the site and the ticket assistant need none of these browser features
    "Permissions-Policy": "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
                          "magnetometer=(), microphone=(), midi=(), payment=(), usb=(), interest-cohort=()",
}


def add_security_headers(response: Response) -> Response:
    """Every response: this site's CSP, and each other security header unless the view set its own
    (one pass over the headers instead of a case-insensitive scan per header). fast_search.py sends
    the same headers for GET /api/search."""
    headers = response.headers
    headers["Content-Security-Policy"] = current_app.config["KB_CSP"]
    present = {key.lower() for key in headers.keys()}
    headers.extend([(key, value) for key, value in SECURITY_HEADERS.items() if key.lower() not in present])
    return response


def not_found_page():
    site = Path(current_app.config["KB_SITE_DIR"])
    if (site / "404.html").is_file():
        response = send_from_directory(site, "404.html")
        response.status_code = 404
        return response
    return Response("Not found", status=404, mimetype="text/plain")


def site_entry(site: Path, path: str) -> str | None:
    """What ``path`` names inside the site: "file", "dir", or None for anything not servable. The
    path is joined safely *before* the file system is asked anything (no ``..``, no absolute path),
    any error of the file system (a name too long, no permission) is "nothing here", and a symlink
    is followed only to a target inside the site."""
    joined = safe_join(str(site), path)
    if joined is None:
        return None
    try:
        real = os.path.realpath(joined)
        mode = os.stat(real).st_mode
    except (OSError, ValueError):
        return None
    if real != str(site) and not real.startswith(str(site) + os.sep):
        return None
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else None


@bp.route("/", defaults={"path": ""}, methods=["GET", "HEAD"])
@bp.route("/<sitepath:path>", methods=["GET", "HEAD"])
def page(path: str):
    site = Path(current_app.config["KB_SITE_DIR"])
    if path == "" or path.endswith("/"):
        path += "index.html"
    entry = site_entry(site, path)
    if entry == "dir":
        return current_app.redirect("/" + path + "/", 308)
    if entry is None:
        return not_found_page()
    try:
        return send_from_directory(site, path)
    except NotFound:
        return not_found_page()
