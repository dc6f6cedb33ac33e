"""Regular-expression denial of service on the request path (issue 17, items 1 and 2).

Every regex that a request reaches — identifier extraction, the BM25 tokenizer, ticket cleaning,
the highlighter and snippet windows, the declared-code trie, the redaction of feedback comments —
and every function that runs them, against adversarial text up to the API's limits (20,000-character tickets, 512-character queries):
runs of capitals, alternating case, long words ending in ``_``, 20,000-character words, many
identifiers, mixed Unicode, punctuation and space runs, and the exact strings of the issue.

The property: each call finishes within ``REGEX_CPU_SECONDS`` (one regex) or
``CALL_CPU_SECONDS`` (one request-path function) of CPU. The fixed code's worst call over these
families is ≈ 4 ms for one regex and ≈ 12 ms for a function (``ticket_query`` on 20,000
characters), so the bounds leave a margin of 60× and more for noisy CI machines; a wall-clock
alarm (``HARD_LIMIT_SECONDS``) cuts off a backtracking regex, so a regression fails instead of
hanging. The former patterns fail this test: ``'Aa' + 'A' * 34`` ran into the alarm (the old
identifier pattern needs minutes), ``'AB' + 'c' * 19990 + '_'`` took 3.5 s, ``'thanks' + ' ' *
19993 + 'x'`` 7 s (docs/reliability.md has the figures).

A differential test pins the semantics: on short strings, where the old patterns are still fast,
each rewritten pattern matches exactly what the old one matched.

Hypothesis runs are derandomised and keep no example database, so CI sees the same examples.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from search import identifier_filters, identifiers, lexical_tokens, results, ticket
from search.ident_index import IdentifierIndex
from search.service import redact
from tests.conftest import hard_limit as _hard_limit
from tests.conftest import ROOT

REGEX_CPU_SECONDS = 0.4
CALL_CPU_SECONDS = 0.75
HARD_LIMIT_SECONDS = 5.0
MAX_TICKET = 20000   # search/service/api.py: MAX_TICKET (MAX_SUBJECT 1,000 and MAX_QUERY 512 are smaller)
FUZZ = settings(derandomize=True, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# The exact inputs of the issue.
ISSUE_TICKET = "Hi, the player shows VideoPLAYBACKFAILEDUNKNOWNERRORCODE again"
ISSUE_STRINGS = ["Aa" + "A" * 24, "Aa" + "A" * 28, "Aa" + "A" * 34, ISSUE_TICKET, "AB" + "c" * 19990 + "_"]


def _repeat(unit: str, size: int = MAX_TICKET, tail: str = "") -> str:
    return (unit * (size // len(unit) + 1))[:size - len(tail)] + tail


FAMILIES = {
    **{f"issue-{i}": s for i, s in enumerate(ISSUE_STRINGS)},
    "capitals": _repeat("A"), "capitals then _": _repeat("A", tail="_"), "Aa + capitals + _": "Aa" + _repeat("A", 19997, "_"),
    "alternating Aa": _repeat("Aa"), "alternating aA + _": _repeat("aA", tail="_"), "AAa + _": _repeat("AAa", tail="_"),
    "Ab + é": _repeat("Ab", tail="é"), "A1 + _": _repeat("A1", tail="_"), "aB1 + _": _repeat("aB1", tail="_"),
    "lower + _": _repeat("a", tail="_"), "digits + _": _repeat("1", tail="_"), "camel + _": "frag" + _repeat("Load", 19990, "_"),
    "20k word": _repeat("abcdefghij"), "20k mixed word": _repeat("xY9"),
    "many identifiers": _repeat("fragLoadError ERR_HLS_403 HTTP/1.1 416 avc1.64001f -12660 CDNEdge5xxRateHigh "
                                "#EXT-X-TARGETDURATION BehindLiveWindowException status code: 503 "),
    "unicode": _repeat("ÄäAé中文ßİ\u200b"), "unicode letters": _repeat("é"), "letter + unicode": _repeat("aé"),
    "dots": _repeat("."), "dashes": _repeat("-"), "underscores": _repeat("_"), "colons": _repeat(":"),
    "spaces": _repeat(" ", tail="x"), "newlines": _repeat("\n", tail="x"), "tabs": _repeat("\t", tail="x"),
    "a.": _repeat("a."), "a-": _repeat("a-"), "-a": _repeat("-a"), "-1": _repeat("-1"), "1-": _repeat("1-"),
    "A_": _repeat("A_"), "ERR_": _repeat("ERR_"), "a.a + _": _repeat("a.a", tail="_"), "1. + _": _repeat("1.", tail="_"),
    "codec dots": "avc1." + _repeat(".", 19990, "_"), "EXT-X-": _repeat("#EXT-X-"),
    "HTTP spaces": "HTTP" + _repeat(" ", 19990, "x"), "status spaces": "status" + _repeat(" ", 19990, "x"),
    "403 spaces": "403" + _repeat(" ", 19990, "x"), "HTTP words": _repeat("HTTP "), "403 words": _repeat("403 "),
    "code: words": _repeat("code:"), "status code words": _repeat("status code "),
    "sign-off spaces": "thanks" + _repeat(" ", 19990, "x"), "sign-off punctuation": "thanks" + _repeat(" ,", 19990, "x"),
    "boilerplate spaces": "ticket" + _repeat(" ", 19990, "x"), "boilerplate colon spaces": "ticket:" + _repeat(" ", 19990, "x y"),
    "quote schrieb": "am" + _repeat(" schrieb", 19990, " x"), "quote écrit": "le" + _repeat(" a écrit", 19990, " x"),
    "quote wrote": "on " + _repeat("x wrote", 19990, "!"), "quote dashes": _repeat("-", tail=" original message x"),
    "stack frame": "at a(" + _repeat(")", 19990, "x"), "log header": _repeat("a-", tail=": x y"),
    "punctuation mix": _repeat("=/{}|;[]()<>*#"), "greeting": "hi" + _repeat(" ", 19990, "x"),
    "many lines": _repeat("thanks  x\nticket  x y\nam x schrieb y\nAaAAAA_\n"),
}


def _kb_declared_codes() -> list[str]:
    """The error codes and alert names the real KB declares (what the declared-code trie matches)."""
    codes = []
    for path in sorted((ROOT / "kb").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        if text.startswith("---\n"):
            front = yaml.safe_load(text[4:text.index("\n---", 4)]) or {}
            codes += [str(c) for c in (*front.get("error_codes", ()), *front.get("related_alerts", ()))]
    return codes


def _declared_index() -> IdentifierIndex:
    keys = {identifiers.normalize(code) for code in _kb_declared_codes()}
    return IdentifierIndex({k: [0] for k in keys}, {}, {k: k for k in keys}, {k: 1.0 for k in keys})


DECLARED = _declared_index()
assert DECLARED._declared_re is not None   # compiled here, not inside the first timed call
SECTION = ("Playback fails with fragLoadError after the CDN answers HTTP 403. Check the token. "
           "The player retries three times. " * 6)


def _regex_calls() -> dict:
    """Every module-level regex of the request path, called the way the code calls it."""
    calls = {}
    for i, (_kind, pattern) in enumerate(identifiers.PATTERNS):
        calls[f"identifiers.PATTERNS[{i}]"] = (lambda p: lambda t: list(p.finditer(t)))(pattern)
    calls.update({
        "identifiers.NUMBER_RE": lambda t: identifiers.NUMBER_RE.findall(t),
        "identifiers.SPACES_RE": lambda t: identifiers.SPACES_RE.sub(" ", t),
        "identifiers.HTTP_KEY_RE": lambda t: identifiers.HTTP_KEY_RE.fullmatch(t.lower()),
        "identifiers.WEAK_STATUS_RE": lambda t: identifiers.WEAK_STATUS_RE.fullmatch(t),
        "identifiers.STRONG_RE": lambda t: identifiers.STRONG_RE.search(t),
        "lexical_tokens.WORD_RE": lambda t: lexical_tokens.WORD_RE.findall(t),
        "lexical_tokens.SEP_RE": lambda t: lexical_tokens.SEP_RE.split(t),
        "lexical_tokens.CAMEL_RE": lambda t: lexical_tokens.CAMEL_RE.findall(t),
        "lexical_tokens.CAMEL_BOUNDARY_RE": lambda t: lexical_tokens.CAMEL_BOUNDARY_RE.search(t),
        "lexical_tokens.MIXED_RE": lambda t: lexical_tokens.MIXED_RE.search(t),
        "results.WORD_RE": lambda t: results.WORD_RE.findall(t),
        "results.SENTENCE_RE": lambda t: results.SENTENCE_RE.split(t),
        "results.SENTENCE_END_RE": lambda t: results.SENTENCE_END_RE.findall(t),
        "results.ESCAPED_RE": lambda t: results.ESCAPED_RE.search(t),
        "ident_index declared trie": lambda t: DECLARED._declared_re.findall(t.lower()),
        "identifier_filters.FRAME_RE": lambda t: identifier_filters.FRAME_RE.sub("", t),
        "identifier_filters.LOG_WORD_RE": lambda t: identifier_filters.LOG_WORD_RE.fullmatch(t.lower()),
        "identifier_filters.METHOD_CALL_RE": lambda t: identifier_filters.METHOD_CALL_RE.findall(t),
    })
    for name in ("GREETING_RE", "SIGN_OFF_RE", "QUOTE_HEADER_RE"):          # matched per line
        calls[f"ticket.{name}"] = (lambda p: lambda t: [p.match(line) for line in t.split("\n")])(getattr(ticket, name))
    for name in ("BOILERPLATE_RE", "LOG_LINE_RE", "LOG_PUNCTUATION_RE"):    # searched per line
        calls[f"ticket.{name}"] = (lambda p: lambda t: [p.search(line) for line in t.split("\n")])(getattr(ticket, name))
    for name in ("EMAIL_RE", "URL_RE", "SECRET_RE", "IPV4_RE", "DIGITS_RE", "WORD_RE"):   # feedback comments
        calls[f"redact.{name}"] = (lambda p: lambda t: p.sub("", t))(getattr(redact, name))
    return calls


def _function_calls() -> dict:
    """The request-path functions that run those regexes (caches cleared before each call)."""
    return {
        "identifiers.extract": identifiers.extract,
        "identifiers.candidates": identifiers.candidates,
        "identifiers.normalize": identifiers.normalize,
        "lexical_tokens.tokenize": lexical_tokens.tokenize,
        "ticket.ticket_query": lambda t: ticket.ticket_query(t, subject=t[:1000]),
        "IdentifierIndex.match": DECLARED.match,
        "results.query_terms": results.query_terms,
        "results.Snippets": lambda t: results.Snippets(t)(SECTION),
        "results.best_sentence (query)": lambda t: results.best_sentence(SECTION, t),
        "results.best_sentence (text)": lambda t: results.best_sentence(t, "fragLoadError 403 token"),
        "results.highlight": lambda t: results.highlight(t, {"fragloaderror", "token", "aaa"}),
        "identifier_filters.ticket_identifiers": identifier_filters.ticket_identifiers,
        "redact.redact": redact.redact,
        "identifier_filters.as_written": lambda t: identifier_filters.as_written(
            t, identifiers.extract(t[:2000]) | {"fatal: true", "503 slow down", "aaa aaa"}),
    }


REGEX_CALLS = _regex_calls()
FUNCTION_CALLS = _function_calls()
CACHES = (lexical_tokens._word_tokens, lexical_tokens._stem, results._term, results._key, results.query_terms,
          results.prepare, results.sentence_keys, identifiers.spelled)


def hard_limit(seconds: float = HARD_LIMIT_SECONDS):
    """Raise TimeoutError after ``seconds`` (tests.conftest.hard_limit, with this file's default)."""
    return _hard_limit(seconds)


def _describe(text: str) -> str:
    return repr(text) if len(text) <= 80 else f"{text[:40]!r}…{text[-20:]!r} ({len(text)} characters)"


def cpu_seconds(fn, text: str) -> float:
    for cache in CACHES:   # a cached word would hide the cost of the first request that brings it
        cache.cache_clear()
    start = time.process_time()
    try:
        with hard_limit():
            fn(text)
    except TimeoutError:
        pytest.fail(f"{_describe(text)}: still running after {HARD_LIMIT_SECONDS} s")
    return time.process_time() - start


def assert_bounded(text: str) -> None:
    slow = []
    for calls, bound in ((REGEX_CALLS, REGEX_CPU_SECONDS), (FUNCTION_CALLS, CALL_CPU_SECONDS)):
        for name, fn in calls.items():
            seconds = cpu_seconds(fn, text)
            if seconds > bound:
                slow.append(f"{name}: {seconds:.2f} CPU s (bound {bound})")
    assert not slow, f"{_describe(text)}: " + "; ".join(slow)


def test_every_module_level_regex_of_the_request_path_is_covered():
    """A new regex in these modules must be added to the calls above (and so to the fuzzing)."""
    modules = (identifiers, lexical_tokens, results, ticket, identifier_filters, redact)
    found = {f"{m.__name__.split('.')[-1]}.{name}" for m in modules for name, value in vars(m).items()
             if isinstance(value, re.Pattern)}
    assert found <= set(REGEX_CALLS), sorted(found - set(REGEX_CALLS))


@pytest.mark.parametrize("family", FAMILIES)
def test_adversarial_families_are_bounded(family):
    assert_bounded(FAMILIES[family])


PIECES = ["A", "a", "Aa", "aA", "AB", "Ab", "A1", "1", "_", "-", ".", ":", " ", "\n", "\t", ",", "é", "É", "中",
          "ß", "\u200b", "/", "=", "(", ")", "#", "—", "thanks", "ticket", "status", "code", "HTTP", "403", "am",
          " schrieb ", "le", " a écrit", "from: ", "on ", " wrote:", "at ", "avc1.", "EXT-X-", "ERR_", "-12660",
          "fragLoadError", "CDNEdge5xxRateHigh", "VideoPLAYBACKFAILEDUNKNOWNERRORCODE", "Hi, ", "original message"]
SEGMENTS = st.lists(st.tuples(st.one_of(st.sampled_from(PIECES), st.text(min_size=1, max_size=3)),
                              st.integers(1, MAX_TICKET)), min_size=1, max_size=4)


def _compose(segments: list[tuple[str, int]]) -> str:
    """Each (piece, count) as piece × count, cut so that the whole stays within the ticket limit."""
    out, room = [], MAX_TICKET
    for piece, count in segments:
        part = (piece * count)[:room]
        out.append(part)
        room -= len(part)
    return "".join(out)


@settings(FUZZ, max_examples=60)
@given(segments=SEGMENTS)
@example(segments=[("Aa", 1), ("A", 34)])
@example(segments=[("AB", 1), ("c", 19990), ("_", 1)])
@example(segments=[("thanks", 1), (" ", 19990), ("x", 1)])
def test_composed_adversarial_text_is_bounded(segments):
    assert_bounded(_compose(segments))


# -- the rewritten patterns match exactly what the old ones matched ---------------------------------
OLD_IDENTIFIER_PATTERNS = {   # index in identifiers.PATTERNS → the pattern before issue 17
    7: re.compile(r"\b[A-Z][a-z0-9]+(?:[A-Z][a-zA-Z0-9]*){1,}[a-z0-9]\b"),
    8: re.compile(r"\b[A-Z]{2,}[a-z0-9]+[A-Za-z0-9]*\b"),
}
OLD_TICKET_PATTERNS = {
    "SIGN_OFF_RE": re.compile(r"^\s*(thanks?( you)?( so much| a lot| in advance)?|many thanks|regards|best( regards)?|"
                              r"kind regards|br|cheers|sincerely|thx|ty|merci|gracias|--+|—+|__+)\s*[,.!]*\s*$", re.I),
    "QUOTE_HEADER_RE": re.compile(r"^\s*(on .{3,120} wrote:|-{2,} ?original message ?-{2,}|from: .+|le .+ a écrit ?:|"
                                  r"am .+ schrieb .+:)\s*$", re.I),
    "LOG_LINE_RE": re.compile(r"(^\s*at [\w$.<>]+\(.*\)\s*$)|(^\s*\d{4}-\d\d-\d\d[ T]\d\d:\d\d)|(^\s*\[?\d\d:\d\d:\d\d)|"
                              r"(^\s*[<>*] )|(^\s*[\w-]+: [^ ]+$)|(^\s*(HTTP/\d|GET |POST |PUT |HEAD |OPTIONS ))|"
                              r"(^\s*(Caused by|Exception|Traceback|E/|W/|I/|D/)\b)|(^\s*[{}\[\]])", re.I),
    "BOILERPLATE_RE": re.compile(r"(sent from my (iphone|android|ipad|mobile)|this (e-?mail|message) (and any attachments )?"
                                 r"(is|are|may be) confidential|please consider the environment|unsubscribe|"
                                 r"^\s*(ticket|case|priority|severity|product|customer|account|submitted|requester|"
                                 r"browser|os|plan)\s*(id|#|no\.?)?\s*:\s*\S{0,40}\s*$)", re.I),
}
WORDISH = st.text(alphabet="AaBbZz019_é. -:", max_size=14)
LINEISH = st.lists(st.sampled_from(["thanks", "Thank", " you", " ", "  ", ",", ".", "!", "-", "--", "—", "_", "__",
                                    "x", "am", "Am", " schrieb ", "schrieb", ":", "ticket", "id", "#", "no.", "no",
                                    "on", " wrote:", "from: ", "le", " a écrit", "é", "\t", "regards", "best", "a",
                                    "at ", "a.b", "(", ")", "$", "2026-11-20", "T", "10:00", ":01", "[", "]", "{",
                                    "<", ">", "*", "HTTP/1", "GET ", "Caused by", "E/", "Traceback", "x-cache"]),
                   max_size=10).map("".join)


@settings(FUZZ, max_examples=400)
@given(text=st.lists(WORDISH, max_size=4).map(" ".join))
@example(text="BehindLiveWindowException YouTube CDNEdge5xxRateHigh TLSCert ABC Ab1C2 AbC_ Xy-Zw")
def test_rewritten_identifier_patterns_match_what_the_old_ones_matched(text):
    for index, old in OLD_IDENTIFIER_PATTERNS.items():
        new = identifiers.PATTERNS[index][1]
        assert [m.span() for m in new.finditer(text)] == [m.span() for m in old.finditer(text)], (index, text)


@settings(FUZZ, max_examples=400)
@given(line=LINEISH)
@example(line="Am 12.03.2024 um 10:00 schrieb Max Mustermann <max@example.com>:")
@example(line="  Ticket ID :  ZD-48121  ")
@example(line="Thanks so much!! ")
@example(line="    at com.example.Player.load(Player.java:120)  ")
@example(line=" 2026-11-20T10:00:01 fragLoadError")
@example(line="x-cache: MISS")
@example(line="  Caused by: java.io.IOException")
def test_rewritten_ticket_patterns_decide_like_the_old_ones(line):
    for name, old in OLD_TICKET_PATTERNS.items():
        new = getattr(ticket, name)
        method = "search" if name in ("BOILERPLATE_RE", "LOG_LINE_RE") else "match"
        assert bool(getattr(new, method)(line)) == bool(getattr(old, method)(line)), (name, line)


# -- the attacks of the issue, as requests -----------------------------------------------------------
REQUEST_CPU_SECONDS = 5.0    # the fixed code answers each in ≈ 0.1 s of CPU (20,000-character tickets)
ATTACKS = [
    ("GET", {"q": "Aa" + "A" * 28}, None),
    ("GET", {"q": "Aa" + "A" * 34}, None),
    ("GET", {"q": ("AB" + "c" * 505 + "_")[:512], "k": "50"}, None),
    ("POST", {}, {"body": ISSUE_TICKET}),
    ("POST", {"k": "50"}, {"body": "AB" + "c" * 19990 + "_"}),
    ("POST", {}, {"body": "Hi,\nthe player fails\nthanks" + " " * 19900 + "x", "subject": "Aa" + "A" * 900}),
    ("POST", {}, {"body": "Ticket:" + " " * 19890 + "x y\n" + _repeat("AbAbAbAb_ ", 99)}),
]


@pytest.mark.slow
@pytest.mark.parametrize("method, args, body", ATTACKS, ids=[f"{m}-{i}" for i, (m, _a, _b) in enumerate(ATTACKS)])
def test_the_issue_attacks_are_answered_within_bounded_cpu(client, method, args, body):
    path = "/api/search" if method == "GET" else "/api/suggest"
    start = time.process_time()
    try:
        with hard_limit(20.0):
            response = client.open(path, method=method, query_string=args, json=body)
    except TimeoutError:
        pytest.fail(f"{method} {path}: still running after 20 s")
    seconds = time.process_time() - start
    # (the alarm inside a request becomes the app's 500: the message says how long it ran)
    assert response.status_code == 200, f"{seconds:.1f} CPU s: " + response.get_data(as_text=True)[:300]
    assert seconds < REQUEST_CPU_SECONDS, f"{method} {path}: {seconds:.2f} CPU s"


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        return int(next(line for line in status if line.startswith("VmRSS:")).split()[1]) / 1024


def test_long_words_are_not_kept_by_the_word_caches():
    """Tokenizer, stemmer and highlighter cache per word; a ticket may be one 20,000-character word.
    Before the length bound each such request left ≈ 80 KB in the caches (65,536 entries each, and
    PyStemmer's own 10,000): 400 distinct words grew the process by ≈ 30 MB, a full cache by gigabytes."""
    words = [f"{n:05d}" + _repeat("abcdefghijklmnopqrstuvwxyz"[n % 26] + "q", 19990) for n in range(400)]
    lexical_tokens.tokenize(words[0])
    results.Snippets(words[0] + " warm")(SECTION)
    caches = (lexical_tokens._word_tokens, lexical_tokens._stem, results._term, results._key)
    sizes, before = [c.cache_info().currsize for c in caches], _rss_mb()
    for word in words:
        assert lexical_tokens.tokenize(word) == [word.lower()]   # a digit-letter word is kept whole
        results.Snippets(word)(SECTION)
    grown = _rss_mb() - before
    assert grown < 8, f"RSS grew by {grown:.1f} MB for 400 long words"
    assert [c.cache_info().currsize for c in caches] == sizes
    lexical_tokens.tokenize("fragLoadError fragLoadError")
    assert lexical_tokens._word_tokens.cache_info().hits >= 1   # short words are still cached
