"""Lexical lane: BM25 (bm25s, Lucene variant) over our identifier-aware tokens.

The score matrix is stored as plain ``.npy`` arrays plus a JSON vocabulary (no pickle); top-k
selection uses ``np.argpartition`` rather than a full sort. bm25s is imported only to build an
index: queries read the stored arrays, and importing bm25s (numba, scipy) would add ~0.2 s and
tens of MB to every serving worker's start.
"""
from __future__ import annotations

import json
from pathlib import Path

import logging

import numpy as np

K1, B = 1.2, 0.75
FILES = ("bm25_data.npy", "bm25_indices.npy", "bm25_indptr.npy", "bm25_vocab.json")


class LexicalIndex:
    """BM25 scores precomputed by bm25s for every (token, document) pair, as a sparse matrix in
    CSC form (``indptr[t]:indptr[t + 1]`` are token ``t``'s postings: ``indices`` documents,
    ``data`` scores) plus the token vocabulary. bm25s builds it; queries only read the arrays."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, vocab: dict[str, int],
                 num_docs: int):
        self.data, self.indices, self.indptr = data, indices, indptr
        self._bounds = indptr.tolist()   # Python ints: slicing the postings with them is cheapest
        self.vocab = vocab
        self.num_docs = num_docs
        self.token_max = _segment_max(data, indptr)   # each token's highest score in any document

    @classmethod
    def build(cls, docs: list[list[str]]) -> "LexicalIndex":
        model = _bm25s().BM25(method="lucene", k1=K1, b=B)
        model.index([d if d else [""] for d in docs], show_progress=False)
        scores = model.scores
        vocab = {str(k): int(v) for k, v in model.vocab_dict.items()}
        return cls(*_sorted_vocabulary(np.asarray(scores["data"]), np.asarray(scores["indices"]),
                                       np.asarray(scores["indptr"]), vocab), len(docs))

    def save(self, directory: Path) -> list[str]:
        np.save(directory / "bm25_data.npy", self.data, allow_pickle=False)
        np.save(directory / "bm25_indices.npy", self.indices, allow_pickle=False)
        np.save(directory / "bm25_indptr.npy", self.indptr, allow_pickle=False)
        vocab = {"num_docs": self.num_docs, "vocab": self.vocab, "k1": K1, "b": B, "method": "lucene",
                 "bm25s": _bm25s().__version__}
        (directory / "bm25_vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        return list(FILES)

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        meta = json.loads((directory / "bm25_vocab.json").read_text(encoding="utf-8"))
        data, indices, indptr = (np.load(directory / f"bm25_{name}.npy", allow_pickle=False)
                                 for name in ("data", "indices", "indptr"))
        return cls(data, indices, indptr, meta["vocab"], meta["num_docs"])

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every document for the query tokens (zeros when none is known)."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        known = [self.vocab[t] for t in tokens if t in self.vocab]
        postings = [slice(self._bounds[i], self._bounds[i + 1]) for i in known]
        if postings:
            # float32 sums in query-token order, exactly as bm25s' own per-token loop adds them
            np.add.at(out, np.concatenate([self.indices[p] for p in postings]),
                      np.concatenate([self.data[p] for p in postings]))
        return out

    def postings(self, token: str) -> np.ndarray:
        """The documents (chunk numbers) that contain ``token``; empty for a token no document has."""
        i = self.vocab.get(token)
        return self.indices[self._bounds[i]:self._bounds[i + 1]] if i is not None else self.indices[:0]

    def ceiling(self, tokens: list[str]) -> float:
        """The highest BM25 score these query tokens could reach in this index: the sum of each
        known token's best score in any document (counted as often as ``scores`` counts it)."""
        return float(sum(self.token_max[self.vocab[t]] for t in tokens if t in self.vocab))


def _bm25s():
    import bm25s

    # bm25s sets its own logger to DEBUG at import, which prints on every index build; quiet it.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _sorted_vocabulary(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                       vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """The same matrix with token ids in sorted token order. bm25s numbers tokens in set order,
    which changes with PYTHONHASHSEED; renumbering makes the stored files byte-reproducible.
    Tokens without a column (bm25s' placeholder "" for empty documents) are dropped."""
    tokens = sorted(t for t, i in vocab.items() if i < len(indptr) - 1)
    old = np.array([vocab[t] for t in tokens], dtype=np.int64)
    starts, lengths = indptr[old].astype(np.int64), (indptr[old + 1] - indptr[old]).astype(np.int64)
    new_indptr = np.zeros(len(tokens) + 1, dtype=indptr.dtype)
    np.cumsum(lengths, out=new_indptr[1:])
    gather = np.repeat(starts - new_indptr[:-1].astype(np.int64), lengths) + np.arange(int(lengths.sum()))
    return data[gather], indices[gather], new_indptr, {t: i for i, t in enumerate(tokens)}


def _segment_max(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Max of ``data[indptr[t]:indptr[t + 1]]`` for every t (0 for an empty segment)."""
    out = np.zeros(len(indptr) - 1, dtype=np.float64)
    starts = np.asarray(indptr[:-1])
    nonempty = np.asarray(indptr[1:]) > starts
    if nonempty.any():
        out[nonempty] = np.maximum.reduceat(np.asarray(data, dtype=np.float64), starts[nonempty])
    return out


def top_k(scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices (ascending) and scores of the ``k`` best positive scores (optionally within ``mask``)."""
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    k = min(k, np.count_nonzero(scores > 0))
    idx = np.sort(np.argpartition(-scores, k - 1)[:k]) if k > 0 else np.zeros(0, dtype=np.int64)
    return idx, scores[idx]
