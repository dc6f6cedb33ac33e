"""Identifier lane: exact matches of error codes, alert names, HTTP statuses, codec strings.

Two strengths of evidence:
* **declared** — the identifier is in an article's front matter (``error_codes``,
  ``related_alerts``): it applies to every chunk of that article and puts the article in the top
  tier of the ranking;
* **found** — an identifier-shaped span occurs in one section's text: a score boost for that chunk.
Rarer identifiers weigh more (1/sqrt of the number of articles that carry them).
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from search import identifiers
from search.chunker import Chunk
from search.corpus import Article


def _trie_pattern(keys: list[str]) -> str:
    """A regex matching exactly the ``keys``, longest first: the alternation ``(?:k1|k2|…)`` with
    keys sorted by length, folded into a character trie so that each position of the text is
    tried against one branch per next character rather than against every key (~6× faster)."""
    trie: dict = {}
    for key in keys:
        node = trie
        for char in key:
            node = node.setdefault(char, {})
        node[""] = {}   # a key ends here

    def branch(node: dict) -> str:
        # longer keys first: ending here ("") is the last alternative, tried when no longer key fits
        alternatives = [re.escape(char) + branch(child) for char, child in node.items() if char]
        alternatives += [""] if "" in node else []
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return branch(trie)


@dataclass
class IdentifierMatch:
    declared: float = 0.0
    found: float = 0.0
    names: set[str] = field(default_factory=set)


@dataclass
class IdentifierIndex:
    declared: dict[str, list[int]]   # key → chunk indexes (all chunks of the declaring articles)
    found: dict[str, list[int]]      # key → chunk indexes whose text contains it
    display: dict[str, str]          # key → the identifier as written
    weight: dict[str, float]

    @classmethod
    def build(cls, chunks: list[Chunk], articles: list[Article]) -> "IdentifierIndex":
        by_article: dict[str, list[int]] = defaultdict(list)
        for i, chunk in enumerate(chunks):
            by_article[chunk.article_id].append(i)
        declared: dict[str, list[int]] = defaultdict(list)
        display: dict[str, str] = {}
        articles_with: dict[str, set[str]] = defaultdict(set)
        for art in articles:
            for code in (*art.error_codes, *art.related_alerts):
                key = identifiers.normalize(code)
                display.setdefault(key, code)
                if art.id not in articles_with[key]:
                    declared[key].extend(by_article.get(art.id, []))
                articles_with[key].add(art.id)
        found: dict[str, list[int]] = defaultdict(list)
        for i, chunk in enumerate(chunks):
            for key in identifiers.extract(f"{chunk.heading}\n{chunk.text}"):
                found[key].append(i)
                articles_with[key].add(chunk.article_id)
                display.setdefault(key, key)
        weight = {k: 1.0 / math.sqrt(len(v)) for k, v in articles_with.items()}
        return cls(dict(declared), dict(found), display, weight)

    def to_json(self) -> dict:
        return {"declared": self.declared, "found": self.found, "display": self.display, "weight": self.weight}

    @classmethod
    def from_json(cls, data: dict) -> "IdentifierIndex":
        return cls(data["declared"], data["found"], data["display"], data["weight"])

    @cached_property
    def _declared_re(self) -> re.Pattern | None:
        """Every declared code as a literal phrase (``latency_mode``, ``503 Slow Down``,
        ``WriteN, RTMP send error``): codes that no identifier pattern would extract."""
        keys = [k for k in self.declared if len(k) >= 3]
        if not keys:
            return None
        return re.compile(r"(?<![\w.-])" + _trie_pattern(keys) + r"(?![\w-])")

    def declared_in(self, text: str) -> set[str]:
        pattern = self._declared_re
        return set(pattern.findall(identifiers.SPACES_RE.sub(" ", text.lower()))) if pattern else set()

    @cached_property
    def _arrays(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], int]:
        """``declared`` and ``found`` as int64 arrays of chunk numbers, and the number of chunks."""
        declared = {k: np.asarray(v, dtype=np.int64) for k, v in self.declared.items()}
        found = {k: np.asarray(v, dtype=np.int64) for k, v in self.found.items()}
        size = max((int(a.max()) + 1 for a in (*declared.values(), *found.values()) if len(a)), default=0)
        return declared, found, size

    def match(self, text: str, skip: Callable[[str], bool] | None = None) -> "IdentifierHits":
        """Chunks that share an identifier with ``text``; bare numbers only match declared codes.
        ``names`` holds the matched keys (``display`` has them as the KB writes them); keys for
        which ``skip`` is true are not matched (log keywords, see ``identifier_filters``).
        Summed with numpy over (key, chunk) pairs: a ticket naming every declared code of a large
        index makes ~10⁶ pairs, which a Python loop walked in ~1 s (issue 17)."""
        spans = identifiers.extract(text)
        numbers = identifiers.numbers(text)
        if skip is not None:
            spans = {key for key in spans if not skip(key)}
        declared_keys = [key for key in spans | numbers | self.declared_in(text)
                         if key in self.declared and not (skip is not None and skip(key))]
        found_keys = [key for key in spans if key in self.found]
        declared, found, size = self._arrays
        keys = declared_keys + found_keys
        lists = [declared[k] for k in declared_keys] + [found[k] for k in found_keys]
        return IdentifierHits.from_pairs(keys, lists, [self.weight[k] for k in keys], len(declared_keys), size)


class IdentifierHits(Mapping):
    """The identifier lane's hits: a read-only {chunk: IdentifierMatch} mapping built lazily from
    (key, chunk) pair arrays, with the per-chunk sums as arrays for the ranking:
    ``chunks`` (ascending), ``declared``/``found`` (summed weights), ``matched_keys``."""

    def __init__(self, keys: list[str], pair_key: np.ndarray, pair_chunk: np.ndarray, pair_declared: np.ndarray,
                 weights: np.ndarray, size: int):
        self._keys, self._pair_key, self._pair_chunk = keys, pair_key, pair_chunk
        self._pair_declared, self._weights, self._size = pair_declared, weights, size
        # the pairs are ordered by key, declared keys first (``from_pairs``; ``restrict`` keeps the
        # order): each sum is a slice, and the keys present are found by binary search (issue 17:
        # ~10⁶ pairs for a ticket naming every code of a 100,000-chunk index)
        split = int(np.count_nonzero(pair_declared))
        pair_weight = weights[pair_key]
        declared = np.bincount(pair_chunk[:split], pair_weight[:split], minlength=size)
        found = np.bincount(pair_chunk[split:], pair_weight[split:], minlength=size)
        self.chunks = np.flatnonzero((declared > 0) | (found > 0))   # every weight is > 0
        self.declared, self.found = declared[self.chunks], found[self.chunks]
        every_key = np.arange(len(keys))
        present = np.searchsorted(pair_key, every_key, "right") > np.searchsorted(pair_key, every_key, "left")
        self.matched_keys = {keys[i] for i in np.flatnonzero(present).tolist()}
        self._names: dict[int, set[str]] = {}
        self._strong: dict[Callable[[str], bool], np.ndarray] = {}

    @classmethod
    def from_pairs(cls, keys: list[str], lists: list[np.ndarray], weights: list[float], n_declared: int,
                   size: int) -> "IdentifierHits":
        """``lists[j]``: the chunks of ``keys[j]`` (the first ``n_declared`` are declared matches)."""
        lengths = np.array([len(a) for a in lists], dtype=np.int64)
        pair_key = np.repeat(np.arange(len(keys)), lengths)
        pair_chunk = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
        return cls(keys, pair_key, pair_chunk, pair_key < n_declared, np.array(weights, dtype=np.float64), size)

    @classmethod
    def empty(cls) -> "IdentifierHits":
        return cls.from_pairs([], [], [], 0, 0)

    def restrict(self, allowed: np.ndarray) -> "IdentifierHits":
        """Only the hits on chunks in ``allowed``."""
        keep = np.zeros(max(self._size, int(allowed.max(initial=-1)) + 1), dtype=bool)
        keep[allowed] = True
        at = keep[self._pair_chunk]
        return IdentifierHits(self._keys, self._pair_key[at], self._pair_chunk[at], self._pair_declared[at],
                              self._weights, self._size)

    def strong(self, is_strong: Callable[[str], bool]) -> np.ndarray:
        """Per hit (``chunks`` order): whether any of its matched keys satisfies ``is_strong``.
        Computed once per function (the ranking asks twice; a pass over ~10⁶ pairs at 10⁵ chunks)."""
        if is_strong not in self._strong:
            flags = np.array([is_strong(k) for k in self._keys], dtype=bool)
            mask = np.zeros(self._size, dtype=bool)
            mask[self._pair_chunk[flags[self._pair_key]]] = True
            self._strong[is_strong] = mask[self.chunks]
            self._strong[is_strong].flags.writeable = False
        return self._strong[is_strong]

    def prepare(self, chunks: list[int]) -> None:
        """Gather the ``names`` of these chunks in one pass over the pairs (then ``self[i]`` is cheap)."""
        chunks = [i for i in chunks if 0 <= i < self._size]
        want = np.zeros(self._size, dtype=bool)
        want[chunks] = True
        names: dict[int, set[str]] = {i: set() for i in chunks}
        at = want[self._pair_chunk]
        for chunk, key in zip(self._pair_chunk[at].tolist(), self._pair_key[at].tolist()):
            names[chunk].add(self._keys[key])
        self._names.update((i, n) for i, n in names.items() if n)

    def __getitem__(self, chunk: int) -> IdentifierMatch:
        at = np.searchsorted(self.chunks, chunk)
        if at >= len(self.chunks) or self.chunks[at] != chunk:
            raise KeyError(chunk)
        if chunk not in self._names:
            self.prepare([chunk])
        return IdentifierMatch(float(self.declared[at]), float(self.found[at]), set(self._names[chunk]))

    def __iter__(self) -> Iterator[int]:
        return iter(self.chunks.tolist())

    def __len__(self) -> int:
        return len(self.chunks)

    def __contains__(self, chunk: object) -> bool:
        if not isinstance(chunk, (int, np.integer)):
            return False
        at = np.searchsorted(self.chunks, chunk)
        return bool(at < len(self.chunks) and self.chunks[at] == chunk)
