#!/usr/bin/env python3
"""The most expensive request within the API's limits, next to a typical one (issue 17).

    python scripts/worst_case.py [--site-dir site] [--data-dir data] [--synthetic 100000]
                                 [--rounds 3] [--repeat 2] [--json PATH]

Drives the real app (``create_app``: the real model, the published index under ``--data-dir``,
a throw-away links database) in-process through Flask's test client and measures each request's
CPU time (``time.process_time``: what a request takes from the server, whatever else the machine
runs; the best of ``--repeat`` runs). The word caches of the tokenizer and the highlighter and the
cache of identifier spellings are cleared before every run, so a request pays for its words as the
first request bringing them would (the sections' snippet data and sentences are not: the server
prepares them when it loads an index of up to 8,192 chunks; above that, the first run pays for them).

Typical requests: every labelled ticket (eval/tickets.jsonl) as ``GET /api/search`` (its first 512
characters) and as ``POST /api/suggest``; their median is the yardstick. The search for the worst
request then tries, within the API's limits (search/service/api.py: ``q`` ≤ 512 characters,
ticket body ≤ 20,000, subject ≤ 1,000, ``k`` 1–50, ``mode``, ``area``/``type``/``tag`` filters):
adversarial texts (runs of capitals, long words, punctuation, the issue's strings), the corpus's
most frequent tokens (longest BM25 posting lists), every declared code and alert name, many
identifier-shaped words, the longest tickets — in every combination of ``k``, mode and filter —
then ``--rounds`` of mutation of the most expensive ones (halves swapped between them, filters
and ``k`` changed). Also ``GET /api/articles/<id>`` for the largest article and ``GET
/api/links?limit=500`` over 1,000 stored links. The same on a synthetic index of ``--synthetic``
chunks (scripts/benchmark.py's, with an identifier lane and one article per 10 chunks; 0 skips).
Finally a profile of the worst request. Prints a Markdown report; asserts nothing.
Goal (issue 17): the worst request costs ≤ 10× the median request at every index size.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
import types
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from search import identifiers, lexical_tokens, results  # noqa: E402
from search.service.api import MAX_QUERY, MAX_SUBJECT, MAX_TICKET  # noqa: E402

GOAL = 10.0
# per-query caches (a section's snippet data and sentences stay: the server prepares them at start)
WORD_CACHES = (lexical_tokens._word_tokens, lexical_tokens._stem, results._term, results._key, results.query_terms,
               identifiers.spelled)


class Request(types.SimpleNamespace):
    """One API request: ``method``, ``path``, ``args`` (query string), ``body`` (JSON or None), ``label``."""

    def describe(self) -> str:
        args = {k: (v if len(str(v)) <= 24 else f"<{len(v)} chars: {v[:16]!r}…>") for k, v in (self.args or {}).items()}
        body = ""
        if self.body:
            body = " " + ", ".join(f"{k}=<{len(v)} chars>" for k, v in self.body.items())
        return f"{self.method} {self.path}{'?' + urlencode(args) if args else ''}{body} [{self.label}]"


def cost(client, request: Request, repeat: int) -> float:
    """The request's CPU seconds in this process, best of ``repeat``; fails loudly on a non-2xx."""
    best = float("inf")
    for _ in range(repeat):
        for cache in WORD_CACHES:
            cache.cache_clear()
        start = time.process_time()
        response = client.open(request.path, method=request.method, query_string=request.args, json=request.body)
        best = min(best, time.process_time() - start)
        if response.status_code >= 300:
            raise SystemExit(f"{request.describe()}: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}")
    return best


def fill(unit: str, size: int) -> str:
    return (unit * (size // max(len(unit), 1) + 1))[:size]


def adversarial_texts(size: int) -> dict[str, str]:
    """Hostile text shapes (tests/test_regex_redos.py has the full set) at ``size`` characters."""
    return {
        "Aa + capitals": "Aa" + fill("A", size - 2), "issue ticket": fill(
            "Hi, the player shows VideoPLAYBACKFAILEDUNKNOWNERRORCODE again\n", size),
        "AB + c… + _": "AB" + fill("c", size - 3) + "_", "one long word": fill("abcdefghij", size),
        "alternating case": fill("aA", size), "unicode": fill("ÄäAé中文ßİ", size), "dots": fill(".", size),
        "spaces": fill(" ", size - 1) + "x", "sign-off spaces": "thanks" + fill(" ", size - 7) + "x",
        "punctuation": fill("=/{}|;[]()<>*#", size), "one-letter words": fill("a b c d e f g h ", size),
        "digits and dashes": fill("-1234 ", size), "many lines": fill("x\n", size),
    }


def corpus_texts(searcher, size: int) -> dict[str, str]:
    """Texts made of what this index holds: its most frequent tokens, its declared codes, its
    identifier-shaped words, every distinct word."""
    build = searcher.build
    lexical = build.lexical
    postings = {t: lexical._bounds[i + 1] - lexical._bounds[i] for t, i in lexical.vocab.items()}
    by_postings = sorted(postings, key=postings.get, reverse=True)
    words = [w for c in build.chunks for w in c["text"].split()]
    frequent = [w for w, _ in Counter(words).most_common(2000)]
    declared = [build.identifiers.display[k] for k in build.identifiers.declared]
    found = sorted(build.identifiers.found, key=lambda k: -len(build.identifiers.found[k]))
    return {
        "frequent tokens": fill(" ".join(by_postings[:400]) + " ", size),
        "frequent words": fill(" ".join(frequent) + " ", size),
        "declared codes": fill(" ".join(declared) + " ", size) if declared else "",
        "found identifiers": fill(" ".join(found) + " ", size) if found else "",
        "distinct words": fill(" ".join(dict.fromkeys(words)) + " ", size),
    }


def typical(tickets: list[str]) -> list[Request]:
    out = []
    for text in tickets:
        out.append(Request(method="GET", path="/api/search", args={"q": text[:MAX_QUERY]}, body=None, label="ticket"))
        out.append(Request(method="POST", path="/api/suggest", args={}, body={"body": text[:MAX_TICKET]}, label="ticket"))
    return out


def filters(searcher) -> list[dict]:
    articles = list(searcher.build.articles.values())
    area = Counter(a["service_area"] for a in articles).most_common(1)[0][0]
    tag = Counter(t for a in articles for t in a.get("tags", ())).most_common(1)[0][0]
    return [{}, {"area": area}, {"type": "faq"}, {"tag": tag}, {"area": area, "type": "faq", "tag": tag}]


def candidates(searcher, tickets: list[str]) -> list[Request]:
    longest = sorted(tickets, key=len)[-3:]
    queries = {**adversarial_texts(MAX_QUERY), **corpus_texts(searcher, MAX_QUERY),
               **{f"long ticket {i}": t[:MAX_QUERY] for i, t in enumerate(longest)}}
    bodies = {**adversarial_texts(MAX_TICKET), **corpus_texts(searcher, MAX_TICKET),
              "all tickets": fill("\n\n".join(tickets), MAX_TICKET)}
    out = []
    for label, q in queries.items():
        for k in (1, 10, 50):
            for mode in ("hybrid", "dense", "lexical"):
                for extra in filters(searcher):
                    if q.strip():
                        out.append(Request(method="GET", path="/api/search", args={"q": q, "k": k, "mode": mode, **extra},
                                           body=None, label=label))
    for label, body in bodies.items():
        for k in (5, 50):
            for subject in ("", fill(body[:MAX_SUBJECT] or "subject", MAX_SUBJECT)):
                if body.strip():
                    out.append(Request(method="POST", path="/api/suggest", args={"k": k},
                                       body={"body": body, "subject": subject}, label=label))
    biggest = Counter(searcher.build.chunk_article).most_common(1)[0][0]
    out.append(Request(method="GET", path=f"/api/articles/{biggest}", args={}, body=None, label="largest article"))
    out.append(Request(method="GET", path="/api/links", args={"limit": 500}, body=None, label="500 links"))
    return out


def mutate(rng: random.Random, a: Request, b: Request, searcher) -> Request:
    """A new request near ``a``: half of its text joined to half of ``b``'s, or another k / filter."""
    new = Request(**vars(a))
    new.args, new.body = dict(a.args or {}), dict(a.body) if a.body else None
    choice = rng.randrange(3)
    if choice == 0 and a.path == b.path and a.path in ("/api/search", "/api/suggest"):
        key, limit = ("q", MAX_QUERY) if a.path == "/api/search" else ("body", MAX_TICKET)
        mine = (new.args if key == "q" else new.body)[key]
        theirs = (b.args if key == "q" else b.body)[key]
        joined = (mine[: len(mine) // 2] + theirs[len(theirs) // 2:])[:limit]
        (new.args if key == "q" else new.body)[key] = joined
        new.label = f"{a.label} + {b.label}"
    elif choice == 1 and "k" in new.args:
        new.args["k"] = rng.choice([1, 5, 10, 25, 50])
    elif a.path == "/api/search":
        for name in ("area", "type", "tag"):
            new.args.pop(name, None)
        new.args.update(rng.choice(filters(searcher)))
    return new


def worst_search(client, searcher, tickets, rounds: int, repeat: int, seed: int = 0) -> list[tuple[float, Request]]:
    scored = [(cost(client, r, repeat), r) for r in candidates(searcher, tickets)]
    rng = random.Random(seed)
    for _ in range(rounds):
        scored.sort(key=lambda x: -x[0])
        top = [r for _, r in scored[:8]]
        scored += [(cost(client, m, repeat), m) for m in (mutate(rng, a, rng.choice(top), searcher) for a in top for _ in range(3))]
    scored.sort(key=lambda x: -x[0])
    return scored


def seed_links(client, searcher, token: str) -> None:
    """1,000 links, so that ``GET /api/links?limit=500`` returns a full page."""
    aid = next(iter(searcher.build.articles))
    for i in range(1000):
        client.post("/api/links", json={"ticket_id": f"ZD-{i}", "article_id": aid, "source": "manual"},
                    headers={"Authorization": f"Bearer {token}"})


def profile(client, request: Request, out: list[str]) -> None:
    for cache in WORD_CACHES:
        cache.cache_clear()
    prof = cProfile.Profile()
    prof.enable()
    client.open(request.path, method=request.method, query_string=request.args, json=request.body)
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(8)
    lines = [line for line in text.getvalue().splitlines() if line.strip()][-9:]
    out.append("\nProfile of the worst request (cProfile, top 8 by own time):\n\n```\n" + "\n".join(lines) + "\n```")


def report(label: str, client, searcher, tickets, args, out: list[str]) -> float:
    measured = [(r.method, cost(client, r, args.repeat)) for r in typical(tickets)]
    typical_costs = sorted(c for _, c in measured)
    search_costs = [c for method, c in measured if method == "GET"]
    suggest_costs = [c for method, c in measured if method == "POST"]
    median = statistics.median(typical_costs)
    scored = worst_search(client, searcher, tickets, args.rounds, args.repeat)
    worst_cost, worst = scored[0]
    out.append(f"\n## {label}\n")
    out.append(f"Typical requests ({len(typical_costs)}: the {len(tickets)} labelled tickets as GET /api/search and "
               f"POST /api/suggest), CPU ms: median {median * 1000:.2f} (search {statistics.median(search_costs) * 1000:.2f}, "
               f"suggest {statistics.median(suggest_costs) * 1000:.2f}); p95 "
               f"{typical_costs[int(0.95 * len(typical_costs))] * 1000:.2f}; max {typical_costs[-1] * 1000:.2f}\n")
    out.append(f"Requests tried: {len(scored)}. The 10 most expensive:\n")
    out.append("| CPU ms | × median | request |\n|---:|---:|---|")
    for c, r in scored[:10]:
        out.append(f"| {c * 1000:.2f} | {c / median:.1f} | `{r.describe()}` |")
    out.append("\nThe most expensive request per endpoint:\n")
    out.append("| CPU ms | × median | request |\n|---:|---:|---|")
    for path in dict.fromkeys(r.path.rsplit("/", 1)[0] if "articles" in r.path else r.path for _, r in scored):
        c, r = next((c, r) for c, r in scored if r.path.startswith(path))
        out.append(f"| {c * 1000:.2f} | {c / median:.1f} | `{r.describe()}` |")
    ratio = worst_cost / median
    out.append(f"\nworst / median = {ratio:.1f} (goal ≤ {GOAL:g}): {'met' if ratio <= GOAL else 'NOT MET'}")
    profile(client, worst, out)
    return ratio


def synthetic_searcher(settings, searcher, size: int, tmp: Path):
    """scripts/benchmark.py's synthetic build, with one synthetic article per 10 chunks (copying
    its source article's metadata, declared codes included) and a real identifier lane."""
    from benchmark import synthetic_index

    from search.ident_index import IdentifierIndex
    from search.searcher import Searcher

    build, kind, _noisy, _index = synthetic_index(settings, size, tmp)
    articles, chunk_article = {}, []
    sources = [build.articles[chunk["article_id"]] for chunk in build.chunks[::10]]
    for n, chunk in enumerate(build.chunks):
        source = sources[n // 10]   # the article of the group's first chunk
        aid = f"{source['id']}-S{n // 10}"
        articles.setdefault(aid, dict(source, id=aid, url=f"{source['url']}s{n // 10}/"))
        chunk["article_id"] = aid
        chunk_article.append(aid)
    build.articles, build.chunk_article = articles, chunk_article
    chunk_ns = [types.SimpleNamespace(article_id=c["article_id"], heading=c["heading"], text=c["text"]) for c in build.chunks]
    article_ns = [types.SimpleNamespace(id=a["id"], error_codes=a.get("error_codes", []),
                                        related_alerts=a.get("related_alerts", [])) for a in articles.values()]
    build.identifiers = IdentifierIndex.build(chunk_ns, article_ns)
    return Searcher(build, searcher.encoder, searcher.config), kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site-dir", default="site")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--synthetic", type=int, default=100000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    from search.service import create_app
    from search.settings import load_settings

    started = time.perf_counter()
    tickets = [json.loads(line)["text"] for line in open(ROOT / "eval" / "tickets.jsonl", encoding="utf-8")]
    out = [f"# Worst-case requests ({time.strftime('%Y-%m-%d %H:%M')}, `python scripts/worst_case.py "
           f"--synthetic {args.synthetic} --rounds {args.rounds} --repeat {args.repeat}`)"]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, {"site_dir": args.site_dir, "data_dir": args.data_dir, "rate_limit_per_minute": 0,
                                        "api_token": "worst-case", "database_url": f"sqlite:///{tmp}/links.db"})
        app = create_app(settings, watch=False)
        client = app.test_client()
        state = app.extensions["kb"]
        searcher = state.holder.searcher
        if searcher is None:
            raise SystemExit(f"no index under {args.data_dir}: run 'kb build' and 'kb index' first")
        seed_links(client, searcher, "worst-case")
        ratios = [report(f"KB index ({len(searcher.build.chunks)} chunks)", client, searcher, tickets, args, out)]
        if args.synthetic:
            big, kind = synthetic_searcher(settings, searcher, args.synthetic, Path(tmp))
            state.holder.searcher = big
            ratios.append(report(f"Synthetic index ({args.synthetic} chunks, {kind}, "
                                 f"{len(big.build.articles)} articles)", client, big, tickets, args, out))
    out.append(f"\nGoal worst ≤ {GOAL:g}× median: " + ("met at every index size" if max(ratios) <= GOAL else
                                                       f"NOT MET (worst ratio {max(ratios):.1f})")
               + f"; run took {time.perf_counter() - started:.0f} s")
    print("\n".join(out))


if __name__ == "__main__":
    main()
