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

from search import abstention, dense, fusion, store
from search.build import LoadedBuild
from search.encoder import Encoder, make_encoder, resolve_model
from search.errors import QueryError
from search.ident_index import IdentifierHits
from search.identifier_filters import as_written, not_identifier, without_frames
from search.identifiers import is_strong
from search.lexical import top_k
from search.lexical_tokens import tokenize
from search.results import (PREPARED_TEXTS, ArticleResult, SectionHit, Snippets, article_scores, by_article_score,
                            group_by_article, is_link_list, prepare, promote, sentence_keys)

MODES = ("hybrid", "dense", "lexical")
TYPES = ("runbook", "faq", "reference")


@dataclass(frozen=True)
class SearchConfig:
    fusion: fusion.FusionConfig = field(default_factory=lambda: fusion.FusionConfig("confidence", 0.6))
    declared_boost: float = 0.5   # × weight of each query identifier the article declares
    found_boost: float = 0.25     # × weight of each query identifier found in the section's text
    # "No confident match" when the best section is not in the identifier tier and
    # best cosine + 0.5 · coverage of the query's words by the top article is below this
    # (search/abstention.py). Calibrated by scripts/calibrate_threshold.py (docs/retrieval.md).
    min_evidence: float = 0.60
    # Lexical mode has no cosine: BM25 of the best section below this is "not confident".
    min_lexical_score: float = 4.0
    # An article's score: its best section's + this × its best other section's (search/results.py,
    # article_scores; docs/retrieval.md has the grid 0–0.5 on the tickets). 0: best section only.
    second_section: float = 0.1
    # At most this many identifier hits become candidates (each is scored by the dense lane and
    # fused): the best by identifier tier, then identifier evidence, then chunk number. A ticket
    # naming the codes of a 100,000-chunk index matched ~10⁵ chunks, each scored and sorted (issue
    # 17; docs/performance.md). Far above the KB's own: it has ~1,000 chunks in all.
    max_identifier_candidates: int = 2000
    # Hybrid: each lane's best article (the dense lane's, the lexical lane's) is kept among the first
    # this many articles, even when the fusion ranks it lower (docs/retrieval.md, session 10). 0: off.
    lane_winners_within: int = 5


@dataclass
class SearchResponse:
    query: str
    mode: str
    results: list[ArticleResult]
    confident: bool
    identifiers: list[str]
    build_id: str
    took_ms: float
    evidence: abstention.Evidence | None = None   # why it is (not) confident; not in the JSON
    matched_articles: int | None = None   # articles holding a query word or identifier (None: dense mode)

    def to_json(self) -> dict:
        return {"query": self.query, "mode": self.mode, "confident": self.confident,
                "no_confident_match": not self.confident, "identifiers": self.identifiers,
                "matched_articles": self.matched_articles,
                "build_id": self.build_id, "took_ms": round(self.took_ms, 2),
                "results": [r.to_json() for r in self.results]}


class _Candidates(NamedTuple):
    """One query's candidate chunks (ascending chunk numbers) and each lane's score for them
    (float64; NaN where the chunk is not among that lane's results)."""
    chunks: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    lexical_ceiling: float = 0.0   # the best BM25 score the query's tokens could reach here


def _best(scores: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` of ``ids`` (ascending) with the highest ``scores[ids]``, ties to the first ids,
    in no particular order: what a stable sort by score would keep, in linear time."""
    if n <= 0:
        return ids[:0]
    if n >= len(ids):
        return ids
    values = scores[ids]
    kth = np.partition(values, len(ids) - n)[len(ids) - n]   # the n-th highest score
    above = ids[values > kth]
    return np.concatenate([above, ids[values == kth][:n - len(above)]])


def _spread(chunks: np.ndarray, ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``scores`` of ``ids`` at their positions among the sorted ``chunks``; NaN elsewhere."""
    out = np.full(len(chunks), np.nan)
    out[np.searchsorted(chunks, ids)] = scores
    return out


class Searcher:
    def __init__(self, build: LoadedBuild, encoder: Encoder | None, config: SearchConfig | None = None):
        self.build = build
        self.encoder = encoder
        self.config = config or SearchConfig()
        self._areas = {a["service_area"] for a in build.articles.values()}
        self._audience_masks: dict[frozenset[str], np.ndarray] = {}
        self._anchors = [c["anchor"] for c in build.chunks]
        self._sections = [self._section(c) for c in build.chunks]   # each hit's fixed fields, made once
        # link lists (Related, See also) never rank; empty sections (a heading whose text is all in
        # its subsections) may place their article but are not shown: another section is
        self._link_list = np.array([is_link_list(c["heading"]) for c in build.chunks], dtype=bool)
        self._shown = [bool(c["text"].strip()) and not link for c, link in zip(build.chunks, self._link_list)]
        self._article_of = np.asarray(build.chunk_article)
        _, self._article_index = np.unique(self._article_of, return_inverse=True)   # chunk → article number
        self._fallback: dict[str, int] = {}   # article → its first section that can be shown
        for i, chunk in enumerate(build.chunks):
            if self._shown[i]:
                self._fallback.setdefault(chunk["article_id"], i)
        build.identifiers.match("")   # compiles the declared-code pattern now (~0.1 s), not in a request
        if len(build.chunks) <= PREPARED_TEXTS:   # while the caches hold them all (~60 ms for 833): no
            for chunk in build.chunks:            # query is the first to need a section's snippet data
                prepare(chunk["text"])            # or its sentences (the ticket assistant's 'why it matched')
                sentence_keys(chunk["text"])

    @property
    def areas(self) -> list[str]:
        return sorted(self._areas)

    # -- filters ----------------------------------------------------------------------------
    def _allowed(self, area: str | None, type_: str | None, tag: str | None,
                 hidden: frozenset[str] = frozenset()) -> np.ndarray | None:
        if not (area or type_ or tag or hidden):
            return None
        if not (area or type_ or tag):   # an audience filter alone: the same for every request of a caller kind
            cached = self._audience_masks.get(hidden)
            if cached is None:
                cached = self._audience_masks[hidden] = self._filter(None, None, None, hidden)
            return cached
        return self._filter(area, type_, tag, hidden)

    def _filter(self, area: str | None, type_: str | None, tag: str | None, hidden: frozenset[str]) -> np.ndarray:
        for name, value, known in (("area", area, self._areas), ("type", type_, TYPES)):
            if value and value not in known:
                raise QueryError(f"parameter '{name}': {value!r} is not one of: " + ", ".join(sorted(known)))
        keep = {aid for aid, a in self.build.articles.items()
                if (not area or a["service_area"] == area) and (not type_ or a["type"] == type_)
                and (not tag or tag in a.get("tags", ())) and (a.get("audience") or "internal") not in hidden}
        return np.array([i for i, aid in enumerate(self.build.chunk_article) if aid in keep], dtype=np.int64)

    # -- lanes -------------------------------------------------------------------------------
    def _candidates(self, query: str, focus: str, mode: str, allowed: np.ndarray | None,
                    idents: IdentifierHits) -> tuple[_Candidates, np.ndarray | None]:
        """Each lane's top candidates (and, in hybrid mode, the identifier matches) with their lane
        scores; every candidate gets its exact dense score. Also every chunk's BM25 score. The
        sparse lanes read ``query``; the dense lane embeds ``focus``."""
        n = self.config.fusion.candidates
        lexical_all, lexical_ids, lexical_scores = None, np.zeros(0, dtype=np.int64), np.zeros(0)
        ceiling = 0.0
        if mode != "dense":
            tokens = tokenize(query)
            lexical_all = self.build.lexical.scores(tokens)
            if mode == "hybrid":   # only the fusion needs it
                ceiling = self.build.lexical.ceiling(tokens)
            lexical_ids, lexical_scores = top_k(lexical_all, n, self._mask(allowed, len(lexical_all)))
        if mode == "lexical":
            chunks, dense_scores = lexical_ids, np.full(len(lexical_ids), np.nan)
        else:
            # (running the sparse lanes in a thread while encoding was tried: it saved ~0.2 ms at one
            # client but cost 40% of the throughput at 16 clients through GIL hand-offs)
            vector = self.encoder.encode([focus])[0]
            extra = np.concatenate([lexical_ids, self._identifier_candidates(idents)])
            chunks, dense_scores = dense.candidates(self.build.dense_index, vector, n, allowed, extra,
                                                    self.build.dense_vectors)
        lanes = _Candidates(chunks, dense_scores.astype(np.float64), _spread(chunks, lexical_ids, lexical_scores),
                            ceiling)
        return lanes, lexical_all

    @staticmethod
    def _mask(allowed: np.ndarray | None, size: int) -> np.ndarray | None:
        if allowed is None:
            return None
        mask = np.zeros(size, dtype=bool)
        mask[allowed] = True
        return mask

    def _identifiers(self, query: str, allowed: np.ndarray | None) -> IdentifierHits:
        text = without_frames(query)
        hits = self.build.identifiers.match(text, skip=not_identifier(text, self.build.identifiers.declared))
        return hits.restrict(allowed) if allowed is not None else hits

    # -- query -------------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, mode: str = "hybrid", area: str | None = None,
               type: str | None = None, tag: str | None = None,  # noqa: A002 - API name
               focus: str | None = None, hidden_audiences: frozenset[str] = frozenset()) -> SearchResponse:
        """Rank sections for ``query`` and group them per article. Raises QueryError on bad input.

        ``focus``: a shorter statement of what the query is about (a ticket's cleaned description,
        see ``search.ticket.ticket_query``). The dense lane embeds it and snippets highlight its
        terms; the lexical and identifier lanes still read all of ``query`` (pasted logs included).
        Default: the query itself. ``hidden_audiences``: articles of these audiences (an undeclared
        audience counts as internal) are left out, their sections too."""
        started = time.perf_counter()
        if mode not in MODES:
            raise QueryError(f"parameter 'mode': {mode!r} is not one of {', '.join(MODES)}")
        if not isinstance(k, int) or not 1 <= k <= 50:
            raise QueryError("parameter 'k': must be an integer from 1 to 50")
        if not query or not query.strip():
            raise QueryError("parameter 'q': empty query; type some words, an error code or paste a ticket")
        focus = focus if focus and focus.strip() else query
        allowed = self._allowed(area, type, tag, hidden_audiences)
        idents = self._identifiers(query, allowed) if mode == "hybrid" else IdentifierHits.empty()
        candidates, lexical_all = self._candidates(query, focus, mode, allowed, idents)
        winners = self._lane_winners(candidates) if mode == "hybrid" else []
        # the pool that article scores are computed from does not depend on k (up to k 25): with k * 8
        # alone, an article's second section counted for k 20 and not for k 10, and the top 5 changed
        ranked = self._rank(mode, candidates, idents, max(k * 8, 2 * self.config.fusion.candidates), winners)
        spelling = self._spelling(query, idents)
        groups = self._groups(ranked, k, mode, lexical_all, idents, spelling, winners)
        snippets = Snippets(focus)
        for _aid, _score, (best, *_more) in groups:   # a snippet for each article's best section
            best.snippet = snippets(self.build.chunks[best.chunk]["text"])
        results = [self._article(aid, best, more, score) for aid, score, (best, *more) in groups]
        evidence = self._evidence(mode, results, candidates, idents, focus)
        confident = self._confident(mode, results, candidates, evidence)
        found = sorted(set(spelling.values()))
        return SearchResponse(query, mode, results, confident, found, self.build.build_id,
                              (time.perf_counter() - started) * 1000, evidence,
                              self._matched_articles(lexical_all, idents, allowed))

    def _matched_articles(self, lexical_all: np.ndarray | None, idents: IdentifierHits,
                          allowed: np.ndarray | None) -> int | None:
        """How many articles (within the filters) hold at least one of the query's words or
        identifiers: the honest "N articles match" behind a page of at most k results. Every
        article is *near* a query in the dense lane, so dense mode has no count (None)."""
        if lexical_all is None:
            return None
        hit = lexical_all > 0
        hit[idents.chunks] = True
        if allowed is not None:
            hit &= self._mask(allowed, len(hit))
        return int(np.count_nonzero(np.bincount(self._article_index[hit], minlength=1)))   # linear, no sort

    def _spelling(self, query: str, idents: IdentifierHits) -> dict[str, str]:
        """Each matched identifier key as the query wrote it (as the KB writes it if the query's
        spelling cannot be found, e.g. a code that only matched as a bare number)."""
        keys = idents.matched_keys
        written = as_written(query, keys)
        return {key: written.get(key) or self.build.identifiers.display.get(key, key) for key in keys}

    def _groups(self, ranked: dict[int, float], k: int, mode: str, lexical_all: np.ndarray | None,
                idents: IdentifierHits, spelling: dict[str, str],
                winners: list[int]) -> list[tuple[str, float, list[SectionHit]]]:
        """Ranked chunks grouped per article (chunk numbers first; full hits only for the sections
        kept). An article placed only by sections that are not shown gets its first section with
        text, at the article's score, so every result has a section and a snippet. The articles of
        ``winners`` (each lane's best chunk) are promoted into the first ``lane_winners_within``."""
        article_of = self.build.chunk_article
        article_score = article_scores(ranked, article_of, self._anchors, self.config.second_section)
        order = promote(by_article_score(ranked, article_of, article_score), article_of,
                        [article_of[c] for c in winners], self.config.lane_winners_within)
        groups = group_by_article(order, article_of, self._anchors, k, shown=self._shown)
        idents.prepare([i for _aid, chunks in groups for i in chunks])   # their names in one pass
        return [(aid, round(article_score[aid], 6),
                 [self._hit(i, ranked.get(i, article_score[aid]), mode, lexical_all, idents, spelling)
                  for i in (chunks or [self._fallback[aid]])])
                for aid, chunks in groups if chunks or aid in self._fallback]

    def _lane_winners(self, candidates: _Candidates) -> list[int]:
        """Each lane's best article as that lane alone ranks it (``--mode dense`` / ``lexical``: best
        section + ``second_section`` × another; link lists excluded; the lexical lane only if it
        matched a word), given as the chunk of its best section in that lane."""
        usable_chunks = ~self._link_list[candidates.chunks]
        winners = []
        for scores in (candidates.dense, candidates.lexical):
            at = np.flatnonzero(usable_chunks & ~np.isnan(scores) & (scores > 0))
            if not len(at):
                continue
            # that lane's own top candidates, ties by chunk number as in its ranking
            at = at[np.argsort(-scores[at], kind="stable")][:self.config.fusion.candidates]
            ranked = dict(zip(candidates.chunks[at].tolist(), scores[at].tolist()))
            by_article = article_scores(ranked, self.build.chunk_article, self._anchors, self.config.second_section)
            best = max(by_article, key=by_article.__getitem__)   # the first of equal scores
            winners.append(next(c for c in ranked if self.build.chunk_article[c] == best))
        return winners

    def _rank(self, mode: str, candidates: _Candidates, idents: IdentifierHits,
              limit: int, keep: list[int] | None = None) -> dict[int, float]:
        """The ``limit`` best candidates, best first, as {chunk: score}: identifier tier first (a
        tiered section's score is lifted by 1), then score, ties by chunk number; the chunks of
        ``keep`` are included even when they rank lower (at their place, after the others)."""
        if mode == "dense":
            fused = candidates.dense
        elif mode == "lexical":
            fused = candidates.lexical
        else:
            fused = fusion.fuse(candidates.dense, candidates.lexical, self.config.fusion,
                                candidates.lexical_ceiling)
        evidence, tier = self._identifier_evidence(candidates.chunks, idents)
        score = fused + evidence
        order = np.lexsort((-score, -tier))   # stable, and the chunks ascend: ties by chunk number
        order = order[~self._link_list[candidates.chunks[order]]]   # link lists never rank
        order = np.concatenate([order[:limit], order[limit:][np.isin(candidates.chunks[order[limit:]], keep or [])]])
        return dict(zip(candidates.chunks[order].tolist(), (score + tier)[order].tolist()))

    def _identifier_candidates(self, idents: IdentifierHits) -> np.ndarray:
        """The identifier hits that become candidates (ascending): all of them up to
        ``max_identifier_candidates``; beyond that, the sections that can rank (no link lists), best
        first by identifier tier, then identifier evidence, then chunk number (linear: no sort)."""
        cap = self.config.max_identifier_candidates
        if len(idents) <= cap:
            return idents.chunks
        evidence = self.config.declared_boost * idents.declared + self.config.found_boost * idents.found
        tier = (idents.declared > 0) | idents.strong(is_strong)
        can_rank = ~self._link_list[idents.chunks]
        first = _best(evidence, np.flatnonzero(tier & can_rank), cap)
        rest = _best(evidence, np.flatnonzero(~tier & can_rank), cap - len(first))
        return np.sort(idents.chunks[np.concatenate([first, rest])])

    def _identifier_evidence(self, chunks: np.ndarray,
                             idents: IdentifierHits) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate: the identifier boost added to its score, and 1.0 if it is in the
        identifier tier (declares a query code, or its text holds a strong identifier of the query).
        ``chunks`` (ascending) need not hold every hit (``_identifier_candidates``)."""
        evidence, tier = np.zeros(len(chunks)), np.zeros(len(chunks))
        if len(idents) and len(chunks):
            at = np.minimum(np.searchsorted(idents.chunks, chunks), len(idents) - 1)   # each candidate's hit
            hit = idents.chunks[at] == chunks
            at = at[hit]
            evidence[hit] = self.config.declared_boost * idents.declared[at] + self.config.found_boost * idents.found[at]
            tier[hit] = (idents.declared[at] > 0) | idents.strong(is_strong)[at]
        return evidence, tier

    def _section(self, chunk: dict) -> tuple[str, str, list[str], str]:
        """A chunk's anchor, heading (its article's title for the intro), heading path and deep link."""
        article = self.build.articles[chunk["article_id"]]
        url = article["url"] + (f"#{chunk['anchor']}" if chunk["anchor"] else "")
        return chunk["anchor"], chunk["heading"] or article["title"], chunk["heading_path"], url

    def _hit(self, i: int, score: float, mode: str, lexical_all: np.ndarray | None,
             idents: IdentifierHits, spelling: dict[str, str]) -> SectionHit:
        lanes = (["identifier"] if i in idents else []) + \
                (["lexical"] if lexical_all is not None and lexical_all[i] > 0 else []) + \
                (["dense"] if mode != "lexical" else [])   # every candidate has a dense score then
        names = sorted({spelling[key] for key in idents[i].names}) if i in idents else []
        return SectionHit(i, *self._sections[i], round(score, 6), lanes, names)

    def _article(self, aid: str, best: SectionHit, more: list[SectionHit], score: float) -> ArticleResult:
        a = self.build.articles[aid]
        return ArticleResult(aid, a["title"], a["type"], a["service_area"], a["url"], a["stable_url"],
                             score, best, more)

    def _evidence(self, mode: str, results: list[ArticleResult], candidates: _Candidates,
                  idents: IdentifierHits, focus: str) -> abstention.Evidence | None:
        """What ``abstention`` weighs: identifier tier of the best section, best cosine of the top 3
        articles' listed sections, coverage of the focus's words by the top article."""
        if not results or mode == "lexical":
            return None
        best = results[0].best
        match = idents.get(best.chunk)
        tier = bool(match and (match.declared > 0 or any(is_strong(key) for key in match.names)))
        top = np.searchsorted(candidates.chunks, [h.chunk for r in results[:3] for h in [r.best, *r.more]])
        lexical = self.build.lexical
        in_top = self._article_index == self._article_index[results[0].best.chunk]   # per chunk: of the top article?
        covered = abstention.coverage(   # (a lookup per posting: ~10⁶ of them for a long ticket at 10⁵ chunks)
            abstention.content_words(tokenize(focus)), lambda word: len(lexical.postings(word)), lexical.num_docs,
            lambda word: bool(in_top[lexical.postings(word)].any()))
        return abstention.Evidence(tier, float(np.nanmax(candidates.dense[top])), covered)

    def _confident(self, mode: str, results: list[ArticleResult], candidates: _Candidates,
                   evidence: abstention.Evidence | None) -> bool:
        if not results:
            return False
        if mode == "lexical":
            best = results[0].best
            if "identifier" in best.lanes:
                return True
            at = np.searchsorted(candidates.chunks, best.chunk)
            return bool(candidates.lexical[at] >= self.config.min_lexical_score)
        return abstention.confident(evidence, self.config.min_evidence)


def open_searcher(settings, encoder: Encoder | None = None, config: SearchConfig | None = None,
                  fingerprint: str | None = None) -> Searcher:
    """Load the published build named by ``current`` after verifying it against the settings."""
    fingerprint = fingerprint or resolve_model(settings.model).fingerprint
    directory = store.current_dir(settings.index_path)
    encoder = encoder or make_encoder(settings.model, settings.encoder_backend, Path(settings.data_dir), "query")
    build = LoadedBuild.open(directory, expect_model=fingerprint, expect_dim=encoder.dim)
    return Searcher(build, encoder, config)
