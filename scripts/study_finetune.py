#!/usr/bin/env python3
"""Study: does LEARNING from links (fine-tuning the bi-encoder) raise hybrid recall@1 on held-out tickets?

    nice -n 10 python scripts/study_finetune.py --site-dir /tmp/ft/site --data-dir /tmp/ft/data \
        [--split ticket|article|kb] [--folds 5] [--only-folds 0,1] [--epochs 1] [--threads 1] [--json out.json]

The labelled tickets stand in for links (issue 21: "links and positive feedback are relevance
judgments"): each ticket's ``article_ids`` are its links, its ``anchor`` the linked section.

* ``--split ticket``: 5-fold cross-validation over tickets (shuffled, seed 0). For each fold the
  bundled all-MiniLM-L6-v2 is fine-tuned on the other folds' pairs — the ticket's cleaned
  description exactly as the assistant embeds it (``ticket_query(...).focus``) → the embedded text
  of the labelled section (``title > heading path`` + text, as ``kb index`` embeds it), with the
  best section of the untouched hybrid ranking's first wrong article as a hard negative — using
  MultipleNegativesRankingLoss (in-batch negatives; a batch never holds two pairs of one article).
  Every chunk is then re-embedded with the tuned model and the held-out tickets are searched by the
  project's own ``Searcher`` (hybrid: identifier tier, BM25, fusion, article scores — nothing
  reimplemented). The untouched model is scored on the same folds with the same (torch fp32) encoder.
* ``--split article``: the folds hold out whole articles (grouped by the writer's first label);
  a training ticket that names a held-out article is dropped, so the held-out tickets' articles
  have no past links at all.
* ``--split kb``: no ticket text at all. Pairs come from the KB itself — title, description,
  declared codes and the quoted/log lines of the Issue section → the article's Resolution (or
  Diagnosis / Meaning / first) section — and the tuned model is scored on every ticket.

Training runs in-process with a plain torch loop (the trainer of sentence-transformers needs
``datasets``/``accelerate``, which the project does not install). Bounded: at most ``--epochs``
passes over ≤ 400 pairs per fold, ``--train-max-tokens`` tokens per text. Nothing here is used by
the product and no weights are written to disk unless ``--save`` is given (never into git).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search import dense  # noqa: E402
from search.chunker import chunk_corpus  # noqa: E402
from search.corpus import load_corpus  # noqa: E402
from search.encoder import MAX_SEQ_LENGTH, resolve_model  # noqa: E402
from search.errors import SearchError  # noqa: E402
from search.evaluate import load_tickets, query_metrics  # noqa: E402
from search.searcher import Searcher, open_searcher  # noqa: E402
from search.settings import SettingsError, load_settings  # noqa: E402
from search.ticket import ticket_query  # noqa: E402

TARGET_ANCHORS = ("resolution", "diagnosis", "meaning", "mitigation")
QUOTED_RE = re.compile(r'"([^"]{15,300})"')


class TunedEncoder:
    """The project's encoder interface over an in-memory SentenceTransformer (normalised fp32)."""
    backend = "torch-study"

    def __init__(self, model):
        self.model = model
        self.dim = int(model.get_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        self.model.max_seq_length = MAX_SEQ_LENGTH
        vecs = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)


def load_model(path: Path):
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(str(path), device="cpu", model_kwargs={"use_safetensors": True})


# -- data ----------------------------------------------------------------------------------------
def target_chunk(chunks: list, article: str, anchor: str | None) -> int:
    """The chunk a link points at: the labelled section's first window, else the article's
    Resolution/Diagnosis/Meaning/Mitigation section, else its first chunk."""
    own = [i for i, c in enumerate(chunks) if c.article_id == article]
    for wanted in ((anchor,) if anchor else ()) + TARGET_ANCHORS:
        hit = [i for i in own if chunks[i].anchor == wanted]
        if hit:
            return hit[0]
    return own[0]


def ticket_pairs(rows, tickets, chunks, base_rankings, pooled) -> list[list[tuple[str, str, str, str]]]:
    """Per ticket: (query, positive text, hard negative text, positive article) for each label."""
    out = []
    for n, row in enumerate(rows):
        negative = next((best for aid, best in base_rankings[n] if aid not in pooled[n].relevant), None)
        neg_text = chunks[negative].embed_text if negative is not None else None
        pairs = []
        for k, aid in enumerate(row["article_ids"]):
            pos = target_chunk(chunks, aid, row.get("anchor") if k == 0 else None)
            pairs.append((tickets[n].focus, chunks[pos].embed_text, neg_text, aid))
        out.append(pairs)
    return out


def kb_pairs(corpus, chunks, base_vectors: np.ndarray, encoder) -> list[tuple[str, str, str, str]]:
    """Queries written from the KB alone → the article's target section (no ticket text)."""
    raw = []
    for a in corpus.articles:
        pos = target_chunk(chunks, a.id, None)
        queries = [a.title] + ([a.description] if a.description else []) + list(a.error_codes)[:6]
        issue = next((s.text for s in a.sections if s.anchor in ("issue", "meaning", "impact")), "")
        queries += QUOTED_RE.findall(issue)[:6]
        queries += [ln.strip() for ln in issue.splitlines() if 20 <= len(ln.strip()) <= 200
                    and re.search(r"\d{3}|Error|ERR_|Exception", ln)][:4]
        raw += [(q, pos, a.id) for q in dict.fromkeys(queries)]
    qv = encoder.encode([q for q, _, _ in raw])
    article_of = np.array([c.article_id for c in chunks])
    pairs = []
    for (q, pos, aid), v in zip(raw, qv):
        scores = base_vectors @ v
        scores[article_of == aid] = -np.inf
        pairs.append((q, chunks[pos].embed_text, chunks[int(np.argmax(scores))].embed_text, aid))
    return pairs


def batches(pairs: list, size: int, rng: random.Random) -> list[list]:
    """Shuffled batches in which no article appears twice (its pairs would be false negatives)."""
    pairs = pairs[:]
    rng.shuffle(pairs)
    out: list[list] = []
    for p in pairs:
        slot = next((b for b in out if len(b) < size and all(q[3] != p[3] for q in b)), None)
        (slot.append(p) if slot is not None else out.append([p]))
    return out


# -- training ------------------------------------------------------------------------------------
def fine_tune(base: Path, pairs: list, epochs: int, batch: int, lr: float, max_tokens: int, seed: int):
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    model = load_model(base)
    model.max_seq_length = max_tokens
    loss_fn = MultipleNegativesRankingLoss(model)
    rng = random.Random(seed)
    plan = [b for _ in range(epochs) for b in batches(pairs, batch, rng)]
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    schedule = get_linear_schedule_with_warmup(optimiser, max(1, len(plan) // 10), len(plan))
    model.train()
    for step in plan:
        columns = [[p[0] for p in step], [p[1] for p in step]]
        if all(p[2] for p in step):
            columns.append([p[2] for p in step])
        features = [model.tokenize(col) for col in columns]
        loss = loss_fn(features, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
    model.eval()
    return model, len(plan)


def searcher_with(base: Searcher, encoder, chunks) -> tuple[Searcher, float]:
    """The same build (lexical, identifier lanes, articles) with every chunk re-embedded by ``encoder``."""
    started = time.perf_counter()
    vectors = encoder.encode([c.embed_text for c in chunks])
    index, _ = dense.build_index(vectors, ann_threshold=len(vectors) + 1)
    build = replace(base.build, dense_index=index)
    build.__dict__.pop("dense_vectors", None)   # the cached view of the old index
    return Searcher(build, encoder, base.config), time.perf_counter() - started


# -- evaluation ----------------------------------------------------------------------------------
def rank(searcher: Searcher, ticket, mode: str = "hybrid") -> list[tuple[str, int]]:
    response = searcher.search(ticket.query, k=10, mode=mode, focus=ticket.focus)
    return [(r.article_id, r.best.chunk) for r in response.results]


def scores(rankings: dict[int, list[str]], pooled, primary) -> dict[str, float]:
    """Means over the tickets in ``rankings``: writer's and pooled R@1, R@5, identifier Hit@1."""
    out: dict[str, list[float]] = {k: [] for k in ("w_r1", "p_r1", "w_r5", "p_r5", "w_id1", "p_id1")}
    for i, ranked in rankings.items():
        w, p = query_metrics(ranked, primary[i].relevant), query_metrics(ranked, pooled[i].relevant)
        out["w_r1"].append(w["recall@1"]); out["p_r1"].append(p["recall@1"])
        out["w_r5"].append(w["recall@5"]); out["p_r5"].append(p["recall@5"])
        if primary[i].has_identifier:
            out["w_id1"].append(w["hit@1"]); out["p_id1"].append(p["hit@1"])
    return {k: float(np.mean(v)) if v else float("nan") for k, v in out.items()} | {"n": len(rankings)}


def folds_for(split: str, rows, n_folds: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if split == "article":
        articles = sorted({r["article_ids"][0] for r in rows})
        groups = np.array_split(rng.permutation(len(articles)), n_folds)
        fold_of = {articles[j]: f for f, g in enumerate(groups) for j in g}
        return [np.array([i for i, r in enumerate(rows) if fold_of[r["article_ids"][0]] == f]) for f in range(n_folds)]
    return [np.sort(f) for f in np.array_split(rng.permutation(len(rows)), n_folds)]


def fmt(name: str, s: dict) -> str:
    return (f"| {name} | {s['n']} | {s['w_r1']:.3f} | {s['p_r1']:.3f} | {s['w_r5']:.3f} | {s['p_r5']:.3f} "
            f"| {s['w_id1']:.3f} | {s['p_id1']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", default="eval/tickets.jsonl")
    parser.add_argument("--site-dir", default="site")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--split", choices=("ticket", "article", "kb"), default="ticket")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-folds", default="", help="comma-separated fold numbers to run (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--train-max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="append each fold's figures to this JSON-lines file")
    parser.add_argument("--save", help="kb split only: write the tuned model to this directory (not in git)")
    args = parser.parse_args()
    if not 2 <= args.folds <= 20 or not 1 <= args.epochs <= 5:
        parser.error("--folds 2–20, --epochs 1–5")
    import torch
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    settings = load_settings(None, {"site_dir": args.site_dir, "data_dir": args.data_dir})
    model_info = resolve_model(settings.model)
    base_encoder = TunedEncoder(load_model(model_info.path))
    searcher = open_searcher(settings, encoder=base_encoder)   # the shipped build, queries in torch fp32
    corpus = load_corpus(settings.corpus_path)
    chunks = chunk_corpus(corpus, base_encoder.count_tokens)
    if [c.content_hash for c in chunks] != [c["hash"] for c in searcher.build.chunks]:
        sys.exit("error: the index was built from another corpus or chunker; run kb index first")
    rows = [json.loads(line) for line in Path(args.tickets).read_text(encoding="utf-8").splitlines() if line.strip()]
    pooled = load_tickets(Path(args.tickets), searcher.build.articles)
    primary = load_tickets(Path(args.tickets), searcher.build.articles, primary_only=True)
    tickets = [ticket_query(r["text"]) for r in rows]
    started = time.perf_counter()
    base_rankings = [rank(searcher, t) for t in tickets]
    print(f"untouched model, all tickets searched in {time.perf_counter() - started:.0f} s", flush=True)
    base = {i: [a for a, _ in r] for i, r in enumerate(base_rankings)}
    print("| model | tickets | writer R@1 | pooled R@1 | writer R@5 | pooled R@5 | writer idHit@1 | pooled idHit@1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(fmt("untouched, all tickets", scores(base, pooled, primary)), flush=True)
    train_args = (args.epochs, args.batch, args.lr, args.train_max_tokens, args.seed)
    if args.split == "kb":
        pairs = kb_pairs(corpus, chunks, searcher.build.dense_vectors, base_encoder)
        t0 = time.perf_counter()
        model, steps = fine_tune(model_info.path, pairs, *train_args)
        tuned, embed_s = searcher_with(searcher, TunedEncoder(model), chunks)
        train_s = time.perf_counter() - t0 - embed_s
        ranked = {i: [a for a, _ in rank(tuned, t)] for i, t in enumerate(tickets)}
        result = scores(ranked, pooled, primary)
        print(fmt(f"KB-only pairs ({len(pairs)} pairs, {steps} steps, train {train_s:.0f} s, "
                  f"re-embed {embed_s:.0f} s)", result), flush=True)
        dense_base = scores({i: [a for a, _ in rank(searcher, t, "dense")] for i, t in enumerate(tickets)},
                            pooled, primary)
        dense_tuned = scores({i: [a for a, _ in rank(tuned, t, "dense")] for i, t in enumerate(tickets)},
                             pooled, primary)
        print(fmt("dense lane alone, untouched", dense_base))
        print(fmt("dense lane alone, KB-only pairs", dense_tuned), flush=True)
        if args.save:
            model.save(args.save, safe_serialization=True)
        _record(args.json, {"split": "kb", "pairs": len(pairs), "train_s": train_s, "embed_s": embed_s,
                            "tuned": result, "base": scores(base, pooled, primary),
                            "dense_base": dense_base, "dense_tuned": dense_tuned})
        return
    all_pairs = ticket_pairs(rows, tickets, chunks, base_rankings, pooled)
    folds = folds_for(args.split, rows, args.folds, args.seed)
    wanted = {int(f) for f in args.only_folds.split(",") if f.strip()} or set(range(args.folds))
    pooled_runs: dict[str, dict[int, list[str]]] = {"untouched": {}, "fine-tuned": {}}
    for f, test in enumerate(folds):
        if f not in wanted:
            continue
        held_articles = {a for i in test for a in rows[i]["article_ids"]} if args.split == "article" else set()
        train = [i for i in range(len(rows)) if i not in set(test.tolist())
                 and not held_articles & set(rows[i]["article_ids"])]
        pairs = [p for i in train for p in all_pairs[i]]
        t0 = time.perf_counter()
        model, steps = fine_tune(model_info.path, pairs, *train_args)
        train_s = time.perf_counter() - t0
        tuned, embed_s = searcher_with(searcher, TunedEncoder(model), chunks)
        t1 = time.perf_counter()
        ranked = {int(i): [a for a, _ in rank(tuned, tickets[i])] for i in test}
        search_s = time.perf_counter() - t1
        before, after = scores({int(i): base[int(i)] for i in test}, pooled, primary), scores(ranked, pooled, primary)
        dense_before = scores({int(i): [a for a, _ in rank(searcher, tickets[i], "dense")] for i in test}, pooled, primary)
        dense_after = scores({int(i): [a for a, _ in rank(tuned, tickets[i], "dense")] for i in test}, pooled, primary)
        pooled_runs["untouched"].update({int(i): base[int(i)] for i in test})
        pooled_runs["fine-tuned"].update(ranked)
        print(fmt(f"fold {f} untouched", before))
        print(fmt(f"fold {f} fine-tuned ({len(train)} tickets, {len(pairs)} pairs, {steps} steps, "
                  f"train {train_s:.0f} s, re-embed {embed_s:.0f} s, search {search_s:.0f} s)", after))
        print(fmt(f"fold {f} dense lane alone, untouched", dense_before))
        print(fmt(f"fold {f} dense lane alone, fine-tuned", dense_after), flush=True)
        _record(args.json, {"split": args.split, "fold": f, "train_tickets": len(train), "pairs": len(pairs),
                            "train_s": train_s, "embed_s": embed_s, "base": before, "tuned": after,
                            "dense_base": dense_before, "dense_tuned": dense_after,
                            "test": [rows[int(i)]["id"] for i in test]})
    for name, ranked in pooled_runs.items():   # every held-out ticket once: the cross-validated figure
        print(fmt(f"all held-out tickets, {name}", scores(ranked, pooled, primary)))


def _record(path: str | None, row: dict) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    try:
        main()
    except (SearchError, SettingsError, OSError) as exc:
        sys.exit(f"error: {exc}")
