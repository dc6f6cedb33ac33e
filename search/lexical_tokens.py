"""The lexical tokenizer: identifiers stay whole *and* their parts are indexed.

``fragLoadError`` → fragloaderror, frag, load, error; ``ERR_HLS_403`` → err_hls_403, err, hls, 403;
``avc1.64001f`` → avc1.64001f, avc1, 64001f; ``-12660`` → -12660, 12660;
``EXT-X-TARGETDURATION`` → ext-x-targetduration, ext, x, targetduration.
Plain words are lower-cased and stemmed (Snowball English); stop words are dropped.
"""
from __future__ import annotations

import re
from functools import lru_cache
from itertools import chain

import Stemmer

WORD_RE = re.compile(r"-?[A-Za-z0-9]+(?:[._:/-][A-Za-z0-9]+)*")
SEP_RE = re.compile(r"[._:/-]+")
CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z0-9]+")
CAMEL_BOUNDARY_RE = re.compile(r"[a-z][A-Z]")
MIXED_RE = re.compile(r"[a-z][A-Z]|[A-Za-z]\d|\d[A-Za-z]")   # camelCase or letters next to digits
STOP_WORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how i if in into is it its "
    "me my no not of on or our so that the their them then there these they this to too up us was we were what "
    "when where which while who why will with would you your hi hello thanks thank regards please".split())
_STEMMER = Stemmer.Stemmer("english", 0)   # no internal cache: ours below is bounded by word length
# Words longer than this are not cached (here and in search.results): a cache of 65,536 words of up
# to 20,000 characters each (a ticket may be one word) would hold gigabytes; measured ≈ 80 KB kept
# per such request before this bound (issue 17). Longer words cost the same as a cache miss.
CACHED_WORD_CHARS = 64


def cached_for_short_words(fn):
    """``fn`` with an LRU cache used only for arguments of at most ``CACHED_WORD_CHARS`` characters."""
    cached = lru_cache(maxsize=65536)(fn)

    def call(word: str):
        return cached(word) if len(word) <= CACHED_WORD_CHARS else fn(word)

    call.cache_clear, call.cache_info, call.__doc__ = cached.cache_clear, cached.cache_info, fn.__doc__
    return call


@cached_for_short_words
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def _is_compound(token: str) -> bool:
    return bool(SEP_RE.search(token.lstrip("-"))) or bool(MIXED_RE.search(token))


@cached_for_short_words
def _word_tokens(raw: str) -> tuple[str, ...]:
    """The tokens of one word (see ``tokenize``)."""
    if raw.startswith("-") and not raw[1:].isdigit():
        raw = raw[1:]  # a dash used as punctuation, not a negative code
    low = raw.lower()
    if _is_compound(raw) or raw.startswith("-"):
        parts = [p.lower() for piece in SEP_RE.split(raw) if piece
                 for p in (CAMEL_RE.findall(piece) if CAMEL_BOUNDARY_RE.search(piece) else [piece])]
        return (low, *(_stem(p) for p in parts if p not in STOP_WORDS and p != low))
    return () if low in STOP_WORDS else (_stem(low),)


def tokenize(text: str) -> list[str]:
    """Tokens for BM25, in order; compound identifiers add their parts after themselves. Each
    distinct word is looked up once, then the words are mapped in C (a 20,000-character ticket of
    ~3,000 words went through the cache's Python wrapper per word: issue 17)."""
    words = WORD_RE.findall(text)
    table = {word: _word_tokens(word) for word in dict.fromkeys(words)}
    return list(chain.from_iterable(map(table.__getitem__, words)))
