""""No confident match": the evidence that a query is one the KB does not answer. Pure functions.

Studied on the labelled tickets (answerable) against ``eval/uncovered.jsonl`` (in-domain tickets
no article answers) with ``scripts/calibrate_threshold.py``; ``scripts/study_abstention.py`` measured further
candidates (section coverage, rare words together, reverse coverage, word pairs, cosine contrast), none
better (issue 21, session 10); docs/retrieval.md has the figures. Two
pieces of evidence carry the separation, and neither suffices alone:

* **cosine** — the best cosine similarity between the query's embedding and a section listed for
  the top 3 articles. An in-domain question the KB cannot answer still reads like the KB (it is
  about players, uploads, live…), so its cosine is only somewhat lower than an answerable one's.
* **coverage** — how much of the query's *specific* vocabulary the top article uses: the
  IDF-weighted share of the query's distinct content words (stemmed, ≥ 3 characters, not bare
  numbers) that occur anywhere in the top article; words the KB never uses count with the highest
  weight. "burn our logo in as a watermark" finds articles about processing, but none of them says
  watermark or logo.

A query is confident when its best section is in the identifier tier (it declares one of the
query's codes, or its text holds a specific identifier of it), or when
``cosine + COVERAGE_WEIGHT · coverage`` reaches the calibrated threshold (``SearchConfig``).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

COVERAGE_WEIGHT = 0.5


@dataclass(frozen=True)
class Evidence:
    identifier: bool    # the best section is in the identifier tier
    cosine: float       # best cosine of a listed section of the top 3 articles
    coverage: float     # IDF-weighted share of the query's content words the top article uses

    @property
    def score(self) -> float:
        return self.cosine + COVERAGE_WEIGHT * self.coverage


def content_words(tokens: Iterable[str]) -> list[str]:
    """Distinct lexical tokens worth checking, in order: ≥ 3 characters and not a bare number."""
    seen: dict[str, None] = {}
    for token in tokens:
        if len(token) >= 3 and not token.lstrip("-").isdigit():
            seen.setdefault(token, None)
    return list(seen)


def idf(document_frequency: int, documents: int) -> float:
    """BM25's (Lucene) inverse document frequency; a word no document has gets the highest value."""
    return math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


def coverage(words: list[str], document_frequency: Callable[[str], int], documents: int,
             in_top: Callable[[str], bool]) -> float:
    """IDF-weighted share of ``words`` for which ``in_top(word)`` (the top article uses it).
    1.0 for a query without content words (nothing to contradict the ranking)."""
    weights = {word: idf(document_frequency(word), documents) for word in words}
    total = sum(weights.values())
    if total <= 0:
        return 1.0
    return sum(weight for word, weight in weights.items() if in_top(word)) / total


def confident(evidence: Evidence, threshold: float) -> bool:
    return evidence.identifier or evidence.score >= threshold
