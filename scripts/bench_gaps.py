"""Ad-hoc timing: what recording queries for the gaps report adds to GET /api/search (fast path).

Runs the same mix of queries against two apps over one published index, ``record_queries`` on and
off, each with its own fresh SQLite database, through the Flask test client (so through the Guard
and FastSearch middlewares), interleaved in rounds so machine noise hits both arms alike. Prints the
median and p90 per request of each arm and the difference.

    KB_SITE_DIR=… KB_DATA_DIR=… OMP_NUM_THREADS=1 python scripts/bench_gaps.py [--rounds 5] [--queries 200] [--aa]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from search.service import create_app
from search.settings import load_settings

WORDS = ["drm", "licence", "6007", "upload", "stuck", "player", "buffering", "live", "latency", "rtmp", "error",
         "audio", "sync", "hdcp", "widevine", "403", "cdn", "thumbnail", "zqxv", "blorp"]


def queries(n: int) -> list[str]:
    """Deterministic mix: every third query repeats an earlier one (a day has repeats)."""
    out = []
    for i in range(n):
        if i % 3 == 2:
            out.append(out[i // 2])
        else:
            out.append(" ".join(WORDS[(i * k + 3) % len(WORDS)] for k in (1, 7, 11)[: 1 + i % 3]))
    return out


def run(client, qs: list[str]) -> list[float]:
    times = []
    for q in qs:
        start = time.perf_counter()
        response = client.get("/api/search", query_string={"q": q})
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.data[:200]
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--aa", action="store_true", help="both arms with recording off: the noise floor of two "
                        "apps (each loads its own model) measured alike")
    args = parser.parse_args()
    base = load_settings()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gaps-"))
    clients = {}
    for name, on in (("on", not args.aa), ("off", False)):
        settings = dataclasses.replace(base, record_queries=on, rate_limit_per_minute=0,
                                       database_url=f"sqlite:///{tmp / (name + '.db')}")
        clients[name] = create_app(settings, watch=False).test_client()
    qs = queries(args.queries)
    for client in clients.values():
        run(client, qs[:20])   # warm-up
    times = {"on": [], "off": []}
    for _ in range(args.rounds):
        for name in ("off", "on"):
            times[name] += run(clients[name], qs)
    for name, values in times.items():
        values.sort()
        label = f"arm {name} (recording off)" if args.aa else f"record_queries={name}"
        print(f"{label:28}: n={len(values)} median {statistics.median(values) * 1000:.3f} ms, "
              f"p90 {values[int(len(values) * 0.9)] * 1000:.3f} ms")
    print(f"median difference: {(statistics.median(times['on']) - statistics.median(times['off'])) * 1000:.3f} ms")
    if not args.aa:
        direct(clients["on"].application.extensions["kb"].store, qs)


def direct(store, qs: list[str]) -> None:
    """The write alone: ``record_query`` for the same mix (new and repeated queries, 5 callers)."""
    from search.service.gaps.normalise import normalise_query
    from search.service.gaps.records import QueryEvent

    times = []
    for i, q in enumerate(qs * 5):
        event = QueryEvent("search", normalise_query(q) + " direct", "", "hybrid", i % 2 == 0, "A", f"caller{i % 5}")
        start = time.perf_counter()
        store.record_query(event, 10000)
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"record_query alone: n={len(times)} median {statistics.median(times) * 1000:.3f} ms, "
          f"p90 {times[int(len(times) * 0.9)] * 1000:.3f} ms")


if __name__ == "__main__":
    main()
