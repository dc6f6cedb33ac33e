#!/usr/bin/env python3
"""Study fusion settings on the KB's own labelled tickets (never on the public sets).

    python scripts/tune_fusion.py [--tickets eval/tickets.jsonl] [--site-dir site] [--data-dir data]
        [--methods confidence,convex,rrf,dbsf] [--weights 0.3,0.4,0.5,0.6,0.7]
        [--declared 0.5,1,2] [--found 0,0.25,0.5] [--primary-only]

Prints one line per configuration: Recall@5, MRR@10, nDCG@10 and identifier Hit@1 of hybrid
search. Query vectors are computed once and reused across configurations.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search.evaluate import evaluate, load_tickets  # noqa: E402
from search.fusion import FusionConfig  # noqa: E402
from search.searcher import SearchConfig, Searcher, open_searcher  # noqa: E402
from search.errors import SearchError  # noqa: E402
from search.settings import SettingsError, load_settings  # noqa: E402
from search.ticket import ticket_query  # noqa: E402


class CachedEncoder:
    def __init__(self, inner):
        self.inner, self.dim, self.backend, self.cache = inner, inner.dim, inner.backend, {}

    def encode(self, texts, batch_size=32):
        import numpy as np

        missing = [t for t in texts if t not in self.cache]
        if missing:
            for t, v in zip(missing, self.inner.encode(missing)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts])

    def count_tokens(self, text):
        return self.inner.count_tokens(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", default="eval/tickets.jsonl")
    parser.add_argument("--site-dir", default="site")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--methods", default="confidence,convex,rrf,dbsf", help="comma-separated fusion methods")
    parser.add_argument("--weights", default="0.3,0.4,0.5,0.6,0.7", help="dense weights (α) to try")
    parser.add_argument("--declared", default="0.5,1,2", help="declared-identifier boosts to try")
    parser.add_argument("--found", default="0,0.25,0.5", help="found-identifier boosts to try")
    parser.add_argument("--primary-only", action="store_true", help="only the tickets' article_ids are relevant")
    args = parser.parse_args()
    floats = lambda text: [float(x) for x in text.split(",")]  # noqa: E731
    settings = load_settings(None, {"site_dir": args.site_dir, "data_dir": args.data_dir})
    base = open_searcher(settings)
    encoder = CachedEncoder(base.encoder)
    queries = load_tickets(Path(args.tickets), base.build.articles, args.primary_only)
    tickets = {q.text: ticket_query(q.text) for q in queries}   # searched as the ticket assistant searches
    grid = itertools.product(args.methods.split(","), floats(args.weights), floats(args.declared), floats(args.found))
    print("method  dense_w  declared  found |  R@5    MRR   nDCG  idHit@1")
    for method, alpha, declared, found in grid:
        config = SearchConfig(fusion=FusionConfig(method=method, dense_weight=alpha), declared_boost=declared,
                              found_boost=found)
        searcher = Searcher(base.build, encoder, config)
        m = evaluate(lambda text, mode: [r.article_id for r in searcher.search(tickets[text].query, k=10,
                                                                                focus=tickets[text].focus).results],
                     queries, ("hybrid",))["hybrid"]
        print(f"{method:7} {alpha:7.2f} {declared:9.2f} {found:6.2f} | {m['recall@5']:.3f}  {m['mrr@10']:.3f}  "
              f"{m['ndcg@10']:.3f}  {m['identifier_hit@1']:.3f}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except (SearchError, SettingsError) as exc:   # bad path or settings: the message says which
        sys.exit(f"error: {exc}")
