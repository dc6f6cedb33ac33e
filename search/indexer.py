"""``kb index``: corpus export → chunks → vectors (reused when unchanged) → lanes → a published build."""
from __future__ import annotations

import errno
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search import dense, store
from search.chunker import CHUNKER_VERSION, chunk_corpus
from search.corpus import Corpus, load_corpus
from search.encoder import Encoder, ensure_onnx, make_encoder, resolve_model
from search.errors import SearchError
from search.files import private_dir
from search.ident_index import IdentifierIndex
from search.lexical import LexicalIndex
from search.lexical_tokens import tokenize
from search.settings import Settings

# What articles.json holds; a build with another version is rebuilt even when the corpus is unchanged
# (2: owner, last_reviewed, review_interval_days for the owners' review queue). Vectors are reused.
ARTICLES_VERSION = 2

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    build_id: str | None
    chunks: int
    embedded: int
    reused: int
    seconds: float
    dense_kind: str = "flat"
    up_to_date: bool = False
    removed_leftovers: tuple[str, ...] = ()


def _current_manifest(root: Path, fingerprint: str) -> dict | None:
    """The verified manifest of the current build made with this model, or None (checksummed once)."""
    try:
        return store.verify(store.current_dir(root), expect_model=fingerprint)
    except SearchError:
        return None


def _previous_vectors(root: Path, manifest: dict | None) -> dict[str, np.ndarray]:
    """content hash → vector from the current build (``manifest`` verified, same model), else {}."""
    if manifest is None:
        return {}
    directory = root / "builds" / manifest["build_id"]
    chunks = json.loads((directory / "chunks.json").read_text(encoding="utf-8"))
    vectors = np.load(directory / "vectors.npy", allow_pickle=False)
    if len(chunks) != len(vectors) or manifest.get("dim") != vectors.shape[1]:
        return {}
    return {c["hash"]: vectors[i] for i, c in enumerate(chunks)}


def _embed(encoder: Encoder, texts: list[str], progress: bool) -> np.ndarray:
    from tqdm import tqdm

    out, batch = [], 32
    with tqdm(total=len(texts), desc="embedding", unit="chunk", disable=not progress) as bar:
        for start in range(0, len(texts), batch):
            out.append(encoder.encode(texts[start:start + batch], batch_size=batch))
            bar.update(len(texts[start:start + batch]))
    return np.concatenate(out) if out else np.zeros((0, encoder.dim), dtype=np.float32)


def _index_encoder(settings: Settings) -> Encoder:
    if settings.encoder_backend != "torch":
        ensure_onnx(settings.model, Path(settings.data_dir))
    return make_encoder(settings.model, settings.encoder_backend, Path(settings.data_dir), "index")


def _vectors(cache: dict[str, np.ndarray], encoder: Encoder, chunks, progress: bool) -> tuple[np.ndarray, list[int]]:
    """One vector per chunk: reused from ``cache`` when the text is unchanged, else embedded."""
    missing = [i for i, c in enumerate(chunks) if c.content_hash not in cache]
    fresh = _embed(encoder, [chunks[i].embed_text for i in missing], progress)
    vectors = np.zeros((len(chunks), encoder.dim), dtype=np.float32)
    for row, i in enumerate(missing):
        vectors[i] = fresh[row]
    missing_set = set(missing)
    for i, c in enumerate(chunks):
        if i not in missing_set:
            vectors[i] = cache[c.content_hash]
    return vectors, missing


def _write_lanes(tmp: Path, corpus: Corpus, chunks, vectors: np.ndarray, ann_threshold: int) -> str:
    np.save(tmp / "vectors.npy", vectors.astype(np.float32), allow_pickle=False)
    index, kind = dense.build_index(vectors, ann_threshold)
    if kind == "hnsw":
        dense.save_index(index, tmp / "dense.faiss")
    LexicalIndex.build([tokenize(f"{c.heading} {c.text}") + tokenize(" ".join(c.heading_path[:1]))
                        for c in chunks]).save(tmp)
    idents = IdentifierIndex.build(chunks, list(corpus.articles))
    (tmp / "identifiers.json").write_text(json.dumps(idents.to_json(), sort_keys=True), encoding="utf-8")
    records = [{"chunk_id": c.chunk_id, "article_id": c.article_id, "anchor": c.anchor, "heading": c.heading,
                "heading_path": list(c.heading_path), "part": c.part, "text": c.text, "hash": c.content_hash}
               for c in chunks]
    (tmp / "chunks.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    articles = [{"id": a.id, "title": a.title, "type": a.type, "service_area": a.service_area, "url": a.url,
                 "stable_url": a.stable_url, "tags": list(a.tags), "error_codes": list(a.error_codes),
                 "related_alerts": list(a.related_alerts), "description": a.description, "audience": a.audience,
                 "owner": a.owner, "last_reviewed": a.last_reviewed, "review_interval_days": a.review_interval_days}
                for a in corpus.articles]
    (tmp / "articles.json").write_text(json.dumps(articles, ensure_ascii=False), encoding="utf-8")
    return kind


def build_index(settings: Settings, corpus_path: Path | None = None, force: bool = False,
                progress: bool = True, encoder: Encoder | None = None, corpus: Corpus | None = None) -> BuildReport:
    """Build, verify and publish a new index build; returns what happened. Raises SearchError."""
    started = time.perf_counter()
    corpus = corpus or load_corpus(corpus_path or settings.corpus_path)
    model = resolve_model(settings.model)
    root = settings.index_path
    with store.builder_lock(root):
        leftovers = tuple(store.clean_leftovers(root))
        current = _current_manifest(root, model.fingerprint)
        if not force and _is_up_to_date(current, corpus.sha256):
            return BuildReport(store.current_build_id(root), 0, 0, 0, time.perf_counter() - started,
                               up_to_date=True, removed_leftovers=leftovers)
        build_id = store.new_build_id()
        tmp = root / f".tmp-{build_id}"
        try:
            private_dir(tmp)
            encoder = encoder or _index_encoder(settings)
            chunks = chunk_corpus(corpus, encoder.count_tokens)
            vectors, missing = _vectors(_previous_vectors(root, current), encoder, chunks, progress)
            kind = _write_lanes(tmp, corpus, chunks, vectors, settings.ann_threshold)
            store.write_manifest(tmp, _manifest(build_id, model, encoder, corpus, chunks, kind))
            store.verify(tmp, expect_model=model.fingerprint, expect_dim=encoder.dim)
            store.publish(root, tmp, build_id)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno == errno.ENOSPC:
                raise SearchError(f"disk full while writing the index build in {root}; nothing was published "
                                  "(the previous build is still served); free space and rerun 'kb index'") from None
            raise SearchError(f"cannot write the index build in {root}: {exc}; nothing was published") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        store.collect_garbage(root, settings.keep_builds)
    return BuildReport(build_id, len(chunks), len(missing), len(chunks) - len(missing),
                       time.perf_counter() - started, kind, removed_leftovers=leftovers)


def _is_up_to_date(manifest: dict | None, corpus_sha: str) -> bool:
    return (manifest is not None and manifest.get("corpus_sha256") == corpus_sha
            and manifest.get("chunker_version") == CHUNKER_VERSION
            and manifest.get("articles_version", 1) == ARTICLES_VERSION)


def _manifest(build_id: str, model, encoder: Encoder, corpus: Corpus, chunks, kind: str) -> dict:
    import datetime as dt
    import platform

    import bm25s
    import faiss

    return {"build_id": build_id, "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "model": {"name": model.name, "fingerprint": model.fingerprint, "index_encoder": encoder.backend},
            "dim": encoder.dim, "normalized": True, "chunker_version": CHUNKER_VERSION,
            "articles_version": ARTICLES_VERSION, "corpus_sha256": corpus.sha256, "counts": {"articles": len(corpus.articles), "chunks": len(chunks)},
            "dense": {"kind": kind, "hnsw_m": dense.HNSW_M, "hnsw_ef_search": dense.HNSW_EF_SEARCH},
            "versions": {"python": platform.python_version(), "numpy": np.__version__,
                         "faiss": faiss.__version__, "bm25s": bm25s.__version__}}
