#!/usr/bin/env python3
"""Study: a cross-encoder, initialised from the bundled all-MiniLM-L6-v2, reranking hybrid's top articles.

    nice -n 10 python scripts/study_cross_encoder.py --site-dir /tmp/ft/site --data-dir /tmp/ft/data \
        [--folds 5] [--only-folds 0] [--negatives 4] [--threads 1] [--json out.json]

No pretrained cross-encoder is installable offline here, so one is trained from the bi-encoder's
BERT weights (a fresh one-logit classification head; ``transformers``' sequence-classification
model, which is what sentence-transformers' CrossEncoder wraps). Training pairs come from the
training folds of the same ticket split as ``study_finetune.py --split ticket`` (seed 0): the
ticket's cleaned description with the labelled section (positive) and the best sections of up to
``--negatives`` wrong articles of the untouched hybrid top 10 (hard negatives; every article is
represented by the section hybrid shows for it, as at rerank time), one listwise
softmax loss per ticket. On the held-out fold, hybrid's first ``--rerank`` articles (their best
sections as the project's ``Searcher`` returns them) are reordered by the cross-encoder's score;
the rest keep their order. Also reports the CPU time of scoring per ticket. Nothing here is used
by the product; no weights are written.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from study_finetune import (TunedEncoder, _record, fmt, folds_for, load_model, rank, scores,  # noqa: E402
                            target_chunk)

from search.chunker import chunk_corpus  # noqa: E402
from search.corpus import load_corpus  # noqa: E402
from search.encoder import resolve_model  # noqa: E402
from search.evaluate import load_tickets  # noqa: E402
from search.searcher import open_searcher  # noqa: E402
from search.settings import load_settings  # noqa: E402
from search.ticket import ticket_query  # noqa: E402


def groups_for(train, rows, tickets, chunks, base_rankings, pooled, negatives: int) -> list[tuple[str, list[str]]]:
    """Per training ticket and label: (query, [positive, hard negatives…]). Every article is
    represented as at rerank time — by the best section hybrid shows for it — so the model cannot
    learn the kind of section (a Resolution for positives, whatever ranked for negatives) instead of
    relevance; a labelled article outside hybrid's top 10 is represented by its linked section."""
    out = []
    for i in train:
        shown = dict(base_rankings[i])
        wrong = [chunks[c].embed_text for a, c in base_rankings[i] if a not in pooled[i].relevant][:negatives]
        for k, aid in enumerate(rows[i]["article_ids"]):
            pos = shown.get(aid, target_chunk(chunks, aid, rows[i].get("anchor") if k == 0 else None))
            if wrong:
                out.append((tickets[i].focus, [chunks[pos].embed_text, *wrong]))
    return out


def train_cross_encoder(path: Path, groups, epochs: int, per_step: int, lr: float, max_len: int, seed: int):
    import torch
    from transformers import AutoModelForSequenceClassification, get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    tokenizer = load_model(path).tokenizer   # the bi-encoder's own (fast) tokenizer
    model = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1, use_safetensors=True)
    rng = random.Random(seed)
    order = [g for _ in range(epochs) for g in rng.sample(groups, len(groups))]
    steps = max(1, len(order) // per_step)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    schedule = get_linear_schedule_with_warmup(optimiser, max(1, steps // 10), steps)
    model.train()
    for s in range(steps):
        loss = 0.0
        for query, texts in order[s * per_step:(s + 1) * per_step]:
            enc = tokenizer([query] * len(texts), texts, truncation="longest_first", max_length=max_len,
                            padding=True, return_tensors="pt")
            logits = model(**enc).logits.view(1, -1)
            loss = loss + torch.nn.functional.cross_entropy(logits, torch.zeros(1, dtype=torch.long))
        (loss / per_step).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
    model.eval()
    return tokenizer, model, steps


def rerank(tokenizer, model, query: str, ranking: list[tuple[str, int]], chunks, depth: int, max_len: int):
    """Hybrid's first ``depth`` articles reordered by the cross-encoder's score of their best section."""
    import torch

    head = ranking[:depth]
    with torch.no_grad():
        enc = tokenizer([query] * len(head), [chunks[c].embed_text for _, c in head], truncation="longest_first",
                        max_length=max_len, padding=True, return_tensors="pt")
        logit = model(**enc).logits.view(-1).numpy()
    order = np.argsort(-logit, kind="stable")
    return [head[j][0] for j in order] + [a for a, _ in ranking[depth:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", default="eval/tickets.jsonl")
    parser.add_argument("--site-dir", default="site")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-folds", default="")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--per-step", type=int, default=4, help="tickets per optimiser step")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--max-len", type=int, default=256)
    parser.add_argument("--rerank", default="3,5", help="depths to rerank (comma-separated)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = load_settings(None, {"site_dir": args.site_dir, "data_dir": args.data_dir})
    model_info = resolve_model(settings.model)
    base_encoder = TunedEncoder(load_model(model_info.path))
    searcher = open_searcher(settings, encoder=base_encoder)
    chunks = chunk_corpus(load_corpus(settings.corpus_path), base_encoder.count_tokens)
    rows = [json.loads(line) for line in Path(args.tickets).read_text(encoding="utf-8").splitlines() if line.strip()]
    pooled = load_tickets(Path(args.tickets), searcher.build.articles)
    primary = load_tickets(Path(args.tickets), searcher.build.articles, primary_only=True)
    tickets = [ticket_query(r["text"]) for r in rows]
    base_rankings = [rank(searcher, t) for t in tickets]
    depths = [int(d) for d in args.rerank.split(",")]
    wanted = {int(f) for f in args.only_folds.split(",") if f.strip()} or set(range(args.folds))
    print("| model | tickets | writer R@1 | pooled R@1 | writer R@5 | pooled R@5 | writer idHit@1 | pooled idHit@1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for f, test in enumerate(folds_for("ticket", rows, args.folds, args.seed)):
        if f not in wanted:
            continue
        train = [i for i in range(len(rows)) if i not in set(test.tolist())]
        groups = groups_for(train, rows, tickets, chunks, base_rankings, pooled, args.negatives)
        t0 = time.perf_counter()
        tokenizer, model, steps = train_cross_encoder(model_info.path, groups, args.epochs, args.per_step,
                                                      args.lr, args.max_len, args.seed)
        train_s = time.perf_counter() - t0
        base = {int(i): [a for a, _ in base_rankings[i]] for i in test}
        print(fmt(f"fold {f} hybrid", scores(base, pooled, primary)))
        record = {"fold": f, "groups": len(groups), "train_s": train_s, "base": scores(base, pooled, primary)}
        for depth in depths:
            t1 = time.perf_counter()
            ranked = {int(i): rerank(tokenizer, model, tickets[i].focus, base_rankings[i], chunks, depth, args.max_len)
                      for i in test}
            per_ticket = (time.perf_counter() - t1) / len(test) * 1000
            result = scores(ranked, pooled, primary)
            record[f"rerank{depth}"], record[f"ms_per_ticket{depth}"] = result, per_ticket
            print(fmt(f"fold {f} + cross-encoder top {depth} ({len(groups)} groups, {steps} steps, "
                      f"train {train_s:.0f} s, {per_ticket:.0f} ms/ticket)", result), flush=True)
        _record(args.json, record)


if __name__ == "__main__":
    main()
