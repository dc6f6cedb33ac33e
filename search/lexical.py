"""Lexical lane: BM25 (bm25s, Lucene variant) over our identifier-aware tokens.

The score matrix is stored as plain ``.npy`` arrays plus a JSON vocabulary (no pickle); top-k
selection uses ``np.argpartition`` rather than a full sort.
"""
from __future__ import annotations

import json
from pathlib import Path

import logging

import bm25s
import numpy as np

# bm25s sets its own logger to DEBUG at import, which prints on every index build; quiet it.
logging.getLogger("bm25s").setLevel(logging.WARNING)

K1, B = 1.2, 0.75
FILES = ("bm25_data.npy", "bm25_indices.npy", "bm25_indptr.npy", "bm25_vocab.json")


class LexicalIndex:
    def __init__(self, model: bm25s.BM25, num_docs: int):
        self.model = model
        self.num_docs = num_docs

    @classmethod
    def build(cls, docs: list[list[str]]) -> "LexicalIndex":
        model = bm25s.BM25(method="lucene", k1=K1, b=B)
        model.index([d if d else [""] for d in docs], show_progress=False)
        return cls(model, len(docs))

    def save(self, directory: Path) -> list[str]:
        scores = self.model.scores
        np.save(directory / "bm25_data.npy", np.asarray(scores["data"]), allow_pickle=False)
        np.save(directory / "bm25_indices.npy", np.asarray(scores["indices"]), allow_pickle=False)
        np.save(directory / "bm25_indptr.npy", np.asarray(scores["indptr"]), allow_pickle=False)
        vocab = {"num_docs": int(scores["num_docs"]), "vocab": {str(k): int(v) for k, v in self.model.vocab_dict.items()},
                 "k1": K1, "b": B, "method": "lucene", "bm25s": bm25s.__version__}
        (directory / "bm25_vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        return list(FILES)

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        meta = json.loads((directory / "bm25_vocab.json").read_text(encoding="utf-8"))
        model = bm25s.BM25(method=meta["method"], k1=meta["k1"], b=meta["b"])
        model.scores = {name: np.load(directory / f"bm25_{name}.npy", allow_pickle=False)
                        for name in ("data", "indices", "indptr")}
        model.scores["num_docs"] = meta["num_docs"]
        model.vocab_dict = meta["vocab"]
        model.unique_token_ids_set = set(model.vocab_dict.values())
        model.nonoccurrence_array = None  # only BM25L/BM25+ use it; we store Lucene scores
        return cls(model, meta["num_docs"])

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every document for the query tokens (zeros when none is known)."""
        ids = self.model.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(self.num_docs, dtype=np.float32)
        return np.asarray(self.model.get_scores_from_ids(ids), dtype=np.float32)


def top_k(scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``k`` best positive scores (optionally within ``mask``)."""
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    k = min(k, int((scores > 0).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return idx, scores[idx]
