"""Score fusion of the dense and lexical lanes: small pure functions over ``{chunk: score}`` maps.

Methods studied (results in docs/retrieval.md):

* ``rrf`` — reciprocal rank fusion, ``Σ w / (k + rank)`` (Cormack, Clarke & Büttcher, SIGIR 2009).
  Ignores score magnitudes, so a lane that is sure and a lane that is guessing count the same.
* ``convex`` — convex combination of min–max normalised scores, ``α·dense + (1−α)·lexical``
  (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", TOIS 2023).
* ``dbsf`` — distribution-based score fusion: each lane's scores are scaled by that lane's own
  score distribution for this query (mean ± 3σ of its candidates), clipped to [0, 1] and summed
  with weights. A lane whose best hit stands far above its other candidates keeps a high score;
  a lane whose scores are flat contributes little. This is the per-query weighting.

Every function returns ``{chunk: fused score}``; ties are broken by the caller.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

Scores = dict[int, float]


@dataclass(frozen=True)
class FusionConfig:
    method: str = "convex"        # rrf | convex | dbsf | adaptive
    dense_weight: float = 0.5     # α for convex; lane weight for rrf/dbsf (lexical gets 1 − α)
    rrf_k: int = 60
    candidates: int = 100         # per lane, before fusion

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"fusion method {self.method!r} is not one of {sorted(METHODS)}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError("fusion dense_weight must be within [0, 1]")


def ranks(scores: Scores) -> dict[int, int]:
    """1-based ranks by descending score (ties by id, so the result is deterministic)."""
    ordered = sorted(scores, key=lambda i: (-scores[i], i))
    return {doc: r for r, doc in enumerate(ordered, 1)}


def rrf(lanes: list[Scores], weights: list[float], k: int = 60) -> Scores:
    """Weighted reciprocal rank fusion."""
    fused: Scores = {}
    for scores, weight in zip(lanes, weights):
        for doc, rank in ranks(scores).items():
            fused[doc] = fused.get(doc, 0.0) + weight / (k + rank)
    return fused


def minmax(scores: Scores) -> Scores:
    """Scale to [0, 1]; a single or constant list maps to 1."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    return {d: (s - low) / span if span > 0 else 1.0 for d, s in scores.items()}


def distribution(scores: Scores) -> Scores:
    """Scale by the lane's distribution for this query: (s − (μ − 3σ)) / 6σ, clipped to [0, 1]."""
    if not scores:
        return {}
    values = list(scores.values())
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if std == 0:
        return {d: 0.5 for d in scores}
    low, span = mean - 3 * std, 6 * std
    return {d: min(1.0, max(0.0, (s - low) / span)) for d, s in scores.items()}


def weighted_sum(lanes: list[Scores], weights: list[float]) -> Scores:
    """Σ weight · score; a document missing from a lane gets 0 there."""
    fused: Scores = {}
    for scores, weight in zip(lanes, weights):
        for doc, score in scores.items():
            fused[doc] = fused.get(doc, 0.0) + weight * score
    return fused


def convex(dense: Scores, lexical: Scores, alpha: float) -> Scores:
    return weighted_sum([minmax(dense), minmax(lexical)], [alpha, 1 - alpha])


def dbsf(dense: Scores, lexical: Scores, alpha: float) -> Scores:
    return weighted_sum([distribution(dense), distribution(lexical)], [alpha, 1 - alpha])


def peak(scores: Scores) -> float:
    """How far the lane's best score stands above its other candidates, in standard deviations."""
    if len(scores) < 2:
        return 1.0
    values = list(scores.values())
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return max(values) - mean if std == 0 else (max(values) - mean) / std


def adaptive(dense: Scores, lexical: Scores, alpha: float) -> Scores:
    """Convex combination whose dense weight is set per query from each lane's peak (a lane that
    singles out one hit is trusted more than a lane whose candidates all score alike)."""
    pd, pl = alpha * peak(dense), (1 - alpha) * peak(lexical)
    weight = pd / (pd + pl) if pd + pl > 0 else alpha
    return convex(dense, lexical, weight)


METHODS = {
    "adaptive": lambda d, l, c: adaptive(d, l, c.dense_weight),
    "rrf": lambda d, l, c: rrf([d, l], [c.dense_weight, 1 - c.dense_weight], c.rrf_k),
    "convex": lambda d, l, c: convex(d, l, c.dense_weight),
    "dbsf": lambda d, l, c: dbsf(d, l, c.dense_weight),
}


def fuse(dense: Scores, lexical: Scores, config: FusionConfig) -> Scores:
    """Fuse one query's lane scores with the configured method."""
    return METHODS[config.method](dense, lexical, config)
