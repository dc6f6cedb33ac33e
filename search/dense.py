"""Dense lane: FAISS over normalised vectors. Exact inner product by default; HNSW above a
size threshold. FAISS runs single-threaded: one query at a time is 2–3× faster that way.

``candidates`` is the query path: an exact (flat) index is scored with one matrix–vector product
over FAISS's own storage (``flat_vectors``; cheaper than a FAISS search plus look-ups, and every
chunk gets the same score whichever other chunks are asked for); an HNSW index is searched."""
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


def scores_for(index, query: np.ndarray, ids: np.ndarray | list[int]) -> np.ndarray:
    """Exact inner products of ``query`` with the stored vectors ``ids`` (any index kind)."""
    if not len(ids):
        return np.zeros(0, dtype=np.float32)
    vectors = index.reconstruct_batch(np.asarray(ids, dtype=np.int64))
    return vectors @ query.astype(np.float32)


def flat_vectors(index) -> np.ndarray | None:
    """An exact index's stored vectors as a numpy view of FAISS's own memory (no copy; use it only
    while the index is alive); None for an approximate index."""
    if not isinstance(index, faiss.IndexFlat):
        return None
    return faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)


def _top(scores: np.ndarray, n: int, allowed: np.ndarray | None) -> np.ndarray:
    """Ids of the ``n`` highest ``scores`` (only among the ids in ``allowed``), in no particular order."""
    pool = scores if allowed is None else scores[allowed]
    n = min(n, len(pool))
    top = np.argpartition(pool, len(pool) - n)[len(pool) - n:] if 0 < n < len(pool) else np.arange(n)
    return top if allowed is None else allowed[top]


def candidates(index, query: np.ndarray, n: int, allowed: np.ndarray | None = None,
               extra: np.ndarray | None = None, vectors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ids of the top ``n`` (among ``allowed``) plus the ``extra`` ids, ascending and distinct,
    with their scores: the exact inner products with ``query``. Given ``vectors`` (the index's
    ``flat_vectors``) all of them are scored at once; otherwise the index is searched (HNSW: the
    search's own scores) and the other ids are scored from their stored vectors."""
    extra = np.zeros(0, dtype=np.int64) if extra is None else extra
    if vectors is None:
        return _searched_candidates(index, query, n, allowed, extra)
    every = vectors @ query.astype(np.float32, copy=False)
    chosen = np.zeros(len(every), dtype=bool)
    chosen[_top(every, n, allowed)] = True
    chosen[extra] = True
    ids = np.flatnonzero(chosen)
    return ids, every[ids]


def _searched_candidates(index, query: np.ndarray, n: int, allowed: np.ndarray | None,
                         extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids, scores = search(index, query, n, allowed)
    extra = np.setdiff1d(extra, ids)
    ids, scores = np.concatenate([ids, extra]), np.concatenate([scores, scores_for(index, query, extra)])
    order = np.argsort(ids)
    return ids[order], scores[order]
