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
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

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

    def match(self, text: str, skip: Callable[[str], bool] | None = None) -> dict[int, IdentifierMatch]:
        """Chunks that share an identifier with ``text``; bare numbers only match declared codes.
        ``names`` holds the matched keys (``display`` has them as the KB writes them); keys for
        which ``skip`` is true are not matched (log keywords, see ``identifier_filters``)."""
        spans = identifiers.extract(text)
        numbers = identifiers.numbers(text)
        if skip is not None:
            spans = {key for key in spans if not skip(key)}
        hits: dict[int, IdentifierMatch] = defaultdict(IdentifierMatch)
        for key in spans | numbers | self.declared_in(text):
            if skip is not None and skip(key):
                continue
            for i in self.declared.get(key, ()):
                hits[i].declared += self.weight[key]
                hits[i].names.add(key)
        for key in spans:
            for i in self.found.get(key, ()):
                hits[i].found += self.weight[key]
                hits[i].names.add(key)
        return dict(hits)
