"""Canonical ticket ids: one ticket is one id, however it was typed or pasted.

``ZD-7``, ``ZD-7 `` and ``ＺＤ-7`` (full-width) are the same ticket: the id is stripped and
NFKC-normalised. An id holding a control or format character (category Cc or Cf: NUL, CR, ESC,
zero-width space, bidi overrides such as U+202A/U+202E) is refused rather than cleaned, so a
look-alike id can never be stored beside the real one. The optional ``ticket_id_pattern`` setting is
a regular expression the canonical id must match in full; it runs in the ``regex`` engine with a
timeout (``PATTERN_TIMEOUT_S``) on at most ``MAX_ID`` characters, so a pathological pattern costs a
bounded time per request and refuses the id instead of hanging a worker.
"""
from __future__ import annotations

import functools
import unicodedata

import regex

MAX_ID = 128
PATTERN_TIMEOUT_S = 0.05
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})   # control, format, lone surrogate
# the code points of those categories in Python 3.11's Unicode database (tests/test_hardening.py checks it),
# for the OpenAPI document's patterns; code checks the categories themselves
REFUSED_RANGES = ((0x0, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD),
                  (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x180E, 0x180E), (0x200B, 0x200F),
                  (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xD800, 0xDFFF), (0xFEFF, 0xFEFF),
                  (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438),
                  (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F))


def _escape(cp: int) -> str:
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


REFUSED_CLASS = "".join(_escape(a) + ("" if a == b else "-" + _escape(b)) for a, b in REFUSED_RANGES)


class InvalidId(ValueError):
    """The message says what is wrong with the value (the caller names the field)."""


@functools.lru_cache(maxsize=8)
def _compiled(pattern: str):
    return regex.compile(pattern)


def canonical_text(raw: str, limit: int = MAX_ID) -> str:
    """Stripped, NFKC-normalised, non-empty, no Cc/Cf/Cs character; at most ``limit`` characters as given."""
    if len(raw) > limit:   # before normalising (NFKC may lengthen a text up to 18 times: still bounded)
        raise InvalidId(f"{len(raw)} characters, the limit is {limit}")
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise InvalidId("empty")
    bad = next((c for c in text if unicodedata.category(c) in REFUSED_CATEGORIES), None)
    if bad is not None:
        raise InvalidId(f"contains the control or format character U+{ord(bad):04X} "
                        f"({unicodedata.name(bad, 'unnamed')}); type the id again")
    return text


def canonical_ticket_id(raw: str, pattern: str = "") -> str:
    """The canonical id, or ``InvalidId``; with a ``pattern``, the id must match it in full."""
    text = canonical_text(raw)
    if pattern:
        try:
            matched = _compiled(pattern).fullmatch(text, timeout=PATTERN_TIMEOUT_S) is not None
        except TimeoutError:
            raise InvalidId("could not be checked against the ticket_id_pattern setting in time") from None
        if not matched:
            raise InvalidId(f"{text[:40]!r} does not match the ticket id pattern {pattern[:80]!r}")
    return text
