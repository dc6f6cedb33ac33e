#!/usr/bin/env python3
"""Study: do similar resolved tickets help? ("tickets like this were resolved with …")

    python scripts/study_similar_tickets.py [--tickets eval/tickets.jsonl] [--folds 5] [--seeds 2]

Links (and positive feedback) are relevance judgments: a past ticket linked to an article says the
article resolved it. Here the labelled tickets stand in for linked tickets: each ticket's
``article_ids`` are its links. For a held-out ticket, the training tickets whose embedding (the
cleaned description, as the assistant embeds it) has cosine ≥ τ with it vote for their linked
articles, and each voted article's hybrid score gains β × the best such cosine (an article outside
hybrid's top 20 enters with that alone). τ and β are chosen inside each training fold (leave-one-out
over the training tickets, best nDCG@10), then the held-out fold is scored: k-fold cross-validation,
so no ticket is ever helped by its own label. Prints the shipped ranking and the cross-validated
one on the pooled judgments and on the writer's labels.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search.errors import SearchError  # noqa: E402
from search.evaluate import load_tickets, query_metrics  # noqa: E402
from search.searcher import open_searcher  # noqa: E402
from search.settings import SettingsError, load_settings  # noqa: E402
from search.ticket import ticket_query  # noqa: E402

TAUS = (0.5, 0.6, 0.7, 0.8)
BETAS = (0.1, 0.25, 0.5, 1.0)
METRICS = ("recall@1", "recall@5", "ndcg@10")


def rerank(scores: dict[str, float], sims: np.ndarray, links: list[list[str]], tau: float, beta: float) -> list[str]:
    """Hybrid's article scores plus β × the best cosine of a similar (≥ τ) past ticket linked to it."""
    boosted = dict(scores)
    for i in np.flatnonzero(sims >= tau):
        for article in links[i]:
            boosted[article] = max(boosted.get(article, 0.0), scores.get(article, 0.0) + beta * float(sims[i]))
    return sorted(boosted, key=lambda a: -boosted[a])


def mean_metrics(rankings: list[list[str]], relevant: list[dict[str, int]], subset=None) -> dict[str, float]:
    rows = [query_metrics(r, rel) for r, rel in zip(rankings, relevant)]
    out = {m: float(np.mean([row[m] for row in rows])) for m in METRICS}
    if subset is not None:
        out["identifier_hit@1"] = float(np.mean([row["hit@1"] for row, s in zip(rows, subset) if s]))
    return out


def choose(train: np.ndarray, sims: np.ndarray, scores, links, relevant) -> tuple[float, float]:
    """τ, β with the best leave-one-out nDCG@10 over the training tickets (never the held-out ones)."""
    best, best_value = (TAUS[0], 0.0), -1.0
    for tau, beta in itertools.product(TAUS, BETAS):
        value = np.mean([query_metrics(rerank(scores[i], sims[i, train[train != i]],
                                              [links[j] for j in train[train != i]], tau, beta), relevant[i])["ndcg@10"]
                         for i in train])
        if value > best_value:
            best, best_value = (tau, beta), value
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", default="eval/tickets.jsonl")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    searcher = open_searcher(load_settings())
    pooled = load_tickets(Path(args.tickets), searcher.build.articles)
    primary = load_tickets(Path(args.tickets), searcher.build.articles, primary_only=True)
    links = [sorted(a for a, g in q.relevant.items() if g == 2) for q in pooled]   # the writer's labels as links
    tickets = [ticket_query(q.text) for q in pooled]
    scores = [{r.article_id: r.score for r in searcher.search(t.query, k=20, focus=t.focus).results} for t in tickets]
    vectors = searcher.encoder.encode([t.focus for t in tickets])
    sims = vectors @ vectors.T
    subset = [q.has_identifier for q in pooled]
    shipped = [sorted(s, key=lambda a: -s[a]) for s in scores]
    print("| ranking | pooled R@1 / R@5 / nDCG@10 / idHit@1 | writer's labels R@1 / R@5 / nDCG@10 / idHit@1 |")
    print("|---|---|---|")

    def row(name: str, rankings: list[list[str]]) -> None:
        cells = []
        for qs in (pooled, primary):
            m = mean_metrics(rankings, [q.relevant for q in qs], subset)
            cells.append(" / ".join(f"{m[k]:.3f}" for k in (*METRICS, "identifier_hit@1")))
        print(f"| {name} | {cells[0]} | {cells[1]} |")

    row("shipped hybrid", shipped)
    rng = np.random.default_rng(0)
    for seed in range(args.seeds):
        order = rng.permutation(len(pooled))
        rankings: list[list[str] | None] = [None] * len(pooled)
        chosen = []
        for fold in np.array_split(order, args.folds):
            train = np.setdiff1d(order, fold)
            tau, beta = choose(train, sims, scores, links, [q.relevant for q in pooled])
            chosen.append((tau, beta))
            for i in fold:
                rankings[i] = rerank(scores[i], sims[i, train], [links[j] for j in train], tau, beta)
        row(f"+ similar tickets, {args.folds}-fold CV, shuffle {seed} (τ, β per fold: {chosen})", rankings)


if __name__ == "__main__":
    try:
        main()
    except (SearchError, SettingsError, OSError) as exc:
        sys.exit(f"error: {exc}")
