"""The approximate (HNSW) dense index against exact search, and its automatic selection."""
from __future__ import annotations

import numpy as np

from search import dense


def _clustered(n: int, dim: int, rng) -> np.ndarray:
    centers = rng.normal(size=(n // 50, dim)).astype(np.float32)
    points = centers[rng.integers(0, len(centers), n)] + 0.35 * rng.normal(size=(n, dim)).astype(np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def test_hnsw_recall_at_10_against_exact():
    rng = np.random.default_rng(7)
    vectors = _clustered(12000, 384, rng)
    queries = _clustered(200, 384, rng)
    exact, kind_exact = dense.build_index(vectors, ann_threshold=len(vectors) + 1)
    approx, kind_approx = dense.build_index(vectors, ann_threshold=1000)
    assert (kind_exact, kind_approx) == ("flat", "hnsw")
    hits = 0
    for q in queries:
        truth = set(dense.search(exact, q, 10)[0].tolist())
        hits += len(truth & set(dense.search(approx, q, 10)[0].tolist()))
    recall = hits / (10 * len(queries))
    print(f"HNSW recall@10 vs exact: {recall:.3f}")
    assert recall >= 0.95


def test_filtered_search_only_returns_allowed_ids():
    rng = np.random.default_rng(1)
    vectors = _clustered(3000, 64, rng)
    for threshold in (10**6, 100):
        index, _ = dense.build_index(vectors, threshold)
        allowed = np.arange(0, 3000, 7)
        ids, _ = dense.search(index, vectors[5], 20, allowed)
        assert len(ids) == 20 and set(ids.tolist()) <= set(allowed.tolist())


def test_scores_for_matches_search_scores():
    rng = np.random.default_rng(2)
    vectors = _clustered(500, 32, rng)
    index, _ = dense.build_index(vectors, 10**6)
    ids, scores = dense.search(index, vectors[3], 5)
    np.testing.assert_allclose(dense.scores_for(index, vectors[3], ids.tolist()), scores, rtol=1e-5)


def test_candidates_are_the_top_n_plus_extra_ids_with_exact_scores():
    """Scored from the stored vectors in numpy (flat), or searched (flat without them, HNSW)."""
    rng = np.random.default_rng(3)
    vectors = _clustered(3000, 32, rng)
    allowed = np.arange(0, 3000, 3)
    flat, _ = dense.build_index(vectors, 10**6)
    hnsw, _ = dense.build_index(vectors, 100)
    for index, stored in ((flat, dense.flat_vectors(flat)), (flat, None), (hnsw, dense.flat_vectors(hnsw))):
        for only in (None, allowed):
            ids, scores = dense.candidates(index, vectors[9], 10, only, np.array([5, 2999, 5]), stored)
            top, _ = dense.search(index, vectors[9], 10, only)
            assert ids.tolist() == sorted(set(top.tolist()) | {5, 2999})
            np.testing.assert_allclose(scores, dense.scores_for(index, vectors[9], ids), rtol=1e-5)
