"""The owner's review queue as a pure function (unit-tested without a database or a model).

Urgency, highest first: each open flag weighs by its reason (``wrong`` 5, ``outdated`` and
``missing_step`` 3, ``unclear`` 2), each open "not helpful" vote 1, and a review past its due date
2 plus 1 per full 30 days overdue. Ties: the longer overdue, then the article id.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

FLAG_WEIGHT = {"wrong": 5, "outdated": 3, "missing_step": 3, "unclear": 2}
NOT_HELPFUL_WEIGHT = 1
OVERDUE_WEIGHT = 2
OVERDUE_STEP_DAYS = 30


def review_due(meta: dict) -> dt.date | None:
    """``last_reviewed`` + ``review_interval_days``, or None when the build does not carry them."""
    try:
        last = dt.date.fromisoformat(str(meta.get("last_reviewed") or ""))
    except ValueError:
        return None
    days = int(meta.get("review_interval_days") or 0)
    return last + dt.timedelta(days=days) if days > 0 else None


def _entry(article_id: str, meta: dict, today: dt.date) -> dict:
    due = review_due(meta)
    overdue = (today - due).days if due is not None and today > due else 0
    return {"article_id": article_id, "title": meta.get("title", article_id), "url": meta.get("url", ""),
            "owner": meta.get("owner", ""), "review_due": due.isoformat() if due else None, "overdue_days": overdue,
            "flags": [], "not_helpful": [], "votes": {"helpful": 0, "not_helpful": 0}, "urgency": 0}


def _urgency(entry: dict) -> int:
    score = sum(FLAG_WEIGHT.get(f["reason"], 1) for f in entry["flags"]) + NOT_HELPFUL_WEIGHT * len(entry["not_helpful"])
    if entry["overdue_days"] > 0:
        score += OVERDUE_WEIGHT + entry["overdue_days"] // OVERDUE_STEP_DAYS
    return score


def build_queue(articles: dict[str, dict], open_items: Iterable[dict], votes: dict[str, dict[str, int]],
                today: dt.date, owner: str | None = None) -> list[dict]:
    """The queue of ``owner`` (None: every owner). ``articles``: id → metadata of the loaded build
    (title, url, owner, last_reviewed, review_interval_days); ``open_items``: open feedback rows as
    JSON dicts; ``votes``: vote counts per article. An article is in the queue when it has an open
    item or its review is past due; an item on an article the build no longer holds is listed under
    its id (owner unknown) so nothing open is lost."""
    entries: dict[str, dict] = {}
    for article_id, meta in articles.items():
        if owner is None or meta.get("owner", "") == owner:
            entry = _entry(article_id, meta, today)
            if entry["overdue_days"] > 0:
                entries[article_id] = entry
    for item in open_items:
        article_id = item["article_id"]
        meta = articles.get(article_id, {})
        if owner is not None and meta.get("owner", "") != owner:
            continue
        entry = entries.setdefault(article_id, _entry(article_id, meta, today))
        entry["flags" if item["kind"] == "flag" else "not_helpful"].append(item)
    for article_id, entry in entries.items():
        entry["votes"] = dict(votes.get(article_id, entry["votes"]))
        entry["urgency"] = _urgency(entry)
    return sorted(entries.values(), key=lambda e: (-e["urgency"], -e["overdue_days"], e["article_id"]))
