"""The customer build (``kb build --audience customer``): which articles it keeps, and the links
that would leak a withheld article into it.

An article is shared with an audience only when its ``audience`` says so exactly; an article
without ``audience`` is internal (as the search service treats it). Plain functions over Article
records; the plugin drops the withheld files in ``on_files`` so MkDocs never renders them.
"""
from __future__ import annotations

from collections.abc import Callable

from site_builder import links, staff
from site_builder.errors import Problem
from site_builder.schema import Article

CUSTOMER = "customer"
AUDIENCES = (CUSTOMER,)   # the values ``kb build --audience`` accepts
EDITION = {CUSTOMER: "customer edition"}

CUSTOMER_HOME = """---
title: Home
---

# {site_name}

Answers for customers and developers integrating the video platform: upload, playback, live
streaming, DRM, the API and webhooks. Browse by service area in the navigation, by
[error code](error-codes.md) or by [tag](tags.md), or search with the box at the top.
"""


def audience_of(art: Article) -> str:
    return art.audience or "internal"


def is_shared(art: Article, audience: str) -> bool:
    return audience_of(art) == audience


def _named(art: Article, display: Callable[[str], str]) -> str:
    return f"{audience_of(art)} article {art.id} ({display(art.src_path)})"


def leak_problems(articles: list[Article], audience: str, display: Callable[[str], str]) -> list[Problem]:
    """Every ``related`` entry and Markdown link from a shared article to a withheld one: each is a
    build error naming both articles (the link would be dead, and it names internal content).
    Links inside staff passages are fine: the build removes those passages (staff.py)."""
    by_id = {a.id: a for a in articles}
    by_src = {a.src_path: a for a in articles}
    known = links.LinkTargets(doc_pages=set(by_src), other_files=set(), anchors={},
                              id_to_src={a.id: a.src_path for a in articles})
    fix = f"remove or reword the link, or share the target with {audience}s only if it is fit for them"
    problems = []
    for art in articles:
        if not is_shared(art, audience):
            continue
        for rel in art.related:
            target = by_id.get(rel)
            if target and not is_shared(target, audience):
                problems.append(Problem(display(art.src_path), art.key_lines.get("related"), "related",
                                        f"{audience} article {art.id} lists {_named(target, display)}", fix))
        for lineno, page in links.linked_pages(art.src_path, staff.blank(art.body), art.body_line, known):
            target = by_src.get(page)
            if target and not is_shared(target, audience):
                problems.append(Problem(display(art.src_path), lineno, "link",
                                        f"{audience} article {art.id} links to {_named(target, display)}", fix))
    return problems
