"""Redaction of free text before it is recorded (feedback comments; later: searches, analytics).

What a support engineer may paste into a comment and the database must not keep: e-mail addresses,
URLs beyond their host (paths and query strings carry signatures and tokens), IP addresses, long
digit runs (phone and card numbers, account numbers), secret-looking values after ``password=``,
``token:`` and the like, and long random-looking words (API keys, bearer tokens, JWTs). Each becomes
a bracketed placeholder, so a reader still sees that something was there.

Every pattern runs in linear time (bounded or possessive quantifiers, runs entered only at their
start): ``tests/test_feedback.py`` runs them on hostile text.
"""
from __future__ import annotations

import re

EMAIL_RE = re.compile(r"[\w.+-]{1,64}+@[\w-]{1,63}+(?:\.[\w-]{1,63}+)++")
URL_RE = re.compile(r"\b((?:https?|ftp)://[\w.-]{1,253}+(?::\d{1,5}+)?)[^\s<>\"']*+", re.I)
SECRET_RE = re.compile(r"\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|signature|sig|auth)"
                       r"([ \t]*+[:=][ \t]*+)\S++", re.I)
IPV4_RE = re.compile(r"(?<![\w.])\d{1,3}+(?:\.\d{1,3}+){3}+(?![\w.])")
DIGITS_RE = re.compile(r"(?<![\w+])\+?\d(?:[ ()./-]{0,2}+\d){8,}+")
WORD_RE = re.compile(r"(?<![\w-])[\w-]{24,}+")
PATTERNS = (EMAIL_RE, URL_RE, SECRET_RE, IPV4_RE, DIGITS_RE, WORD_RE)


def _word(match: re.Match) -> str:
    """A long word is a secret when it mixes letters and digits (keys, tokens, JWT parts)."""
    word = match.group(0)
    has_digit = any(c.isdigit() for c in word)
    has_alpha = any(c.isalpha() for c in word)
    return "[token]" if has_digit and has_alpha else word


def redact(text: str) -> str:
    """``text`` with personal data and secrets replaced by placeholders ([email], [ip], …)."""
    text = EMAIL_RE.sub("[email]", text)
    text = URL_RE.sub(lambda m: m.group(1) + "/[…]" if len(m.group(0)) > len(m.group(1)) else m.group(0), text)
    text = SECRET_RE.sub(lambda m: m.group(1) + m.group(2) + "[redacted]", text)
    text = IPV4_RE.sub("[ip]", text)
    text = DIGITS_RE.sub("[number]", text)
    return WORD_RE.sub(_word, text)
