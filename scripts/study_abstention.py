#!/usr/bin/env python3
"""Study further evidence for "no confident match" (issue 21): does any of it flag more of the
unanswerable tickets at the same share of answerable ones than ``cosine + 0.5 · coverage``?

    python scripts/study_abstention.py [--tickets eval/tickets.jsonl] [--uncovered eval/uncovered.jsonl]
                                       [--budget 0.05]

Every query is searched as the ticket assistant searches it (``ticket_query``, hybrid). Only the KB
and the query are used (never the labels of other tickets). Candidates, each for the top article:

* ``section_best`` / ``section_max`` — coverage (``abstention.coverage``) by the best section, or by
  the top article's best-covering section, instead of the whole article;
* ``rare3_together`` — IDF-weighted share of the query's 3 rarest words the KB knows that occur
  together in one section of the top article;
* ``reverse`` — IDF-weighted share of the top article's title + description words in the ticket;
* ``pairs`` — IDF-weighted share of the query's word pairs (two content words at most 3 tokens
  apart) that occur as such a pair in the top article (a phrase/proximity test);
* ``contrast`` — the best cosine minus the query's mean cosine over every section of the KB.

For each: AUC over the answerable tickets outside the identifier tier against the unanswerable ones,
then the rule ``cosine + 0.5 · coverage + b · candidate`` for b in {0.1, 0.25, 0.5, 1}, its threshold
chosen to flag at most ``--budget`` of the answerable tickets, in-sample and cross-validated (5 folds
× 5 shuffles, as ``calibrate_threshold.py``); then b chosen inside each training fold (nested);
last a logistic regression over all of them, cross-validated the same way. docs/retrieval.md has the figures.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search import abstention  # noqa: E402
from search.errors import SearchError  # noqa: E402
from search.evaluate import load_texts, load_tickets  # noqa: E402
from search.lexical_tokens import tokenize  # noqa: E402
from search.searcher import open_searcher  # noqa: E402
from search.settings import SettingsError, load_settings  # noqa: E402
from search.ticket import ticket_query  # noqa: E402

CANDIDATES = ("section_best", "section_max", "rare3_together", "reverse", "pairs", "contrast")
PAIR_WINDOW = 3


def content(text: str) -> list[str]:
    """The query's or a text's content tokens in order (repeats kept, for pairs)."""
    return [t for t in tokenize(text) if len(t) >= 3 and not t.lstrip("-").isdigit()]


def pairs(tokens: list[str], window: int = PAIR_WINDOW) -> set[frozenset]:
    """Unordered pairs of different tokens at most ``window`` tokens apart."""
    return {frozenset((a, b)) for i, a in enumerate(tokens) for b in tokens[i + 1:i + 1 + window] if a != b}


def weighted_share(weights: dict, hit) -> float:
    """Share of the total weight whose key satisfies ``hit``; 1.0 when there is nothing to weigh."""
    total = sum(weights.values())
    return sum(w for key, w in weights.items() if hit(key)) / total if total > 0 else 1.0


class Study:
    """The KB-side data the candidates need, computed once per build."""

    def __init__(self, searcher):
        self.s = searcher
        lexical = searcher.build.lexical
        self.n = lexical.num_docs
        self.article_of = np.asarray(searcher.build.chunk_article)
        self.postings = lambda word: set(lexical.postings(word).tolist())
        self.article_pairs: dict[str, set] = {}
        for chunk in searcher.build.chunks:
            self.article_pairs.setdefault(chunk["article_id"], set()).update(
                pairs(content(chunk["heading"] + " " + chunk["text"])))
        self.pair_df: dict[frozenset, int] = {}
        for found in self.article_pairs.values():
            for pair in found:
                self.pair_df[pair] = self.pair_df.get(pair, 0) + 1
        self.vectors = np.asarray(searcher.build.dense_vectors)

    def idf(self, word: str) -> float:
        return abstention.idf(len(self.postings(word)), self.n)

    def row(self, text: str) -> dict:
        ticket = ticket_query(text)
        response = self.s.search(ticket.query, k=5, focus=ticket.focus)
        evidence, top = response.evidence, response.results[0]
        words = abstention.content_words(tokenize(ticket.focus))
        weights = {w: self.idf(w) for w in words}
        posted = {w: self.postings(w) for w in words}
        sections = np.flatnonzero(self.article_of == top.article_id).tolist()
        share_in = lambda chunk, ws: weighted_share(ws, lambda w: chunk in posted[w])   # noqa: E731
        rare = dict(sorted(((w, v) for w, v in weights.items() if posted[w]), key=lambda x: -x[1])[:3])
        return {"tier": evidence.identifier, "base": evidence.score, "cosine": evidence.cosine,
                "coverage": evidence.coverage,
                "section_best": share_in(top.best.chunk, weights),
                "section_max": max(share_in(c, weights) for c in sections),
                "rare3_together": max(share_in(c, rare) for c in sections),
                "reverse": self._reverse(top.article_id, set(tokenize(ticket.query))),
                "pairs": self._pairs(top.article_id, ticket.focus),
                "contrast": evidence.cosine - float((self.vectors @ self.s.encoder.encode([ticket.focus])[0]).mean())}

    def _reverse(self, article_id: str, query_tokens: set[str]) -> float:
        article = self.s.build.articles[article_id]
        words = abstention.content_words(tokenize(article["title"] + " " + (article.get("description") or "")))
        return weighted_share({w: self.idf(w) for w in words}, lambda w: w in query_tokens)

    def _pairs(self, article_id: str, focus: str) -> float:
        weights = {p: abstention.idf(self.pair_df.get(p, 0), len(self.article_pairs)) for p in pairs(content(focus))}
        return weighted_share(weights, lambda p: p in self.article_pairs[article_id])


def auc(answerable, unanswerable) -> float:
    a, u = np.asarray(answerable)[:, None], np.asarray(unanswerable)[None, :]
    return float((a > u).mean() + 0.5 * (a == u).mean())


def flag_rule(score: np.ndarray, tier: np.ndarray, answerable: np.ndarray, budget: float) -> float:
    """The threshold that flags at most ``budget`` of these answerable rows (flag: score < it)."""
    allowed = int(budget * len(answerable))
    ranked = np.sort(score[answerable][~tier[answerable]])
    return float(ranked[allowed]) if allowed < len(ranked) else float("inf")


def rates(score, tier, y, budget, seeds=range(5), folds=5) -> tuple[tuple, tuple]:
    """(uncovered flagged, answerable flagged): in-sample counts, then cross-validated shares."""
    from sklearn.model_selection import StratifiedKFold   # comes with sentence-transformers
    value = flag_rule(score, tier, np.flatnonzero(y == 0), budget)
    flagged = ~tier & (score < value)
    inside = (int(flagged[y == 1].sum()), int(flagged[y == 0].sum()))
    shares = []
    for seed in seeds:
        out = np.zeros(len(y), dtype=bool)
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(score, y):
            value = flag_rule(score, tier, train[y[train] == 0], budget)
            out[test] = ~tier[test] & (score[test] < value)
        shares.append((out[y == 1].mean(), out[y == 0].mean()))
    return inside, tuple(np.mean(shares, axis=0))


def nested_rates(base, extra, tier, y, budget, weights=(0.0, 0.1, 0.25, 0.5, 1.0, 2.0), seeds=range(5), folds=5):
    """``base + b · extra`` with b chosen inside each training fold (the b that flags most uncovered
    training tickets at the budget), counted on the held-out fold: (uncovered, answerable) flagged."""
    from sklearn.model_selection import StratifiedKFold
    shares = []
    for seed in seeds:
        out = np.zeros(len(y), dtype=bool)
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(base, y):
            fitted = []
            for b in weights:
                score = base + b * extra
                value = flag_rule(score, tier, train[y[train] == 0], budget)
                fitted.append(((~tier[train] & (score[train] < value))[y[train] == 1].sum(), -b, value))
            caught, minus_b, value = max(fitted)   # most caught; ties: the smallest b
            out[test] = ~tier[test] & ((base - minus_b * extra)[test] < value)
        shares.append((out[y == 1].mean(), out[y == 0].mean()))
    return tuple(np.mean(shares, axis=0))


def logistic_scores(x: np.ndarray, y: np.ndarray, tier: np.ndarray, train: np.ndarray, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    keep = train[~tier[train]]
    model = LogisticRegression(C=c, max_iter=2000).fit(x[keep], y[keep])
    return -model.decision_function(x)   # high = answerable, like the other scores


def logistic_rates(x, y, tier, budget, c, seeds=range(5), folds=5) -> tuple:
    from sklearn.model_selection import StratifiedKFold
    shares = []
    for seed in seeds:
        out = np.zeros(len(y), dtype=bool)
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
            score = logistic_scores(x, y, tier, train, c)
            value = flag_rule(score, tier, train[y[train] == 0], budget)
            out[test] = ~tier[test] & (score[test] < value)
        shares.append((out[y == 1].mean(), out[y == 0].mean()))
    return tuple(np.mean(shares, axis=0))


def report(rows: list[dict], y: np.ndarray, budget: float) -> None:
    tier = np.array([r["tier"] for r in rows])
    column = lambda name: np.array([r[name] for r in rows], dtype=float)   # noqa: E731
    outside = ~tier
    print("| evidence | AUC | answerable median | uncovered median |\n|---|---:|---:|---:|")
    for name in ("cosine", "coverage", "base", *CANDIDATES):
        a, u = column(name)[outside & (y == 0)], column(name)[y == 1]
        print(f"| {name} | {auc(a, u):.3f} | {np.median(a):.3f} | {np.median(u):.3f} |")
    (iu, ia), (cu, ca) = rates(column("base"), tier, y, budget)
    n_u, n_a = int((y == 1).sum()), int((y == 0).sum())
    print(f"\n| rule | in-sample uncovered / answerable flagged | cross-validated |\n|---|---:|---:|\n"
          f"| cosine + 0.5·coverage | {iu}/{n_u} / {ia}/{n_a} | {cu:.3f} / {ca:.3f} |")
    for name in CANDIDATES:
        for b in (0.1, 0.25, 0.5, 1.0):
            (iu, ia), (cu, ca) = rates(column("base") + b * column(name), tier, y, budget)
            print(f"| + {b} · {name} | {iu}/{n_u} / {ia}/{n_a} | {cu:.3f} / {ca:.3f} |")
    for name in CANDIDATES:
        cu, ca = nested_rates(column("base"), column(name), tier, y, budget)
        print(f"| + b · {name}, b chosen inside each training fold | | {cu:.3f} / {ca:.3f} |")
    x = np.column_stack([column(n) for n in ("cosine", "coverage", *CANDIDATES)])
    for c in (0.1, 1.0, 10.0):
        cu, ca = logistic_rates(x, y, tier, budget, c)
        print(f"| logistic regression, all eight, C {c} | | {cu:.3f} / {ca:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", default="eval/tickets.jsonl")
    parser.add_argument("--uncovered", default="eval/uncovered.jsonl")
    parser.add_argument("--budget", type=float, default=0.05, help="share of answerable tickets that may be flagged")
    args = parser.parse_args()
    study = Study(open_searcher(load_settings()))
    answerable = [study.row(q.text) for q in load_tickets(Path(args.tickets), study.s.build.articles)]
    uncovered = [study.row(text) for text in load_texts(Path(args.uncovered))]
    print(f"answerable {len(answerable)} ({sum(not r['tier'] for r in answerable)} outside the identifier tier), "
          f"uncovered {len(uncovered)} ({sum(r['tier'] for r in uncovered)} in the tier); budget {args.budget:.0%}\n")
    report(answerable + uncovered, np.array([0] * len(answerable) + [1] * len(uncovered)), args.budget)


if __name__ == "__main__":
    try:
        main()
    except (SearchError, SettingsError, OSError) as exc:
        sys.exit(f"error: {exc}")
