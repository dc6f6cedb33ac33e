#!/usr/bin/env python3
"""Calibrate the "no confident match" threshold (SearchConfig.min_dense_score).

    python scripts/calibrate_threshold.py [--tickets eval/tickets.jsonl] [--off-topic eval/off_topic.jsonl]

For every labelled ticket whose hybrid top 5 holds a correct article, take the best cosine
similarity among the top 3 results (what ``Searcher._confident`` looks at), and the same for
off-topic queries that the KB cannot answer. The threshold is the largest value that keeps at least
97% of the answerable tickets confident; the script prints how many off-topic queries it flags.
Tickets with an identifier hit are always confident and are left out of the calibration.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search.evaluate import load_tickets  # noqa: E402
from search.searcher import open_searcher  # noqa: E402
from search.errors import SearchError  # noqa: E402
from search.settings import SettingsError, load_settings  # noqa: E402
from search.ticket import ticket_query  # noqa: E402

KEEP = 0.97


def best_cosine(searcher, text: str) -> tuple[float, bool]:
    """As the ticket assistant searches (``ticket_query``): the cosine is the cleaned description's."""
    ticket = ticket_query(text)
    response = searcher.search(ticket.query, k=3, focus=ticket.focus)
    vector = searcher.encoder.encode([ticket.focus or ticket.query])[0]
    chunks = [h.chunk for r in response.results for h in [r.best, *r.more]]
    cos = max((float(searcher.build.dense_index.reconstruct(c) @ vector) for c in chunks), default=0.0)
    return cos, bool(response.results and "identifier" in response.results[0].best.lanes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", default="eval/tickets.jsonl")
    parser.add_argument("--off-topic", default="eval/off_topic.jsonl")
    args = parser.parse_args()
    searcher = open_searcher(load_settings())
    answerable = []
    for q in load_tickets(Path(args.tickets), searcher.build.articles):
        ticket = ticket_query(q.text)
        top5 = [r.article_id for r in searcher.search(ticket.query, k=5, focus=ticket.focus).results]
        cos, ident = best_cosine(searcher, q.text)
        if set(top5) & set(q.relevant) and not ident:
            answerable.append(cos)
    off = [best_cosine(searcher, json.loads(line)["text"]) for line in open(args.off_topic, encoding="utf-8") if line.strip()]
    threshold = float(np.quantile(answerable, 1 - KEEP))
    flagged = sum(1 for cos, ident in off if cos < threshold and not ident)
    print(f"answerable tickets without identifier hit: {len(answerable)}; cosine p1={np.quantile(answerable, .01):.3f} "
          f"p3={threshold:.3f} p10={np.quantile(answerable, .1):.3f} median={np.median(answerable):.3f}")
    print(f"off-topic queries: {len(off)}; cosine max={max(c for c, _ in off):.3f} median={np.median([c for c, _ in off]):.3f}")
    print(f"threshold (keeps {KEEP:.0%} of answerable tickets confident): {threshold:.3f}")
    print(f"off-topic flagged 'no confident match' at that threshold: {flagged}/{len(off)}")


if __name__ == "__main__":
    try:
        main()
    except (SearchError, SettingsError) as exc:   # bad path or settings: the message says which
        sys.exit(f"error: {exc}")
