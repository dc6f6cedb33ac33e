"""The article schema: field rules, allowed values and the ``Article`` record.

``validate_meta`` checks one file's front matter and returns an Article (or None) plus problems.
Rules that need the whole collection (duplicate ids, dangling ``related``) live in ``checks``.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from site_builder.errors import Problem

TYPES = ("runbook", "faq", "reference")
TYPE_PREFIX = {"runbook": "RB", "faq": "FAQ", "reference": "REF"}
SERVICE_AREAS = {
    "upload": "Upload",
    "storage": "Storage",
    "transcoding": "Transcoding",
    "packaging": "Packaging & manifests",
    "cdn": "CDN & delivery",
    "playback": "Playback & player SDKs",
    "live": "Live streaming",
    "rtc": "Real-time (RTC)",
    "drm": "DRM",
    "api-webhooks": "API & webhooks",
    "qos-monitoring": "QoS & monitoring",
    "incident-process": "Incident process",
}
STATUSES = ("draft", "validated", "archived")
SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")
AUDIENCES = ("internal", "partner", "customer")
REQUIRED_SECTIONS = {
    "runbook": ("Meaning", "Impact", "Diagnosis", "Mitigation", "Escalation", "Verification"),
    "faq": ("Issue", "Environment", "Resolution", "Cause"),
    "reference": (),
}
ID_RE = re.compile(r"^(RB|FAQ|REF)-[A-Z0-9]+-\d{3}$")
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
# "hls.js 1.6", "Shaka 4.16", "FFmpeg 7.1", "Media3 1.5", "Safari 18", "RFC 8216": a product
# name (words without '<', '>' or '`') then a version of one to four numbers
TESTED_WITH_RE = re.compile(r"^[A-Za-z][\w.+/-]*(?: [A-Za-z][\w.+/()-]*)* v?\d+(?:\.\d+){0,3}$")
MAX_TESTED_WITH = 12
REQUIRED = ("id", "title", "type", "service_area", "owner", "last_reviewed", "status")
LIST_FIELDS = ("tags", "error_codes", "related_alerts", "related", "platforms", "sdk_versions", "tested_with")
OPTIONAL = LIST_FIELDS + ("review_interval_days", "severity", "audience", "description")
DEFAULT_REVIEW_INTERVAL = 90


@dataclass
class Article:
    """One validated article: its metadata and where it lives."""

    id: str
    title: str
    type: str
    service_area: str
    owner: str
    last_reviewed: dt.date
    status: str
    src_path: str  # relative to docs_dir, with '/' separators
    review_interval_days: int = DEFAULT_REVIEW_INTERVAL
    tags: list[str] = field(default_factory=list)
    error_codes: list[str] = field(default_factory=list)
    related_alerts: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    sdk_versions: list[str] = field(default_factory=list)
    tested_with: list[str] = field(default_factory=list)
    severity: str | None = None
    audience: str | None = None
    description: str | None = None
    body: str = ""
    body_line: int = 1
    key_lines: dict[str, int] = field(default_factory=dict)

    @property
    def review_due(self) -> dt.date:
        return self.last_reviewed + dt.timedelta(days=self.review_interval_days)

    def review_overdue(self, today: dt.date) -> bool:
        return today > self.review_due


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _check_scalars(meta: dict, bad) -> None:
    for key in REQUIRED:
        if key not in meta or meta[key] in (None, ""):
            bad(key, "is missing", f"add '{key}:' to the front matter (see docs/article-format.md)")
    for key in ("id", "title", "owner", "description"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], str):
            bad(key, f"must be a string, got {type(meta[key]).__name__}", "quote the value")
    if isinstance(meta.get("title"), str) and not meta["title"].strip():
        bad("title", "is empty", "write the title support staff would search for")
    if isinstance(meta.get("title"), str) and ("<" in meta["title"] or ">" in meta["title"]):
        bad("title", "contains '<' or '>'", "titles are plain text (the theme shows them as HTML): drop the angle brackets")
    if isinstance(meta.get("description"), str) and len(meta["description"]) > 300:
        bad("description", f"is {len(meta['description'])} characters, over 300", "shorten it to one sentence")


def _check_enums(meta: dict, bad) -> None:
    enums = (("type", TYPES), ("service_area", tuple(SERVICE_AREAS)), ("status", STATUSES),
             ("severity", SEVERITIES), ("audience", AUDIENCES))
    for key, allowed in enums:
        if meta.get(key) is not None and meta[key] not in allowed:
            bad(key, f"unknown value {meta[key]!r}", f"use one of: {', '.join(allowed)}")
    if "severity" in meta and meta.get("type") in ("faq", "reference"):
        bad("severity", "only runbooks have a severity", "remove 'severity' or make the article a runbook")
    art_id, art_type = meta.get("id"), meta.get("type")
    if isinstance(art_id, str):
        if not ID_RE.match(art_id):
            bad("id", f"{art_id!r} is not of the form RB-AREA-001, FAQ-AREA-001 or REF-AREA-001",
                "use PREFIX-AREA-NNN in capitals with three digits")
        elif isinstance(art_type, str) and art_type in TYPE_PREFIX and not art_id.startswith(TYPE_PREFIX[art_type] + "-"):
            bad("id", f"prefix of {art_id!r} does not match type {art_type!r}",
                f"ids of {art_type} articles start with {TYPE_PREFIX[art_type]}-")


def _check_tested_with(value: object, bad) -> None:
    """``tested_with``: what the article's facts were last checked against, "Name X.Y" each."""
    if not isinstance(value, list):
        return  # absent, or already reported as not a list
    if len(value) > MAX_TESTED_WITH:
        bad("tested_with", f"has {len(value)} entries, over {MAX_TESTED_WITH}",
            "list only the products whose behaviour the article states")
    for entry in value:
        if isinstance(entry, (str, int)) and str(entry).strip() and (len(str(entry)) > 60 or not TESTED_WITH_RE.match(str(entry))):
            bad("tested_with", f"{str(entry)[:60]!r} is not 'Product version'",
                "write the product and the version checked, e.g. 'hls.js 1.6', 'FFmpeg 7.1'")


def _check_lists_and_numbers(meta: dict, bad) -> None:
    for key in LIST_FIELDS:
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and str(v).strip() for v in value):
            bad(key, "must be a list of non-empty strings", f'write {key}: ["first", "second"]')
    tags = meta.get("tags")
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, str) and not TAG_RE.match(tag):
            bad("tags", f"{tag!r} is not a lowercase slug", "use lowercase letters, digits, '-', '.' or '+'")
    _check_tested_with(meta.get("tested_with"), bad)
    interval = meta.get("review_interval_days")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int) or not 1 <= interval <= 730):
        bad("review_interval_days", f"{interval!r} is not a whole number of days from 1 to 730",
            "write e.g. review_interval_days: 90")
    if meta.get("last_reviewed") not in (None, "") and _as_date(meta["last_reviewed"]) is None:
        bad("last_reviewed", f"{meta['last_reviewed']!r} is not a date", "write it as YYYY-MM-DD")
    for key in sorted(set(meta) - set(REQUIRED) - set(OPTIONAL), key=str):
        bad(str(key), "is not a known field", "fix the spelling or remove it (fields: docs/article-format.md)")


def validate_meta(path: str, src_path: str, meta: dict, key_lines: dict[str, int],
                  body: str, body_line: int) -> tuple[Article | None, list[Problem]]:
    """Check one article's front matter; return the Article when it is usable, and all problems."""
    problems: list[Problem] = []

    def bad(key: str, problem: str, fix: str) -> None:
        shown = key if key and key.isprintable() and key == key.strip() else repr(key)  # one line, never empty
        problems.append(Problem(path, key_lines.get(key, 1), shown, problem, fix))

    _check_scalars(meta, bad)
    _check_enums(meta, bad)
    _check_lists_and_numbers(meta, bad)
    if problems:
        return None, problems
    lists = {k: [str(v) for v in meta.get(k) or []] for k in LIST_FIELDS}
    article = Article(
        id=meta["id"], title=meta["title"].strip(), type=meta["type"], service_area=meta["service_area"],
        owner=meta["owner"], last_reviewed=_as_date(meta["last_reviewed"]), status=meta["status"],
        src_path=src_path, review_interval_days=meta.get("review_interval_days") or DEFAULT_REVIEW_INTERVAL,
        severity=meta.get("severity"), audience=meta.get("audience"), description=meta.get("description"),
        body=body, body_line=body_line, key_lines=key_lines, **lists)
    return article, problems
