"""A published index build, verified and loaded into memory (read-only, shareable by threads)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from search import dense, store
from search.errors import IndexIntegrityError
from search.ident_index import IdentifierIndex
from search.lexical import LexicalIndex


@dataclass
class LoadedBuild:
    directory: Path
    manifest: dict
    chunks: list[dict]
    articles: dict[str, dict]
    chunk_article: list[str]
    dense_index: object
    lexical: LexicalIndex
    identifiers: IdentifierIndex

    @property
    def build_id(self) -> str:
        return self.manifest["build_id"]

    @cached_property
    def dense_vectors(self) -> np.ndarray | None:
        """An exact index's stored vectors (``dense.flat_vectors``: a view of FAISS's memory, no
        copy, alive as long as this build holds the index); None for an HNSW index."""
        return dense.flat_vectors(self.dense_index)

    @classmethod
    def open(cls, directory: Path, expect_model: str | None = None, expect_dim: int | None = None) -> "LoadedBuild":
        """Verify every checksum and the manifest, then load. Raises IndexIntegrityError naming the file."""
        manifest = store.verify(directory, expect_model=expect_model, expect_dim=expect_dim)
        if manifest.get("build_id") != directory.name:  # a copied or renamed build: the pointer would never settle
            raise IndexIntegrityError(f"{directory / store.MANIFEST}: build_id {manifest.get('build_id')!r} does not "
                                      f"match the directory name; rebuild with 'kb index'")
        try:
            chunks = json.loads((directory / "chunks.json").read_text(encoding="utf-8"))
            articles = {a["id"]: a for a in json.loads((directory / "articles.json").read_text(encoding="utf-8"))}
            vectors = np.load(directory / "vectors.npy", allow_pickle=False)
            if vectors.ndim != 2 or vectors.shape != (len(chunks), manifest["dim"]):
                raise IndexIntegrityError(f"{directory / 'vectors.npy'}: shape {vectors.shape} does not match "
                                          f"{len(chunks)} chunks × dimension {manifest['dim']}; rebuild with 'kb index'")
            if manifest["dense"]["kind"] == "hnsw":
                index = dense.load_index(directory / "dense.faiss")
            else:
                index, _ = dense.build_index(vectors, ann_threshold=len(vectors) + 1)
            del vectors
            lexical = LexicalIndex.load(directory)
            idents = IdentifierIndex.from_json(json.loads((directory / "identifiers.json").read_text(encoding="utf-8")))
        except IndexIntegrityError:
            raise
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise IndexIntegrityError(f"{directory}: build files passed their checksums but cannot be loaded "
                                      f"({exc}); rebuild with 'kb index'") from None
        if lexical.num_docs != len(chunks) or index.ntotal != len(chunks):
            raise IndexIntegrityError(f"{directory}: lanes disagree on the number of chunks; rebuild with 'kb index'")
        return cls(directory, manifest, chunks, articles, [c["article_id"] for c in chunks], index, lexical, idents)
