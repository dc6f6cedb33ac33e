"""``kb eval``: retrieval quality on the labelled tickets or on any BEIR-layout directory.

Metrics are computed per query over the ranked list of *articles* (BEIR documents), then averaged:
Recall@k = |relevant ∩ top k| / |relevant|; MRR@10 = 1 / rank of the first relevant (0 beyond 10);
nDCG@10 with graded gains (2^rel − 1) / log2(rank + 1); Hit@1 on the identifier subset = the top
article is relevant, over queries that contain an exact identifier of a relevant article
(tickets: one of its ``error_codes`` / ``related_alerts``; BEIR: a specific identifier of its text).
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from search import identifiers
from search.corpus import Article, Corpus, Section
from search.errors import SearchError

KS = (1, 5, 10)


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    relevant: dict[str, int]     # article/doc id → grade
    has_identifier: bool = False


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SearchError(f"{path}: cannot read ({exc})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SearchError(f"{path}:{n}: not valid JSON ({exc.msg}); one JSON object per line") from None
        if not isinstance(row, dict):
            raise SearchError(f"{path}:{n}: expected a JSON object")
        rows.append(row)
    return rows


def load_tickets(path: Path, articles: dict[str, dict], primary_only: bool = False) -> list[Query]:
    """The labelled ticket set: one object per line with ``id``, ``text``, ``article_ids`` (the
    writer's labels, grade 2) and optionally ``also_answers`` (articles a blind pooled assessment
    found to answer the ticket too, grade 1; see docs/retrieval.md). ``primary_only`` ignores
    ``also_answers``. The identifier subset is defined by the ``article_ids`` alone."""
    queries = []
    for n, row in enumerate(_read_jsonl(path), 1):
        missing = [f for f in ("id", "text", "article_ids") if f not in row]
        if missing:
            raise SearchError(f"{path}: record {n}: missing field(s) {', '.join(missing)}")
        also = row.get("also_answers", [])
        if not isinstance(also, list) or not all(isinstance(a, str) for a in also):
            raise SearchError(f"{path}: record {n}: field 'also_answers' must be a list of article ids")
        codes = [c for a in row["article_ids"] if a in articles
                 for c in (*articles[a].get("error_codes", ()), *articles[a].get("related_alerts", ()))]
        low = row["text"].lower()
        relevant = {} if primary_only else {a: 1 for a in also}
        relevant.update({a: 2 for a in row["article_ids"]})
        queries.append(Query(row["id"], row["text"], relevant, any(str(c).lower() in low for c in codes)))
    return queries


def load_texts(path: Path) -> list[str]:
    """The ``text`` of every record of a .jsonl file of queries (e.g. the unanswerable tickets)."""
    texts = []
    for n, row in enumerate(_read_jsonl(path), 1):
        if not isinstance(row.get("text"), str) or not row["text"].strip():
            raise SearchError(f"{path}: record {n}: field 'text' must be a non-empty string")
        texts.append(row["text"])
    return texts


def load_beir(directory: Path) -> tuple[Corpus, list[Query]]:
    """A BEIR directory (corpus.jsonl, queries.jsonl, qrels.tsv) as a corpus of one-section articles."""
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        if not (directory / name).is_file():
            raise SearchError(f"{directory}: no {name}; a BEIR directory holds corpus.jsonl, queries.jsonl, qrels.tsv")
    docs = _read_jsonl(directory / "corpus.jsonl")
    articles = tuple(Article(id=str(d["_id"] if "_id" in d else d["id"]), title=d.get("title") or "", type="doc",
                             service_area="eval", url=f"doc/{d.get('_id', d.get('id'))}/", stable_url="",
                             sections=(Section(d.get("title") or "", 2, "", d.get("text") or ""),))
                     for d in docs)
    digest = hashlib.sha256((directory / "corpus.jsonl").read_bytes()).hexdigest()
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate((directory / "qrels.tsv").read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("\t")
        if n == 1 and not parts[-1].strip().lstrip("-").isdigit():
            continue  # header
        if len(parts) < 3:
            raise SearchError(f"{directory / 'qrels.tsv'}:{n}: expected query-id<TAB>doc-id<TAB>score")
        if int(parts[2]) > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    texts = {str(q.get("_id", q.get("id"))): q["text"] for q in _read_jsonl(directory / "queries.jsonl")}
    doc_text = {a.id: a.title + " " + a.sections[0].text for a in articles}
    queries = []
    for qid, rel in sorted(qrels.items()):
        if qid not in texts:
            continue
        strong = {k for k in identifiers.extract(texts[qid]) if identifiers.is_strong(k)}
        has = any(k in identifiers.extract(doc_text.get(d, "")) for d in rel for k in strong)
        queries.append(Query(qid, texts[qid], rel, has))
    return Corpus(articles, digest), queries


def query_metrics(ranked: list[str], relevant: dict[str, int]) -> dict[str, float]:
    out = {f"recall@{k}": len(set(ranked[:k]) & set(relevant)) / len(relevant) for k in KS}
    first = next((r for r, d in enumerate(ranked[:10], 1) if d in relevant), None)
    out["mrr@10"] = 1.0 / first if first else 0.0
    dcg = sum((2 ** relevant.get(d, 0) - 1) / math.log2(r + 1) for r, d in enumerate(ranked[:10], 1))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum((2 ** g - 1) / math.log2(r + 1) for r, g in enumerate(ideal, 1))
    out["ndcg@10"] = dcg / idcg if idcg else 0.0
    out["hit@1"] = 1.0 if ranked[:1] and ranked[0] in relevant else 0.0
    return out


def evaluate(run: Callable[[str, str], list[str]], queries: list[Query], modes=("hybrid", "dense", "lexical")) -> dict:
    """``run(text, mode)`` returns ranked article ids. Returns {mode: metrics} (means)."""
    report = {}
    for mode in modes:
        per = [(q, query_metrics(run(q.text, mode), q.relevant)) for q in queries]
        mean = {m: sum(p[m] for _, p in per) / max(len(per), 1) for m in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")}
        ident = [p["hit@1"] for q, p in per if q.has_identifier]
        mean["identifier_hit@1"] = sum(ident) / len(ident) if ident else None
        mean["queries"], mean["identifier_queries"] = len(per), len(ident)
        report[mode] = mean
    return report


def abstention_metrics(answerable: list[bool], unanswerable: list[bool]) -> dict[str, float | None]:
    """"No confident match" as a classifier (True = abstained) over answerable queries (the labelled
    tickets) and unanswerable ones (tickets no article answers): recall = share of unanswerable
    flagged, precision = share of flags that are unanswerable, false_abstention = share of
    answerable flagged."""
    caught, wrong = sum(unanswerable), sum(answerable)
    return {"abstention_recall": caught / len(unanswerable) if unanswerable else None,
            "abstention_precision": caught / (caught + wrong) if caught + wrong else None,
            "false_abstention": wrong / len(answerable) if answerable else None,
            "unanswerable_queries": len(unanswerable)}


def format_abstention(name: str, report: dict) -> str:
    cols = ("abstention_recall", "abstention_precision", "false_abstention")
    lines = [f"no confident match on {name} ({next(iter(report.values()))['unanswerable_queries']} unanswerable "
             "tickets) vs the labelled tickets", "| mode | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for mode, m in report.items():
        lines.append(f"| {mode} | " + " | ".join("–" if m[c] is None else f"{m[c]:.3f}" for c in cols) + " |")
    return "\n".join(lines)


def format_table(name: str, report: dict) -> str:
    cols = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "identifier_hit@1")
    lines = [f"{name} ({next(iter(report.values()))['queries']} queries, "
             f"{next(iter(report.values()))['identifier_queries']} with an identifier)",
             "| mode | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for mode, m in report.items():
        cells = ["–" if m[c] is None else f"{m[c]:.3f}" for c in cols]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
