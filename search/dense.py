"""Dense lane: FAISS over normalised vectors. Exact inner product by default; HNSW above a
size threshold. FAISS runs single-threaded: one query at a time is 2–3× faster that way."""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

faiss.omp_set_num_threads(1)
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


def build_index(vectors: np.ndarray, ann_threshold: int):
    """Return (faiss index, kind). ``kind`` is 'flat' or 'hnsw'."""
    dim = vectors.shape[1]
    if len(vectors) > ann_threshold:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        kind = "hnsw"
    else:
        index, kind = faiss.IndexFlatIP(dim), "flat"
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, kind


def save_index(index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_index(path: Path):
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def search(index, query: np.ndarray, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` (ids, scores) for one normalised query vector, optionally only among the ids in
    ``allowed`` (a FAISS ID selector, so filters never drop good hits); ids of -1 are dropped."""
    n = min(n, index.ntotal if allowed is None else len(allowed))
    if n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    params = None
    if allowed is not None:
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        params = (faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, n))
                  if isinstance(index, faiss.IndexHNSWFlat) else faiss.SearchParameters(sel=selector))
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), n, params=params)
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]


def scores_for(index, query: np.ndarray, ids: list[int]) -> np.ndarray:
    """Exact inner products of ``query`` with the stored vectors ``ids`` (any index kind)."""
    if not ids:
        return np.zeros(0, dtype=np.float32)
    vectors = index.reconstruct_batch(np.asarray(ids, dtype=np.int64))
    return vectors @ query.astype(np.float32)
