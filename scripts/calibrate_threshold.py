#!/usr/bin/env python3
"""Study and calibrate "no confident match" (search/abstention.py, SearchConfig.min_evidence).

    python scripts/calibrate_threshold.py [--tickets eval/tickets.jsonl] [--uncovered eval/uncovered.jsonl]
                                          [--off-topic eval/off_topic.jsonl] [--budget 0.05]

Every query is searched as the ticket assistant searches it (``ticket_query``, hybrid). Answerable:
the labelled tickets; unanswerable: in-domain tickets no article answers (``--uncovered``) and
off-topic questions. Prints, for each candidate piece of evidence, how well it separates answerable
from uncovered tickets (AUC over the tickets outside the identifier tier, which are always
confident); then the threshold on ``cosine + 0.5 · coverage`` that flags at most ``--budget`` of the
answerable tickets, what it flags in-sample, and the same rule cross-validated (5 folds × 5
shuffles: the threshold picked on 4/5 of the answerable and uncovered tickets, counted on the rest).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search.errors import SearchError  # noqa: E402
from search.evaluate import load_tickets  # noqa: E402
from search.searcher import open_searcher  # noqa: E402
from search.settings import SettingsError, load_settings  # noqa: E402
from search.ticket import ticket_query  # noqa: E402


def features(searcher, text: str) -> dict:
    ticket = ticket_query(text)
    response = searcher.search(ticket.query, k=5, focus=ticket.focus)
    evidence, results = response.evidence, response.results
    tops = {mode: [r.article_id for r in searcher.search(ticket.query, k=1, mode=mode, focus=ticket.focus).results]
            for mode in ("dense", "lexical")}
    return {"tier": evidence.identifier, "cosine": evidence.cosine, "coverage": evidence.coverage,
            "score": evidence.score, "gap": results[0].score - results[1].score if len(results) > 1 else 1.0,
            "agreement": sum(top == [results[0].article_id] for top in tops.values()), "confident": response.confident}


def auc(answerable: list[float], unanswerable: list[float]) -> float:
    """P(an answerable ticket scores higher than an unanswerable one), ties half."""
    a, u = np.array(answerable)[:, None], np.array(unanswerable)[None, :]
    return float((a > u).mean() + 0.5 * (a == u).mean())


def threshold_for(scores: np.ndarray, tier: np.ndarray, budget: float) -> float:
    """The largest threshold (2 decimals) that flags at most ``budget`` of these answerable tickets."""
    allowed = int(budget * len(scores))
    for value in np.arange(1.5, 0.0, -0.01):
        if np.sum(~tier & (scores < value)) <= allowed:
            return float(np.round(value, 2))
    return 0.0


def cross_validate(tickets: list[dict], uncovered: list[dict], budget: float, seeds=range(5), folds=5) -> tuple:
    from sklearn.model_selection import StratifiedKFold   # comes with sentence-transformers
    rows = tickets + uncovered
    y = np.array([0] * len(tickets) + [1] * len(uncovered))
    score, tier = np.array([r["score"] for r in rows]), np.array([r["tier"] for r in rows])
    rates = []
    for seed in seeds:
        flagged = np.zeros(len(rows), dtype=bool)
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(score, y):
            answerable = train[y[train] == 0]
            value = threshold_for(score[answerable], tier[answerable], budget)
            flagged[test] = ~tier[test] & (score[test] < value)
        rates.append((flagged[y == 0].mean(), flagged[y == 1].mean()))
    return tuple(np.mean(rates, axis=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", default="eval/tickets.jsonl")
    parser.add_argument("--uncovered", default="eval/uncovered.jsonl")
    parser.add_argument("--off-topic", default="eval/off_topic.jsonl")
    parser.add_argument("--budget", type=float, default=0.05, help="share of answerable tickets that may be flagged")
    args = parser.parse_args()
    searcher = open_searcher(load_settings())
    tickets = [features(searcher, q.text) for q in load_tickets(Path(args.tickets), searcher.build.articles)]
    unc, off = ([features(searcher, json.loads(line)["text"]) for line in Path(p).read_text(encoding="utf-8").splitlines()
                 if line.strip()] for p in (args.uncovered, args.off_topic))
    outside = [t for t in tickets if not t["tier"]]
    print(f"answerable tickets {len(tickets)} ({len(outside)} outside the identifier tier); uncovered {len(unc)} "
          f"({sum(u['tier'] for u in unc)} in the tier); off-topic {len(off)}")
    print("| evidence | AUC answerable vs uncovered | answerable median | uncovered median |\n|---|---:|---:|---:|")
    for name in ("cosine", "coverage", "score", "gap", "agreement"):
        a, u = [t[name] for t in outside], [x[name] for x in unc]
        print(f"| {name} | {auc(a, u):.3f} | {np.median(a):.3f} | {np.median(u):.3f} |")
    score, tier = np.array([t["score"] for t in tickets]), np.array([t["tier"] for t in tickets])
    value = threshold_for(score, tier, args.budget)
    flags = {name: sum(1 for r in rows if not r["tier"] and r["score"] < value)
             for name, rows in (("answerable", tickets), ("uncovered", unc), ("off-topic", off))}
    print(f"threshold on cosine + 0.5·coverage (flags ≤ {args.budget:.1%} of answerable tickets): {value:.2f}")
    print("flagged in-sample: " + ", ".join(f"{name} {n}/{len(rows)} ({n / len(rows):.1%})" for (name, n), rows
                                            in zip(flags.items(), (tickets, unc, off))))
    answerable_rate, uncovered_rate = cross_validate(tickets, unc, args.budget)
    print(f"cross-validated (5 folds × 5 shuffles): answerable flagged {answerable_rate:.1%}, "
          f"uncovered flagged {uncovered_rate:.1%}")
    print(f"with the shipped threshold ({searcher.config.min_evidence}): answerable flagged "
          f"{sum(not t['confident'] for t in tickets)}/{len(tickets)}, uncovered {sum(not u['confident'] for u in unc)}/"
          f"{len(unc)}, off-topic {sum(not o['confident'] for o in off)}/{len(off)}")


if __name__ == "__main__":
    try:
        main()
    except (SearchError, SettingsError, OSError) as exc:   # bad path or settings: the message says which
        sys.exit(f"error: {exc}")
