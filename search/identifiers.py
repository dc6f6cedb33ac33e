"""Exact identifiers: error codes, alert names, HTTP statuses, codec strings, HLS tags.

``extract`` finds identifier-shaped spans in free text (tickets, logs, section text);
``normalize`` gives the key both sides are compared on. Pure functions, no model.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType

HTTP_REASONS = (r"bad request|unauthori[sz]ed|forbidden|not found|method not allowed|conflict|gone|"
                r"precondition failed|payload too large|request entity too large|range not satisfiable|"
                r"requested range not satisfiable|too many requests|internal server error|bad gateway|"
                r"service unavailable|gateway time-?out|partial content")
PATTERNS = (
    # HTTP statuses in their usual spellings → "HTTP 403"
    ("http", re.compile(r"\bHTTP(?:/\d(?:\.\d)?)?[\s:]*([1-5]\d\d)\b", re.I)),
    ("http", re.compile(r"\b(?:status(?:\s*code)?|response\s*code|code)[\s:=]*\"?([1-5]\d\d|0)\b", re.I)),
    ("http", re.compile(r"\b([1-5]\d\d)\s+(?:" + HTTP_REASONS + r")\b", re.I)),
    ("token", re.compile(r"#?EXT-X-[A-Z0-9-]+")),
    ("token", re.compile(r"\b(?:avc[13]|hvc1|hev1|mp4a|ac-3|ec-3|vp09|av01|dvh1|dvhe|opus)\.[0-9A-Za-z.]+\b")),
    ("token", re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")),                 # ERR_HLS_403, ERROR_CODE_…
    # fragLoadError (possessive: giving back a letter or digit can never let [A-Z] match, and
    # backtracking through every lower-case word made this the slowest pattern)
    ("token", re.compile(r"\b[a-z]++[0-9]*+(?:[A-Z][a-z0-9]+)+\b")),
    # BehindLiveWindowException: a capital, lower case/digits, a capital, and a word ending in lower
    # case/digit. Was (?:[A-Z][a-zA-Z0-9]*){1,}[a-z0-9]\b, which splits a run of capitals in
    # exponentially many ways before failing ('Aa' + 'A' * 28: 5.6 s). A match can only end where
    # the letters and digits end (\b never holds inside them), so eat them possessively and look
    # back at the last one: the same matches, linear time.
    ("token", re.compile(r"\b[A-Z][a-z0-9]++[A-Z][a-zA-Z0-9]*+(?<=[a-z0-9])\b")),
    # CDNEdge5xxRateHigh, TLSCert: two or more capitals, then the rest of the word. Was
    # [A-Z]{2,}[a-z0-9]+[A-Za-z0-9]*\b: two overlapping loops, quadratic in a word that fails at
    # its end ('AB' + 'c' * 19990 + '_': 3.5 s). Possessive, same matches, linear.
    ("token", re.compile(r"\b[A-Z]{2,}+[a-z0-9][A-Za-z0-9]*+\b")),
    ("token", re.compile(r"(?<![\w.-])-\d{3,6}\b")),                             # -12660
)
NUMBER_RE = re.compile(r"(?<![\w.-])-?\d{3,6}\b")
SPACES_RE = re.compile(r"\s+")
HTTP_KEY_RE = re.compile(r"http(?:/\d(?:\.\d)?)?[\s:]*([1-5]\d\d)")
WEAK_STATUS_RE = re.compile(r"http [123]\d\d")
STRONG_RE = re.compile(r"\d|_")


def normalize(identifier: str) -> str:
    """Comparison key: case-folded, whitespace collapsed, leading '#' dropped; HTTP forms unified."""
    key = SPACES_RE.sub(" ", identifier.strip()).lower().lstrip("#")
    match = HTTP_KEY_RE.fullmatch(key)
    return f"http {match.group(1)}" if match else key


def extract(text: str) -> set[str]:
    """Identifier-shaped spans in ``text``, normalized. Bare numbers are not included (see numbers())."""
    return set(spelled(text))


@functools.lru_cache(maxsize=4)
def spelled(text: str) -> Mapping[str, str]:
    """``extract``'s keys, each with its first spelling in ``text`` (white space collapsed): the
    patterns in order, each pattern's matches in text order. Read-only; cached for the last few
    texts: a ticket's text is read by the cleaner, the identifier lane and ``as_written`` (the
    spellings shown), and a 20,000-character ticket made four passes of every pattern (issue 17)."""
    found: dict[str, str] = {}
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            key = f"http {match.group(1)}" if kind == "http" else normalize(match.group(0))
            if key not in found:
                found[key] = " ".join(match.group(0).split())
    return MappingProxyType(found)


def numbers(text: str) -> set[str]:
    """Bare 3–6 digit numbers (with an optional minus): only count when a known code equals them."""
    return {m.group(0) for m in NUMBER_RE.finditer(text)}


def candidates(text: str) -> set[str]:
    """Everything in a query that could equal a known identifier key."""
    return extract(text) | numbers(text)


def is_strong(key: str) -> bool:
    """Identifiers specific enough to rank a section on their own when found in its text: ones
    with a digit, an underscore or an HLS tag prefix (``ERR_HLS_403``, ``-12660``, ``avc1.64001f``,
    ``ext-x-targetduration``, ``http 416``), but not success/redirect statuses (``http 200``).
    Plain camelCase words (``YouTube``) only boost; declared front-matter codes always count."""
    if WEAK_STATUS_RE.fullmatch(key):
        return False
    return bool(STRONG_RE.search(key)) or key.startswith("ext-x-")
