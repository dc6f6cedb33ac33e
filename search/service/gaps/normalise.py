"""What a recorded query looks like: lowercased, whitespace collapsed, cut, redacted (pure functions)."""
from __future__ import annotations

import hashlib
import re
import unicodedata

from search.service.redact import redact

MAX_RECORDED = 200      # characters of a query kept
MAX_IDENTIFIERS = 10    # identifiers of a ticket kept (sorted)
MAX_AREA = 100
SPACE_RE = re.compile(r"\s+")


def _printable(text: str) -> str:
    """Control, format and surrogate characters become spaces (a NUL cannot reach PostgreSQL text)."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") else c for c in text)


def normalise_query(text: str) -> str:
    """A search query as recorded: redacted first (so a cut never splits a secret into a
    harmless-looking piece), lowercased, whitespace collapsed, at most MAX_RECORDED characters."""
    text = redact(SPACE_RE.sub(" ", _printable(text)).strip())
    return SPACE_RE.sub(" ", text.lower()).strip()[:MAX_RECORDED].rstrip()


def ticket_query(identifiers: list[str]) -> str:
    """A ticket as recorded: only the identifiers found in it, redacted, sorted, deduplicated, joined."""
    kept = sorted({normalise_query(i) for i in identifiers if i and i.strip()} - {""})[:MAX_IDENTIFIERS]
    return " ".join(kept)[:MAX_RECORDED].rstrip()


def area_value(area: str | None) -> str:
    return normalise_query(area or "")[:MAX_AREA]


def query_key(kind: str, query: str, area: str, mode: str) -> str:
    """The key of one query row in the per-day caller sets."""
    return hashlib.blake2b("\x1f".join((kind, query, area, mode)).encode("utf-8", "surrogatepass"),
                           digest_size=16).hexdigest()


def caller_hash(caller: str, salt: str) -> str:
    """A caller under the day's random salt (blake2b keyed mode): once the salt is deleted the hash
    cannot be tied to a user or an address, not even by trying every address."""
    return hashlib.blake2b(caller.encode("utf-8", "surrogatepass"), key=bytes.fromhex(salt), digest_size=16).hexdigest()
