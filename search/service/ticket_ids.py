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
REFUSED_CATEGORIES = frozenset({"Cc", "Cf"})


class InvalidId(ValueError):
    """The message says what is wrong with the value (the caller names the field)."""


@functools.lru_cache(maxsize=8)
def _compiled(pattern: str):
    return regex.compile(pattern)


def canonical_text(raw: str, limit: int = MAX_ID) -> str:
    """Stripped, NFKC-normalised, non-empty, at most ``limit`` characters, no Cc/Cf character."""
    if len(raw) > limit * 4:   # bound the normalisation's work before doing it
        raise InvalidId(f"{len(raw)} characters, the limit is {limit}")
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise InvalidId("empty")
    if len(text) > limit:
        raise InvalidId(f"{len(text)} characters, the limit is {limit}")
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
