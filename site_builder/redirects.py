"""Stable-id pages: ``id/<ID>/index.html`` forwards to the article wherever its file lives.

The forward keeps an appended ``#anchor`` (done by a small external script, so the page needs
no inline script and works under a strict CSP); without JavaScript a meta refresh and a plain
link still reach the article (at its top).
"""
from __future__ import annotations

import html


def stable_path(article_id: str) -> str:
    """Site-relative URL of an article's stable page (the documented scheme)."""
    return f"id/{article_id}/"


def redirect_page(article_id: str, title: str, target_from_here: str, script_from_here: str) -> str:
    """HTML of the forwarding page; both URLs are relative to ``id/<ID>/``."""
    t, s = html.escape(target_from_here, quote=True), html.escape(script_from_here, quote=True)
    name = html.escape(f"{article_id}: {title}")
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f"<title>{name}</title>\n<link rel=\"canonical\" href=\"{t}\">\n"
        f"<script src=\"{s}\" data-target=\"{t}\"></script>\n"
        f"<noscript><meta http-equiv=\"refresh\" content=\"0; url={t}\"></noscript>\n"
        f"</head><body><p>Moved to <a id=\"kb-target\" href=\"{t}\">{name}</a>.</p></body></html>\n"
    )
