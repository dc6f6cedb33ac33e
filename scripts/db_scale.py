"""How the links database's reads and writes scale: fill it with millions of rows, time what the API does.

    python scripts/db_scale.py [--links 10000000] [--suggestions 10000000] [--backend sqlite|postgresql|both]
                               [--repeat 5] [--json PATH]

For each backend: a fresh database (SQLite in a temporary directory; PostgreSQL: a throw-away server
from Debian's package on 127.0.0.1, started as tests/pg_server.py starts it), the store's
own schema, then ``--links`` links (two per ticket, a skewed spread over 80 articles) and
``--suggestions`` suggestion rows (ten per named request over 200 days, a quarter without a
confident match) written in bulk, *without* the aggregate tables. Reopening the store runs the
one-time upgrade that fills them (timed: what an existing large database pays once). Then, median of
``--repeat`` runs (ms): the report, an article's ticket count and link lists (the busiest article),
a ticket's links, the newest links, a link added and deleted, a suggestion recorded; the former
whole-table queries on the same rows for comparison; finally the retention purge at 180 days
(about 10 % of the suggestions). Nothing here is asserted; docs/performance.md quotes a run.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search.service.links import open_store  # noqa: E402
from search.service.schema import INDEXES, RECORDED_PER_REQUEST  # noqa: E402

ARTICLES = [f"FAQ-X-{i:03d}" for i in range(80)]
NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.timezone.utc)
OLD_QUERIES = {   # what /api/articles and /api/reports ran before (whole-table GROUP BY / DISTINCT)
    "old article count (GROUP BY all links)": "SELECT article_id, COUNT(DISTINCT ticket_id) FROM links GROUP BY article_id",
    "old report: requests (DISTINCT over suggestions)": "SELECT COUNT(DISTINCT request_id) FROM suggestions",
    "old report: tickets with suggestions": "SELECT COUNT(DISTINCT ticket_id) FROM suggestions WHERE ticket_id IS NOT NULL",
}


def _article(ticket: int, second: int) -> str:
    u = ((ticket * 2654435761 + second * 40503) % 2 ** 32) / 2 ** 32
    return ARTICLES[int(80 * u * u)]   # skewed: low numbers are the busy articles


def link_rows(n: int):
    for i in range(n):
        ticket = i // 2
        yield (f"ZD-{ticket}", _article(ticket, i % 2), "" if i % 2 == 0 else "resolution",
               ("suggested", "searched", "manual")[ticket % 3], "agent", "2026-11-01T00:00:00+00:00")


def suggestion_rows(n: int):
    for j in range(n):
        request, rank = divmod(j, RECORDED_PER_REQUEST)
        created = (NOW - dt.timedelta(days=request % 200, seconds=request % 86000)).isoformat(timespec="seconds")
        yield (f"req-{request}", f"ZD-{request}", _article(request, rank % 2) if rank < 2 else ARTICLES[(request + rank * 11) % 80],
               "", rank + 1, 1.0 / (rank + 1), int(request % 4 != 0), created)


CREATES = [sql for sql in INDEXES if sql.startswith("CREATE")]
DROPS = [f"DROP INDEX IF EXISTS {sql.split()[5]}" for sql in CREATES]   # CREATE INDEX IF NOT EXISTS <name> ON …


def fill(backend: str, url: str, links: int, suggestions: int) -> float:
    """Bulk-load the rows with the secondary indexes dropped, then build the indexes (sorted, fast)."""
    open_store(url).close()   # the schema, aggregate tables empty
    started = time.perf_counter()
    link_sql = "INSERT INTO links (ticket_id, article_id, anchor, source, agent, created_at) VALUES ({})"
    sugg_sql = ("INSERT INTO suggestions (request_id, ticket_id, article_id, anchor, rank, score, confident, created_at) "
                "VALUES ({})")
    if backend == "sqlite":
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA cache_size = -400000")
        for sql in DROPS:
            conn.execute(sql)
        conn.execute("BEGIN")
        conn.executemany(link_sql.format(", ".join("?" * 6)), link_rows(links))
        conn.executemany(sugg_sql.format(", ".join("?" * 8)), suggestion_rows(suggestions))
        for sql in CREATES:
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url) as conn, conn.cursor() as cur:
            for sql in DROPS:
                cur.execute(sql)
            with cur.copy("COPY links (ticket_id, article_id, anchor, source, agent, created_at) FROM STDIN") as copy:
                for row in link_rows(links):
                    copy.write_row(row)
            with cur.copy("COPY suggestions (request_id, ticket_id, article_id, anchor, rank, score, confident, "
                          "created_at) FROM STDIN") as copy:
                for row in suggestion_rows(suggestions):
                    copy.write_row(row)
            for sql in CREATES:
                cur.execute(sql)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
    return time.perf_counter() - started


def _median_ms(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times[0], statistics.median(times)


def measure(backend: str, url: str, links: int, suggestions: int, repeat: int) -> dict:
    result = {"backend": backend, "links": links, "suggestions": suggestions}
    result["fill_s"] = round(fill(backend, url, links, suggestions), 1)
    started = time.perf_counter()
    store = open_store(url, busy_timeout=600)   # runs the one-time upgrade that fills the aggregates
    result["upgrade_s"] = round(time.perf_counter() - started, 1)
    if backend == "postgresql":   # as autovacuum would, before measuring: fresh visibility map and statistics
        import psycopg

        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        result["vacuum_s"] = round(time.perf_counter() - started, 1)
    busy, ticket = ARTICLES[0], f"ZD-{links // 4}"
    counter = iter(range(10 ** 9))

    def add_and_delete():
        link, _ = store.add_link(f"BENCH-{next(counter)}", busy, "", "suggested", "bench")
        store.delete_link(link.id)

    timed = {
        "report (/api/reports)": store.report,
        "article ticket count (/api/articles/<busiest>)": lambda: store.link_counts([busy]),
        "links of the busiest article, oldest 100": lambda: store.links(article_id=busy, limit=100),
        "links of one ticket": lambda: store.links(ticket_id=ticket),
        "newest 100 links": lambda: store.links(limit=100, oldest_first=False),
        "add + delete a link": add_and_delete,
        "record a suggest request (ticket, 10 rows)": lambda: store.record_suggestions(
            f"bench-{next(counter)}", ticket, [(a, "", i + 1, 0.5) for i, a in enumerate(ARTICLES[:10])], confident=False),
    }
    result["ms"] = {name: _median_ms(fn, repeat) for name, fn in timed.items()}
    with store._tx() as cur:
        for name, sql in OLD_QUERIES.items():
            started = time.perf_counter()
            cur.execute(sql)
            cur.fetchall()
            result["ms"][name] = ((time.perf_counter() - started) * 1000,) * 2
    started = time.perf_counter()
    result["purged"] = store.purge_expired(180, now=NOW)
    result["purge_s"] = round(time.perf_counter() - started, 1)
    result["ms"]["report after the purge"] = _median_ms(store.report, repeat)
    return result


def _postgres_url(workdir: Path):
    """A throw-away PostgreSQL server (tests/pg_server.py's helpers); returns (url, stop)."""
    import subprocess

    from tests.pg_server import USER, _run_as, _server_bindir, _start, _stop

    bindir, run_as = _server_bindir(), _run_as()
    if run_as:
        os.chown(workdir, run_as["user"], run_as["group"])
    subprocess.run([str(bindir / "initdb"), "-D", str(workdir / "data"), "-U", USER, "--auth=trust", "--encoding=UTF8",
                    "--no-locale", "--no-sync"], check=True, capture_output=True, cwd=workdir, timeout=120, **run_as)
    proc, url = _start(bindir, workdir / "data", workdir / "server.log", run_as)
    return url, lambda: _stop(proc)


def _table(results: list[dict]) -> str:
    names = list(results[0]["ms"])
    lines = ["| operation | " + " | ".join(f"{r['backend']} first / median ms" for r in results) + " |",
             "|---|" + "---:|" * len(results)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{r['ms'][name][0]:.2f} / {r['ms'][name][1]:.2f}" for r in results) + " |")
    for r in results:
        lines.append(f"\n{r['backend']}: {r['links']:,} links + {r['suggestions']:,} suggestion rows; bulk fill "
                     f"{r['fill_s']} s, one-time upgrade (aggregates) {r['upgrade_s']} s, purge at 180 days "
                     f"{r['purge_s']} s ({r['purged']})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", type=int, default=10_000_000)
    parser.add_argument("--suggestions", type=int, default=10_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    if min(args.links, args.suggestions) < 1000 or args.repeat < 1:
        parser.error("--links and --suggestions must be at least 1000, --repeat at least 1")
    results = []
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        workdir = Path(tempfile.mkdtemp(prefix=f"kb-dbscale-{backend}-"))
        stop = None
        try:
            url = f"sqlite:///{workdir / 'links.db'}" if backend == "sqlite" else None
            if url is None:
                url, stop = _postgres_url(workdir)
            print(f"{backend}: filling {args.links:,} links + {args.suggestions:,} suggestions …", flush=True)
            results.append(measure(backend, url, args.links, args.suggestions, args.repeat))
            print(_table(results[-1:]), flush=True)
        finally:
            if stop:
                stop()
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n" + _table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
