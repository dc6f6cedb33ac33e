"""Score fusion of the dense and lexical lanes: small pure functions over score arrays.

A lane's scores are a float array over one query's candidate chunks, in ascending chunk order
(so "ties by position" means ties by chunk number); NaN marks a candidate that is not among
that lane's results. Every function returns one fused float array over the same candidates;
ranking is the caller's.

Methods studied (results in docs/retrieval.md):

* ``rrf`` — reciprocal rank fusion, ``Σ w / (k + rank)`` (Cormack, Clarke & Büttcher, SIGIR 2009).
  Ignores score magnitudes, so a lane that is sure and a lane that is guessing count the same.
* ``convex`` — convex combination of min–max normalised scores, ``α·dense + (1−α)·lexical``
  (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", TOIS 2023).
* ``dbsf`` — distribution-based score fusion: each lane's scores are scaled by that lane's own
  score distribution for this query (mean ± 3σ of its candidates), clipped to [0, 1] and summed
  with weights. A lane whose best hit stands far above its other candidates keeps a high score;
  a lane whose scores are flat contributes little. This is the per-query weighting.
* ``adaptive`` — convex combination whose dense weight is set per query from each lane's peak.
* ``confidence`` (the default) — convex combination whose dense weight is set per query from how
  sure each lane is in absolute terms: the dense lane's best cosine, and the lexical lane's best
  BM25 score as a fraction of the best score this query could reach in this index (the sum of each
  query token's highest stored score, its *ceiling*). Both confidences lie in [0, 1] on every
  corpus, so one α serves corpora where either lane is the stronger one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Scores = np.ndarray   # float64 per candidate chunk; NaN: not among this lane's results


@dataclass(frozen=True)
class FusionConfig:
    method: str = "confidence"    # confidence | convex | rrf | dbsf | adaptive
    dense_weight: float = 0.6     # α for convex/confidence; lane weight for rrf/dbsf (lexical gets 1 − α)
    rrf_k: int = 60
    candidates: int = 100         # per lane, before fusion

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"fusion method {self.method!r} is not one of {sorted(METHODS)}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError("fusion dense_weight must be within [0, 1]")


def _present(scores: Scores) -> np.ndarray:
    """The lane's own scores (its NaN-free entries)."""
    return scores[~np.isnan(scores)]


def _sum_present(terms: list[Scores]) -> Scores:
    """Σ terms; a candidate missing from a lane (NaN) adds 0 there."""
    total = np.zeros(len(terms[0]))
    for term in terms:
        np.add(total, term, out=total, where=~np.isnan(term))
    return total


def ranks(scores: Scores) -> Scores:
    """1-based ranks by descending score (ties by position, so the result is deterministic)."""
    present = np.flatnonzero(~np.isnan(scores))
    order = present[np.argsort(-scores[present], kind="stable")]
    out = np.full(len(scores), np.nan)
    out[order] = np.arange(1, len(order) + 1)
    return out


def rrf(lanes: list[Scores], weights: list[float], k: int = 60) -> Scores:
    """Weighted reciprocal rank fusion."""
    return _sum_present([weight / (k + ranks(scores)) for scores, weight in zip(lanes, weights)])


def minmax(scores: Scores) -> Scores:
    """Scale to [0, 1]; a single or constant lane maps to 1."""
    low = np.fmin.reduce(scores, initial=np.inf)    # fmin/fmax skip NaN
    high = np.fmax.reduce(scores, initial=-np.inf)
    if low > high:   # the lane has no results
        return scores
    span = high - low
    return (scores - low) / span if span > 0 else np.where(np.isnan(scores), np.nan, 1.0)


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    mean = values.mean()
    return mean, float(np.sqrt(((values - mean) ** 2).mean()))


def distribution(scores: Scores) -> Scores:
    """Scale by the lane's distribution for this query: (s − (μ − 3σ)) / 6σ, clipped to [0, 1]."""
    values = _present(scores)
    if not values.size:
        return scores
    mean, std = _mean_std(values)
    if std == 0:
        return np.where(np.isnan(scores), np.nan, 0.5)
    return np.clip((scores - (mean - 3 * std)) / (6 * std), 0.0, 1.0)


def weighted_sum(lanes: list[Scores], weights: list[float]) -> Scores:
    """Σ weight · score; a candidate missing from a lane gets 0 there."""
    return _sum_present([weight * scores for scores, weight in zip(lanes, weights)])


def convex(dense: Scores, lexical: Scores, alpha: float) -> Scores:
    return weighted_sum([minmax(dense), minmax(lexical)], [alpha, 1 - alpha])


def dbsf(dense: Scores, lexical: Scores, alpha: float) -> Scores:
    return weighted_sum([distribution(dense), distribution(lexical)], [alpha, 1 - alpha])


def peak(scores: Scores) -> float:
    """How far the lane's best score stands above its other candidates, in standard deviations."""
    values = _present(scores)
    if values.size < 2:
        return 1.0
    mean, std = _mean_std(values)
    return float(values.max() - mean if std == 0 else (values.max() - mean) / std)


def adaptive(dense: Scores, lexical: Scores, alpha: float) -> Scores:
    """Convex combination whose dense weight is set per query from each lane's peak (a lane that
    singles out one hit is trusted more than a lane whose candidates all score alike)."""
    pd, pl = alpha * peak(dense), (1 - alpha) * peak(lexical)
    weight = pd / (pd + pl) if pd + pl > 0 else alpha
    return convex(dense, lexical, weight)


def confidence_weight(dense: Scores, lexical: Scores, alpha: float, lexical_ceiling: float) -> float:
    """The dense weight for one query: α·c_d / (α·c_d + (1−α)·c_l), where c_d is the dense lane's
    best cosine (floored at 0) and c_l the lexical lane's best BM25 score over ``lexical_ceiling``
    (the best score the query's tokens could reach in this index). α when neither lane is sure."""
    best_dense = np.fmax.reduce(dense, initial=0.0)
    best_lexical = np.fmax.reduce(lexical, initial=0.0)
    sure_dense = alpha * float(best_dense)
    sure_lexical = (1 - alpha) * (float(best_lexical) / lexical_ceiling if lexical_ceiling > 0 else 0.0)
    total = sure_dense + sure_lexical
    return sure_dense / total if total > 0 else alpha


def confidence(dense: Scores, lexical: Scores, alpha: float, lexical_ceiling: float) -> Scores:
    """Convex combination weighted per query by each lane's absolute confidence."""
    return convex(dense, lexical, confidence_weight(dense, lexical, alpha, lexical_ceiling))


METHODS = {
    "adaptive": lambda d, l, c, _ceiling: adaptive(d, l, c.dense_weight),
    "confidence": lambda d, l, c, ceiling: confidence(d, l, c.dense_weight, ceiling),
    "rrf": lambda d, l, c, _ceiling: rrf([d, l], [c.dense_weight, 1 - c.dense_weight], c.rrf_k),
    "convex": lambda d, l, c, _ceiling: convex(d, l, c.dense_weight),
    "dbsf": lambda d, l, c, _ceiling: dbsf(d, l, c.dense_weight),
}


def fuse(dense: Scores, lexical: Scores, config: FusionConfig, lexical_ceiling: float = 0.0) -> Scores:
    """Fuse one query's lane scores (arrays over the same candidates) with the configured method.
    ``lexical_ceiling`` is the query's best reachable BM25 score (``LexicalIndex.ceiling``)."""
    return METHODS[config.method](dense, lexical, config, lexical_ceiling)
