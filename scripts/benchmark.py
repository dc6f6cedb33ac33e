#!/usr/bin/env python3
"""In-process speed and memory of the retrieval engine (issue: hybrid retrieval engine).

    python scripts/benchmark.py [--site-dir site] [--synthetic 100000] [--public ../shared/eval]

Measures, in one run on this machine: index build throughput (full, then incremental after one
article changes), query latency p50/p95/p99 per mode on the KB index and on a synthetic index of
``--synthetic`` chunks (HNSW), bare query-encoding latency per encoder backend, peak RSS of a
process holding the model and each index, and the nDCG@10 cost of the int8 query encoder on the
public BEIR sets. Prints a Markdown report; nothing is asserted (these machines are shared).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search.corpus import parse_corpus  # noqa: E402
from search.settings import load_settings  # noqa: E402


def pct(values: list[float]) -> str:
    a = np.asarray(values) * 1000
    return f"{np.percentile(a, 50):.2f} / {np.percentile(a, 95):.2f} / {np.percentile(a, 99):.2f}"


def build_throughput(settings, out: list[str]) -> None:
    from search.indexer import build_index

    with tempfile.TemporaryDirectory() as tmp:
        local = dataclasses.replace(settings, index_root=str(Path(tmp) / "index"))
        full = build_index(local, progress=False)
        doc = json.loads(Path(settings.corpus_path).read_text(encoding="utf-8"))
        for section in doc["articles"][0]["sections"]:
            section["text"] += " Edited for the incremental benchmark."
        inc = build_index(local, corpus=parse_corpus(doc), progress=False)
    out.append("## Index build\n")
    out.append("| build | chunks | embedded | reused | seconds | chunks/s |\n|---|---:|---:|---:|---:|---:|")
    for name, r in (("full", full), ("incremental (one article edited)", inc)):
        out.append(f"| {name} | {r.chunks} | {r.embedded} | {r.reused} | {r.seconds:.1f} | {r.chunks / r.seconds:.0f} |")


def query_latency(searcher, queries: list[str], label: str, out: list[str]) -> dict[str, float]:
    p50 = {}
    out.append(f"\n## Query latency, {label} ({len(queries)} queries, in-process, ms p50 / p95 / p99)\n")
    out.append("| mode | latency |\n|---|---:|")
    for mode in ("hybrid", "dense", "lexical"):
        for q in queries[:10]:
            searcher.search(q, k=10, mode=mode)  # warm-up
        times = []
        for q in queries:
            start = time.perf_counter()
            searcher.search(q, k=10, mode=mode)
            times.append(time.perf_counter() - start)
        p50[mode] = float(np.percentile(times, 50))
        out.append(f"| {mode} | {pct(times)} |")
    return p50


def encode_latency(settings, queries: list[str], out: list[str]) -> dict[str, float]:
    from search.encoder import make_encoder

    out.append("\n## Bare query encoding (one query at a time, ms p50 / p95 / p99)\n")
    out.append("| encoder | latency |\n|---|---:|")
    result = {}
    for name, backend, purpose in (("onnx int8 (served)", "onnx", "query"), ("onnx fp32", "onnx", "index"),
                                   ("torch fp32 (sentence-transformers)", "torch", "query")):
        encoder = make_encoder(settings.model, backend, Path(settings.data_dir), purpose)
        if backend == "onnx" and purpose == "index":  # one thread, like the served int8 encoder
            from search.encoder import OnnxEncoder, onnx_path, resolve_model

            model = resolve_model(settings.model)
            encoder = OnnxEncoder(model, onnx_path(model, Path(settings.data_dir), "fp32"), "fp32", threads=1)
        if backend == "torch":
            import torch

            torch.set_num_threads(1)
        for q in queries[:10]:
            encoder.encode([q])
        times = []
        for q in queries:
            start = time.perf_counter()
            encoder.encode([q])
            times.append(time.perf_counter() - start)
        result[name] = float(np.percentile(times, 50))
        out.append(f"| {name} | {pct(times)} |")
    return result


def synthetic_index(settings, size: int, tmp: Path):
    """A build of ``size`` chunks: KB chunk texts shuffled into new docs, vectors = KB vectors + noise."""
    from search import dense, store
    from search.build import LoadedBuild
    from search.ident_index import IdentifierIndex
    from search.lexical import LexicalIndex
    from search.lexical_tokens import tokenize

    current = store.current_dir(settings.index_path)
    chunks = json.loads((current / "chunks.json").read_text(encoding="utf-8"))
    vectors = np.load(current / "vectors.npy")
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(chunks), size)
    noisy = vectors[pick] + 0.05 * rng.normal(size=(size, vectors.shape[1])).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    words = [c["text"].split() for c in chunks]
    docs = [" ".join(rng.choice(words[i], size=min(len(words[i]), 80))) if words[i] else "" for i in pick]
    index, kind = dense.build_index(noisy, ann_threshold=settings.ann_threshold)
    lexical = LexicalIndex.build([tokenize(d) for d in docs])
    articles = {a["id"]: a for a in json.loads((current / "articles.json").read_text(encoding="utf-8"))}
    build = LoadedBuild(tmp, {"build_id": "synthetic"}, [dict(chunks[i], text=docs[n]) for n, i in enumerate(pick)],
                        articles, [chunks[i]["article_id"] for i in pick], index, lexical,
                        IdentifierIndex({}, {}, {}, {}))
    return build, kind, noisy, index


def ann_recall(noisy: np.ndarray, index, out: list[str]) -> None:
    from search import dense

    exact, _ = dense.build_index(noisy, ann_threshold=len(noisy) + 1)
    rng = np.random.default_rng(1)
    hits = 0
    queries = noisy[rng.integers(0, len(noisy), 200)]
    for q in queries:
        hits += len(set(dense.search(exact, q, 10)[0]) & set(dense.search(index, q, 10)[0]))
    out.append(f"\nHNSW recall@10 against exact search on the synthetic index: {hits / 2000:.3f}")


RSS_SNIPPET = """
import resource, sys
sys.path.insert(0, {root!r})
from search.settings import load_settings
from search.searcher import open_searcher
s = load_settings(None, {{"site_dir": {site!r}, "data_dir": {data!r}, "encoder_backend": {backend!r}}})
searcher = open_searcher(s)
searcher.search("hls.js fragLoadError 403 after ten minutes", k=10)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(int(hwm) // 1024)
"""


def peak_rss(settings, out: list[str]) -> None:
    out.append("\n## Peak RSS of a process holding model + KB index (MB)\n")
    out.append("| query encoder | peak RSS |\n|---|---:|")
    for backend in ("onnx", "torch"):
        code = RSS_SNIPPET.format(root=str(ROOT), site=settings.site_dir, data=settings.data_dir, backend=backend)
        mb = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1]
        out.append(f"| {backend} | {mb} |")


def public_ndcg(settings, public: Path, out: list[str]) -> None:
    from kb_cli.search_cmds import _beir_searcher
    from search.encoder import make_encoder
    from search.evaluate import evaluate
    from search.searcher import Searcher

    out.append("\n## nDCG@10 on the public sets: int8 query encoder vs torch fp32\n")
    out.append("| set | mode | onnx int8 | torch fp32 | loss |\n|---|---|---:|---:|---:|")
    torch_encoder = make_encoder(settings.model, "torch", Path(settings.data_dir), "query")
    for name in ("stackfaq-webapps", "emanual-smarttv"):
        searcher, queries = _beir_searcher(settings, public / name, progress=False)
        other = Searcher(searcher.build, torch_encoder, searcher.config)
        for mode in ("hybrid", "dense"):
            a = evaluate(lambda t, m: [r.article_id for r in searcher.search(t, k=10, mode=m).results], queries, (mode,))
            b = evaluate(lambda t, m: [r.article_id for r in other.search(t, k=10, mode=m).results], queries, (mode,))
            x, y = a[mode]["ndcg@10"], b[mode]["ndcg@10"]
            out.append(f"| {name} | {mode} | {x:.3f} | {y:.3f} | {y - x:+.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site-dir", default="site")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--synthetic", type=int, default=100000)
    parser.add_argument("--public", default=str(ROOT.parent / "shared" / "eval"))
    args = parser.parse_args()
    settings = load_settings(None, {"site_dir": args.site_dir, "data_dir": args.data_dir})
    from search.searcher import Searcher, open_searcher

    out = [f"# Benchmark report ({time.strftime('%Y-%m-%d %H:%M')}, `python scripts/benchmark.py`)\n"]
    build_throughput(settings, out)
    searcher = open_searcher(settings)
    tickets = [json.loads(line)["text"][:2000] for line in open(ROOT / "eval" / "tickets.jsonl", encoding="utf-8")]
    queries = tickets[:300]
    kb_p50 = query_latency(searcher, queries, f"KB index ({len(searcher.build.chunks)} chunks)", out)
    enc = encode_latency(settings, queries, out)
    out.append(f"\nhybrid p50 / bare int8 encode p50 = {kb_p50['hybrid'] / enc['onnx int8 (served)']:.2f}; "
               f"torch fp32 / int8 encode p50 = {enc['torch fp32 (sentence-transformers)'] / enc['onnx int8 (served)']:.1f}×")
    with tempfile.TemporaryDirectory() as tmp:
        build, kind, noisy, index = synthetic_index(settings, args.synthetic, Path(tmp))
        big = Searcher(build, searcher.encoder, searcher.config)
        query_latency(big, queries, f"synthetic {args.synthetic} chunks ({kind})", out)
        ann_recall(noisy, index, out)
    out.append(f"\nPeak RSS of this benchmark process (all three encoders + KB + synthetic index): "
               f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    peak_rss(settings, out)
    if Path(args.public).is_dir():
        public_ndcg(settings, Path(args.public), out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
