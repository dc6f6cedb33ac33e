"""The query side: one ``Searcher`` per loaded build. Thread-safe for reads.

Hybrid ranking, in order of precedence:

1. **Identifier tier** — sections of articles that *declare* a code found in the query
   (front matter ``error_codes`` / ``related_alerts``), or whose text contains a specific
   identifier from the query (see ``identifiers.is_strong``), rank above every other section.
2. Inside each tier: fused dense + lexical score (``fusion``) plus the identifier evidence
   (``declared_boost`` / ``found_boost`` × the weights of the matched identifiers; rarer ones weigh more).

``dense`` and ``lexical`` modes rank by their single lane only (for comparison and evaluation).
"""
from __future__ import annotations

import time
from typing import NamedTuple
from pathlib import Path
from dataclasses import dataclass, field

import numpy as np

from search import dense, fusion, store
from search.build import LoadedBuild
from search.encoder import Encoder, make_encoder, resolve_model
from search.errors import QueryError
from search.ident_index import IdentifierMatch
from search.identifiers import is_strong, normalize
from search.lexical import top_k
from search.lexical_tokens import tokenize
from search.results import ArticleResult, SectionHit, Snippets, group_by_article

MODES = ("hybrid", "dense", "lexical")
TYPES = ("runbook", "faq", "reference")


@dataclass(frozen=True)
class SearchConfig:
    fusion: fusion.FusionConfig = field(default_factory=lambda: fusion.FusionConfig("convex", 0.6))
    declared_boost: float = 0.5   # × weight of each query identifier the article declares
    found_boost: float = 0.25     # × weight of each query identifier found in the section's text
    # "No confident match" when the best section has no identifier hit and its cosine similarity
    # to the query is below this. Calibrated on eval/tickets.jsonl (docs/retrieval.md).
    min_dense_score: float = 0.34
    # Lexical mode has no cosine: BM25 of the best section below this is "not confident".
    min_lexical_score: float = 4.0


@dataclass
class SearchResponse:
    query: str
    mode: str
    results: list[ArticleResult]
    confident: bool
    identifiers: list[str]
    build_id: str
    took_ms: float

    def to_json(self) -> dict:
        return {"query": self.query, "mode": self.mode, "confident": self.confident,
                "no_confident_match": not self.confident, "identifiers": self.identifiers,
                "build_id": self.build_id, "took_ms": round(self.took_ms, 2),
                "results": [r.to_json() for r in self.results]}


class _Ranked(NamedTuple):
    chunk: int
    anchor: str
    score: float


class Searcher:
    def __init__(self, build: LoadedBuild, encoder: Encoder | None, config: SearchConfig | None = None):
        self.build = build
        self.encoder = encoder
        self.config = config or SearchConfig()
        self._areas = {a["service_area"] for a in build.articles.values()}

    @property
    def areas(self) -> list[str]:
        return sorted(self._areas)

    # -- filters ----------------------------------------------------------------------------
    def _allowed(self, area: str | None, type_: str | None, tag: str | None) -> np.ndarray | None:
        if not (area or type_ or tag):
            return None
        for name, value, known in (("area", area, self._areas), ("type", type_, TYPES)):
            if value and value not in known:
                raise QueryError(f"parameter '{name}': {value!r} is not one of: " + ", ".join(sorted(known)))
        keep = {aid for aid, a in self.build.articles.items()
                if (not area or a["service_area"] == area) and (not type_ or a["type"] == type_)
                and (not tag or tag in a.get("tags", ()))}
        return np.array([i for i, aid in enumerate(self.build.chunk_article) if aid in keep], dtype=np.int64)

    # -- lanes -------------------------------------------------------------------------------
    def _dense(self, vector: np.ndarray, allowed: np.ndarray | None, extra: list[int]) -> dict[int, float]:
        ids, scores = dense.search(self.build.dense_index, vector, self.config.fusion.candidates, allowed)
        out = {int(i): float(s) for i, s in zip(ids, scores)}
        missing = [i for i in extra if i not in out]
        for i, s in zip(missing, dense.scores_for(self.build.dense_index, vector, missing)):
            out[i] = float(s)
        return out

    def _lexical(self, query: str, allowed: np.ndarray | None) -> tuple[dict[int, float], np.ndarray]:
        all_scores = self.build.lexical.scores(tokenize(query))
        mask = None
        if allowed is not None:
            mask = np.zeros(len(all_scores), dtype=bool)
            mask[allowed] = True
        ids, scores = top_k(all_scores, self.config.fusion.candidates, mask)
        return {int(i): float(s) for i, s in zip(ids, scores)}, all_scores

    def _identifiers(self, query: str, allowed: np.ndarray | None) -> dict[int, IdentifierMatch]:
        hits = self.build.identifiers.match(query)
        if allowed is not None:
            ok = set(allowed.tolist())
            hits = {i: m for i, m in hits.items() if i in ok}
        return hits

    # -- query -------------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, mode: str = "hybrid", area: str | None = None,
               type: str | None = None, tag: str | None = None) -> SearchResponse:  # noqa: A002 - API name
        """Rank sections for ``query`` and group them per article. Raises QueryError on bad input."""
        started = time.perf_counter()
        if mode not in MODES:
            raise QueryError(f"parameter 'mode': {mode!r} is not one of {', '.join(MODES)}")
        if not isinstance(k, int) or not 1 <= k <= 50:
            raise QueryError("parameter 'k': must be an integer from 1 to 50")
        if not query or not query.strip():
            raise QueryError("parameter 'q': empty query; type some words, an error code or paste a ticket")
        allowed = self._allowed(area, type, tag)
        lexical, lexical_all = ({}, None) if mode == "dense" else self._lexical(query, allowed)
        idents = self._identifiers(query, allowed) if mode == "hybrid" else {}
        dense_scores: dict[int, float] = {}
        if mode != "lexical":
            # (running the sparse lanes in a thread while encoding was tried: it saved ~0.2 ms at one
            # client but cost 40% of the throughput at 16 clients through GIL hand-offs)
            vector = self.encoder.encode([query])[0]
            dense_scores = self._dense(vector, allowed, list(lexical) + list(idents) if mode == "hybrid" else [])
        ranked = self._rank(mode, dense_scores, lexical, idents)
        # group light (chunk, anchor, score) records first; full hits only for the sections kept
        groups = [(aid, self._hit(best, dense_scores, lexical_all, idents),
                   [self._hit(m, dense_scores, lexical_all, idents) for m in more])
                  for aid, best, more in group_by_article([_Ranked(i, self.build.chunks[i]["anchor"], score)
                                                           for i, score in ranked[:k * 8]],
                                                          self.build.chunk_article, k)]
        snippets = Snippets(query)
        for _aid, best, _more in groups:   # a snippet for each article's best section
            best.snippet = snippets(self.build.chunks[best.chunk]["text"])
        results = [self._article(aid, best, more) for aid, best, more in groups]
        confident = self._confident(mode, results, dense_scores, lexical)
        found = sorted({m for h in idents.values() for m in h.names})
        return SearchResponse(query, mode, results, confident, found, self.build.build_id,
                              (time.perf_counter() - started) * 1000)

    def _rank(self, mode, dense_scores, lexical, idents) -> list[tuple[int, float]]:
        if mode == "dense":
            fused = dense_scores
        elif mode == "lexical":
            fused = lexical
        else:
            fused = fusion.fuse(dense_scores, lexical, self.config.fusion)
        # sort keys (-tier, -score, chunk): identifier tier first, then score, ties by chunk number
        keyed = [(0, -score, i) for i, score in fused.items() if i not in idents]
        for i, match in idents.items():
            evidence = self.config.declared_boost * match.declared + self.config.found_boost * match.found
            keyed.append((-1 if self._tiered(match) else 0, -(fused.get(i, 0.0) + evidence), i))
        keyed.sort()
        return [(i, -neg_score - neg_tier) for neg_tier, neg_score, i in keyed]

    @staticmethod
    def _tiered(match: IdentifierMatch) -> bool:
        return match.declared > 0 or any(is_strong(normalize(n)) for n in match.names)

    def _hit(self, ranked: "_Ranked", dense_scores, lexical_all, idents) -> SectionHit:
        i, score = ranked.chunk, ranked.score
        chunk = self.build.chunks[i]
        article = self.build.articles[chunk["article_id"]]
        lanes = (["identifier"] if i in idents else []) + \
                (["lexical"] if lexical_all is not None and lexical_all[i] > 0 else []) + \
                (["dense"] if i in dense_scores else [])
        names = sorted(idents[i].names) if i in idents else []
        url = article["url"] + (f"#{chunk['anchor']}" if chunk["anchor"] else "")
        return SectionHit(i, chunk["anchor"], chunk["heading"] or article["title"], chunk["heading_path"], url,
                          round(float(score), 6), lanes, names)

    def _article(self, aid: str, best: SectionHit, more: list[SectionHit]) -> ArticleResult:
        a = self.build.articles[aid]
        return ArticleResult(aid, a["title"], a["type"], a["service_area"], a["url"], a["stable_url"],
                             best.score, best, more)

    def _confident(self, mode, results, dense_scores, lexical) -> bool:
        if not results:
            return False
        best = results[0].best
        if "identifier" in best.lanes:
            return True
        if mode == "lexical":
            return lexical.get(best.chunk, 0.0) >= self.config.min_lexical_score
        top_dense = max((dense_scores.get(h.chunk, 0.0) for r in results[:3] for h in [r.best, *r.more]), default=0.0)
        return top_dense >= self.config.min_dense_score


def open_searcher(settings, encoder: Encoder | None = None, config: SearchConfig | None = None,
                  fingerprint: str | None = None) -> Searcher:
    """Load the published build named by ``current`` after verifying it against the settings."""
    fingerprint = fingerprint or resolve_model(settings.model).fingerprint
    directory = store.current_dir(settings.index_path)
    encoder = encoder or make_encoder(settings.model, settings.encoder_backend, Path(settings.data_dir), "query")
    build = LoadedBuild.open(directory, expect_model=fingerprint, expect_dim=encoder.dim)
    return Searcher(build, encoder, config)
