#!/usr/bin/env python3
"""Study: could a learned linear reranker over every signal the search has beat the fixed fusion?

    python scripts/study_reranker.py [--tickets eval/tickets.jsonl] [--site-dir site] [--data-dir data]
        [--primary-only] [--folds 5] [--seeds 0,1] [--c 0.01,0.1,1]

For each labelled ticket (searched as the ticket assistant searches it), the 20 best articles of
hybrid search get a feature vector: identifier tier, fused score, cosine of the best section and
best cosine of the article, min–max BM25, declared and found identifier weight, log number of
codes the article declares (how "catalogue-like" it is), share of the ticket's identifiers the
article matches, log number of its sections among the candidates, 1/rank, the query's dense
weight, and the article type. A pairwise logistic regression (relevant minus non-relevant
articles of the same ticket) learns the weights; k-fold cross-validation over tickets reports
Recall@5, nDCG@10 and identifier Hit@1 of the reranked lists against the shipped ranking. Only
the KB's own tickets are used, never the public sets. Nothing here is used by the product.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search import fusion  # noqa: E402
from search.evaluate import load_tickets, query_metrics  # noqa: E402
from search.searcher import open_searcher  # noqa: E402
from search.errors import SearchError  # noqa: E402
from search.settings import SettingsError, load_settings  # noqa: E402
from search.ticket import ticket_query  # noqa: E402

TYPES = ("faq", "runbook", "reference")
DEPTH = 20


def features(searcher, query) -> tuple[list[str], np.ndarray]:
    """The shipped ranking's first DEPTH articles and one feature row per article."""
    ticket = ticket_query(query.text)
    idents = searcher._identifiers(ticket.query, None)
    cand, _ = searcher._candidates(ticket.query, ticket.focus, "hybrid", None, idents)
    config = searcher.config.fusion
    weight = fusion.confidence_weight(cand.dense, cand.lexical, config.dense_weight, cand.lexical_ceiling)
    fused = fusion.fuse(cand.dense, cand.lexical, config, cand.lexical_ceiling)
    evidence, tier = searcher._identifier_evidence(cand.chunks, idents)
    lexical = np.nan_to_num(fusion.minmax(cand.lexical))
    score = fused + evidence + tier
    names = set().union(*(m.names for m in idents.values())) if idents else set()
    per: dict[str, dict] = {}
    for j, chunk in enumerate(cand.chunks.tolist()):
        f = per.setdefault(searcher.build.chunk_article[chunk],
                           {"best": -np.inf, "sections": 0, "dmax": -1.0, "names": set(), "decl": 0.0, "found": 0.0})
        f["sections"] += 1
        f["dmax"] = max(f["dmax"], cand.dense[j])
        if chunk in idents:
            m = idents[chunk]
            f["names"] |= m.names
            f["decl"], f["found"] = max(f["decl"], m.declared), max(f["found"], m.found)
        if score[j] > f["best"]:
            f.update(best=score[j], tier=tier[j], fused=fused[j], dense=cand.dense[j], lexical=lexical[j])
    order = sorted(per, key=lambda a: -per[a]["best"])[:DEPTH]
    rows = []
    for rank, aid in enumerate(order):
        f, article = per[aid], searcher.build.articles[aid]
        declared = len(article.get("error_codes", ())) + len(article.get("related_alerts", ()))
        rows.append([f["tier"], f["fused"], f["dense"], f["dmax"], f["lexical"], f["decl"], f["found"],
                     math.log1p(declared), len(f["names"]) / max(len(names), 1), math.log1p(f["sections"]),
                     1 / (rank + 1), weight, *(article["type"] == t for t in TYPES)])
    return order, np.array(rows, dtype=float)


def train(data, indexes, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression   # comes with sentence-transformers

    x, y = [], []
    for i in indexes:
        query, order, rows = data[i]
        relevant = [k for k, a in enumerate(order) if a in query.relevant]
        other = [k for k, a in enumerate(order) if a not in query.relevant][:10]
        for p in relevant:
            for n in other:
                x += [rows[p] - rows[n], rows[n] - rows[p]]
                y += [1, 0]
    return LogisticRegression(C=c, fit_intercept=False, max_iter=2000).fit(np.array(x), np.array(y)).coef_[0]


def summary(data, ranked: dict[int, list[str]]) -> str:
    metrics = [query_metrics(ranked[i], data[i][0].relevant) for i in range(len(data))]
    ident = [m["hit@1"] for i, m in enumerate(metrics) if data[i][0].has_identifier]
    return (f"R@5 {np.mean([m['recall@5'] for m in metrics]):.3f}  nDCG {np.mean([m['ndcg@10'] for m in metrics]):.3f}"
            f"  idHit@1 {np.mean(ident):.3f}")


def _numbers(kind, positive: bool = False):
    """An argparse type: a comma-separated list of ``kind`` (bad values are a usage error)."""
    def parse(text: str) -> list:
        try:
            values = [kind(v) for v in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated {kind.__name__} values") from None
        if positive and any(v <= 0 for v in values):
            raise argparse.ArgumentTypeError(f"{text!r}: every value must be > 0")
        return values
    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", default="eval/tickets.jsonl")
    parser.add_argument("--site-dir", default="site")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--primary-only", action="store_true", help="only the tickets' article_ids are relevant")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (at least 2)")
    parser.add_argument("--seeds", type=_numbers(int), default="0,1", help="fold shuffles to try")
    parser.add_argument("--c", type=_numbers(float, positive=True), default="0.01,0.1,1",
                        help="inverse regularisation strengths to try (> 0)")
    args = parser.parse_args()
    if args.folds < 2:
        parser.error("--folds: at least 2 (one fold to test, the others to train)")
    settings = load_settings(None, {"site_dir": args.site_dir, "data_dir": args.data_dir})
    searcher = open_searcher(settings)
    queries = load_tickets(Path(args.tickets), searcher.build.articles, args.primary_only)
    data = [(q, *features(searcher, q)) for q in queries]
    print(f"shipped ranking                 {summary(data, {i: d[1] for i, d in enumerate(data)})}")
    for c in args.c:
        for seed in args.seeds:
            folds = np.array_split(np.random.default_rng(seed).permutation(len(data)), args.folds)
            ranked = {}
            for f, test in enumerate(folds):
                coef = train(data, np.concatenate([folds[g] for g in range(len(folds)) if g != f]), c)
                for i in test:
                    _, order, rows = data[i]
                    ranked[i] = [order[k] for k in np.argsort(-(rows @ coef), kind="stable")]
            print(f"reranker C={c:<5} seed={seed} (CV) {summary(data, ranked)}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except (SearchError, SettingsError) as exc:   # bad path or settings: the message says which
        sys.exit(f"error: {exc}")
