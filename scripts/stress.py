#!/usr/bin/env python3
"""Re-runnable stress run of the production server (gunicorn via `kb serve`) on 127.0.0.1.

    python scripts/stress.py [--phases load,swap,durability] [--seconds 60] [--clients 16]
                             [--kills 50] [--cycles 20] [--workers 2] [--json PATH]

Uses the project's settings (kb.toml / KB_* environment) to find the built site and the published
index, and works on private copies in a temporary directory (the real index and links database
are never touched). Phases:

- load: --clients keep-alive clients query /api/search for --seconds (hybrid), then the same with
  mode=lexical; requests/s, p50/p95/p99, non-2xx, worker RSS before (after a short warm-up) and after.
- swap: --swap-clients clients (each pausing --think s between queries) query while `kb index --force` is started and killed with SIGKILL mid-build
  (--kills times, each after the build's temporary directory appeared); every 10th build is let
  through and the delay until clients see its build id is measured; then one more build, and the
  index root is checked for leftovers.
- durability: --cycles times: start the server, 8 clients POST /api/links, SIGKILL the whole server
  at a random moment, restart; every acknowledged link must still exist, and SQLite's
  `PRAGMA integrity_check` must say ok.

Prints a Markdown report (and JSON with --json). Exits 1 if any goal is missed. Every phase is
bounded in time; nothing but 127.0.0.1 is contacted.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import children, free_port, rss_mb, run_clients  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from search.settings import load_settings  # noqa: E402

TOKEN = "stress-token"


class Server:
    """`kb serve` in its own process group, output to a log file."""

    def __init__(self, settings, work: Path, index_root: Path, db: Path, workers: int, reload_interval: float = 0.5):
        self.port = free_port()
        self.env = dict(os.environ, KB_SITE_DIR=str(Path(settings.site_dir).resolve()), KB_DATA_DIR=str(work),
                        KB_INDEX_ROOT=str(index_root), KB_DATABASE_URL=f"sqlite:///{db}", KB_WORKERS=str(workers),
                        KB_API_TOKEN=TOKEN, KB_RATE_LIMIT_PER_MINUTE="0", KB_RELOAD_INTERVAL=str(reload_interval),
                        KB_MODEL=settings.model, KB_ENCODER_BACKEND=settings.encoder_backend, PYTHONPATH=str(ROOT))
        self.log_path = work / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> float:
        started = time.perf_counter()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "kb_cli.main", "serve", "--port", str(self.port)],
                                         env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if request(self.port, "GET", "/readyz")[0] == 200:
                return time.perf_counter() - started
            time.sleep(0.05)
        self.kill()
        raise SystemExit(f"server did not become ready; log: {self.log_path}\n"
                         + self.log_path.read_text(errors="replace")[-2000:])

    def worker_rss(self) -> list[float]:
        """Each gunicorn worker's RSS (MB); retried briefly if the /proc scan finds no worker (one
        stress run saw an empty scan once, not reproduced)."""
        for _ in range(20):
            pids = children(self.proc.pid)
            if pids:
                return [rss_mb(pid) for pid in pids]
            time.sleep(0.1)
        raise RuntimeError(f"no gunicorn worker found under pid {self.proc.pid}; see {self.log_path}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60)


def request(port: int, method: str, path: str, body: dict | None = None, conn=None) -> tuple[int, dict]:
    """One HTTP request; (0, {"error": …}) when the connection fails."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"} if body is not None else {}
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else {})
    except (OSError, http.client.HTTPException, ValueError) as exc:
        conn.close()
        return 0, {"error": repr(exc)}
    finally:
        if own:
            conn.close()


def copy_index(settings, work: Path) -> Path:
    """A private index root holding a copy of the currently published build."""
    source = settings.index_path
    current = (source / "current").read_text().strip()
    root = work / "index"
    (root / "builds").mkdir(parents=True)
    shutil.copytree(source / "builds" / current, root / "builds" / current)
    (root / "current").write_text(current + "\n")
    return root


# ---------------------------------------------------------------- load
def phase_load(settings, work: Path, args, queries: list[str]) -> dict:
    index_root = copy_index(settings, work / "load")
    server = Server(settings, work / "load", index_root, work / "load" / "links.db", args.workers)
    cold = server.start()
    try:
        run_clients(server.port, args.clients, min(args.seconds, 10.0), queries)  # warm-up: first-touch allocations, bounded caches
        rss_before = server.worker_rss()
        hybrid = run_clients(server.port, args.clients, args.seconds, queries)
        rss_mid = server.worker_rss()
        lexical = run_clients(server.port, args.clients, args.seconds, queries, params="k=10&mode=lexical")
        rss_after = server.worker_rss()
        quiet = min(args.seconds, 15.0)   # the same two modes at one client: latency without queueing
        one_hybrid = run_clients(server.port, 1, quiet, queries)
        one_lexical = run_clients(server.port, 1, quiet, queries, params="k=10&mode=lexical")
    finally:
        server.kill(signal.SIGTERM)
    growth = (sum(rss_after) - sum(rss_before)) / sum(rss_before)
    return {"cold_start_s": cold, "hybrid": hybrid, "lexical": lexical, "rss_before_mb": rss_before,
            "rss_after_hybrid_mb": rss_mid, "rss_after_mb": rss_after, "rss_growth": growth,
            "p50_ratio_hybrid_lexical": hybrid["p50"] / lexical["p50"],
            "one_client": {"hybrid": one_hybrid, "lexical": one_lexical,
                           "p50_ratio_hybrid_lexical": one_hybrid["p50"] / one_lexical["p50"]},
            "ok": hybrid["errors"] == 0 and lexical["errors"] == 0 and growth < 0.10
                  and one_hybrid["errors"] == 0 and one_lexical["errors"] == 0
                  and hybrid["p50"] / lexical["p50"] <= 2.0}


# ---------------------------------------------------------------- swap
class Watchers:
    """Clients querying continuously; they record failures and when each build id was first seen."""

    def __init__(self, port: int, clients: int, queries: list[str], think: float):
        self.port, self.queries, self.think = port, queries, think
        self.failures: list[str] = []
        self.first_seen: dict[str, float] = {}
        self.requests = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]

    def _run(self, n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        i = n
        while not self._stop.is_set():
            q = self.queries[i % len(self.queries)][:200]
            i += len(self._threads)
            status, body = request(self.port, "GET", "/api/search?k=5&q=" + urllib.parse.quote(q), conn=conn)
            now = time.time()
            with self._lock:
                self.requests += 1
                if status != 200:
                    self.failures.append(f"{status}: {body.get('error')}")
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                else:
                    self.first_seen.setdefault(body["build_id"], now)
            self._stop.wait(self.think)

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)


def start_builder(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kb_cli.main", "index", "--force", "--quiet"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_visible(index_root: Path, watchers: Watchers) -> float:
    """Seconds from publication (mtime of ``current``) until a client first got the new build id."""
    pointer = index_root / "current"
    new_id, published = pointer.read_text().strip(), pointer.stat().st_mtime
    while new_id not in watchers.first_seen and time.time() < published + 30:
        time.sleep(0.01)
    return watchers.first_seen.get(new_id, float("inf")) - published


def phase_swap(settings, work: Path, args, queries: list[str]) -> dict:
    base = work / "swap"
    index_root = copy_index(settings, base)
    server = Server(settings, base, index_root, base / "links.db", args.workers)
    server.start()
    kills, completed, visibility, windows = 0, 0, [], []
    log_path = base / "builder.log"
    try:
        with open(log_path, "ab") as log, Watchers(server.port, args.swap_clients, queries, args.think) as watchers:
            deadline = time.monotonic() + args.swap_timeout
            attempt = 0
            while kills < args.kills and time.monotonic() < deadline:
                let_finish = attempt % 10 == 0  # the first build calibrates how long a build takes
                attempt += 1
                before = {p.name for p in (index_root / "builds").iterdir()}
                builder = start_builder(dict(server.env), log)
                started = time.monotonic()
                while builder.poll() is None and not any(index_root.glob(".tmp-*")) and time.monotonic() < started + 120:
                    time.sleep(0.005)
                tmp_seen = time.monotonic()
                if let_finish:
                    if builder.wait(timeout=300) != 0:
                        raise SystemExit(f"a complete build failed; see {log_path}")
                    windows.append(time.monotonic() - tmp_seen)
                    visibility.append(wait_visible(index_root, watchers))
                    completed += 1
                    continue
                time.sleep(random.uniform(0.0, 0.9 * min(windows)))  # a random moment of the build
                if builder.poll() is None:
                    builder.send_signal(signal.SIGKILL)
                    builder.wait(timeout=60)
                    kills += 1
                if {p.name for p in (index_root / "builds").iterdir()} - before:
                    completed += 1  # it published before it died or exited
            # the next build after the last kill: cleans leftovers, publishes, becomes visible
            if start_builder(dict(server.env), log).wait(timeout=300) != 0:
                raise SystemExit(f"the final build failed; see {log_path}")
            visibility.append(wait_visible(index_root, watchers))
            completed += 1
        leftovers = sorted(p.name for p in index_root.iterdir() if p.name.startswith((".tmp-", ".current-")))
        builds = len(list((index_root / "builds").iterdir()))
        server_exit = server.proc.poll()
    finally:
        server.kill(signal.SIGTERM)
    return {"kills": kills, "attempts": attempt, "completed_builds": completed, "queries": watchers.requests,
            "build_window_s": [round(w, 2) for w in windows],
            "failed_queries": len(watchers.failures), "failure_samples": watchers.failures[:5],
            "server_exit_code": server_exit,
            "server_log_tail": server.log_path.read_text(errors="replace")[-3000:] if watchers.failures else "",
            "visible_after_s_max": max(visibility), "visible_after_s": [round(v, 3) for v in visibility],
            "leftovers": leftovers, "builds_kept": builds, "keep_builds": settings.keep_builds,
            "ok": kills >= args.kills and not watchers.failures and max(visibility) <= 5.0 and not leftovers
                  and builds <= settings.keep_builds}


# ---------------------------------------------------------------- durability
def phase_durability(settings, work: Path, args) -> dict:
    base = work / "durability"
    index_root = copy_index(settings, base)
    db = base / "links.db"
    article_ids = [a["id"] for a in json.loads(
        (index_root / "builds" / (index_root / "current").read_text().strip() / "articles.json").read_text())]
    acked: dict[tuple[str, str], int] = {}
    lock = threading.Lock()
    starts = []
    for cycle in range(args.cycles):
        server = Server(settings, base, index_root, db, args.workers)
        starts.append(server.start())
        stop = threading.Event()

        def writer(n: int, cycle=cycle, server=server, stop=stop) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            i = 0
            while not stop.is_set():
                ticket = f"STRESS-{cycle}-{n}-{i}"
                article = article_ids[(n + i) % len(article_ids)]
                status, body = request(server.port, "POST", "/api/links", conn=conn,
                                       body={"ticket_id": ticket, "article_id": article, "source": "manual"})
                if status in (200, 201):
                    with lock:
                        acked[(ticket, article)] = body["id"]
                elif status == 0:
                    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                i += 1

        threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(8)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.3, 1.5))
        server.kill(signal.SIGKILL)  # the whole process group: master and workers, mid-write
        stop.set()
        for t in threads:
            t.join(timeout=60)
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        stored = {(t, a): i for i, t, a in conn.execute("SELECT id, ticket_id, article_id FROM links")}
    lost = [key for key, link_id in acked.items() if stored.get(key) != link_id]
    return {"cycles": args.cycles, "acknowledged_links": len(acked), "stored_links": len(stored), "lost": len(lost),
            "lost_samples": lost[:5], "integrity_check": integrity, "restart_s_max": max(starts),
            "ok": not lost and integrity == "ok" and len(acked) > 0}


# ---------------------------------------------------------------- report
def report(results: dict, args) -> str:
    lines = [f"# Stress run (`python scripts/stress.py --phases {args.phases} --seconds {args.seconds:g} "
             f"--clients {args.clients} --kills {args.kills} --cycles {args.cycles} --workers {args.workers}`)\n"]
    if "load" in results:
        r = results["load"]
        lines += ["## Load", "| mode | clients | requests | req/s | p50 ms | p95 ms | p99 ms | non-2xx |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for clients, runs in ((args.clients, r), (1, r["one_client"])):
            for mode in ("hybrid", "lexical"):
                m = runs[mode]
                lines.append(f"| {mode} | {clients} | {m['requests']} | {m['rps']:.1f} | {m['p50']:.1f} | "
                             f"{m['p95']:.1f} | {m['p99']:.1f} | {m['errors']} |")
        lines += ["", f"p50 hybrid / lexical at {args.clients} clients: {r['p50_ratio_hybrid_lexical']:.2f} (goal ≤ 2); "
                      f"at 1 client: {r['one_client']['p50_ratio_hybrid_lexical']:.2f}",
                  f"worker RSS MB before {fmt(r['rss_before_mb'])}, after hybrid {fmt(r['rss_after_hybrid_mb'])}, "
                  f"after both {fmt(r['rss_after_mb'])}: growth {r['rss_growth'] * 100:+.1f}% (goal < 10%)", ""]
    if "swap" in results:
        r = results["swap"]
        lines += ["## Index builder killed under load",
                  f"{r['kills']} builds killed with SIGKILL mid-build, {r['completed_builds']} completed; "
                  f"{r['queries']} queries from {args.swap_clients} clients, {r['failed_queries']} failed; build window "
                  f"{min(r['build_window_s']):.1f}–{max(r['build_window_s']):.1f} s; completed builds visible to clients after "
                  f"≤ {r['visible_after_s_max']:.2f} s (each: {r['visible_after_s']}); leftovers after the next build: "
                  f"{r['leftovers'] or 'none'}; builds kept {r['builds_kept']} (keep_builds {r['keep_builds']})", ""]
    if "durability" in results:
        r = results["durability"]
        lines += ["## Links: server killed with SIGKILL during writes",
                  f"{r['cycles']} cycles, {r['acknowledged_links']} links acknowledged, {r['stored_links']} stored, "
                  f"{r['lost']} acknowledged links lost; PRAGMA integrity_check: {r['integrity_check']}; "
                  f"restart to ready ≤ {r['restart_s_max']:.2f} s", ""]
    lines.append("all goals met" if all(r["ok"] for r in results.values()) else
                 "GOALS MISSED: " + ", ".join(k for k, r in results.items() if not r["ok"]))
    return "\n".join(lines)


def fmt(values: list[float]) -> str:
    return "/".join(f"{v:.0f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default="load,swap,durability")
    parser.add_argument("--seconds", type=float, default=60, help="duration of each load step")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--swap-timeout", type=float, default=900, help="bound on the swap phase (s)")
    parser.add_argument("--swap-clients", type=int, default=4, help="clients querying during the swap phase")
    parser.add_argument("--think", type=float, default=0.02,
                        help="pause of each swap-phase client between queries (s), so builds get CPU too")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (server and builder logs)")
    args = parser.parse_args()
    settings = load_settings()
    if not (settings.index_path / "current").exists():
        print(f"no published index in {settings.index_path}: run 'kb build' and 'kb index' first", file=sys.stderr)
        return 2
    queries = [json.loads(line)["text"][:512] for line in open(ROOT / "eval" / "tickets.jsonl", encoding="utf-8")]
    results = {}
    work = Path(tempfile.mkdtemp(prefix="kb-stress-"))
    try:
        for phase in args.phases.split(","):
            (work / phase).mkdir()
            print(f"stress: {phase} …", file=sys.stderr, flush=True)
            if phase == "load":
                results[phase] = phase_load(settings, work, args, queries)
            elif phase == "swap":
                results[phase] = phase_swap(settings, work, args, queries)
            elif phase == "durability":
                results[phase] = phase_durability(settings, work, args)
            else:
                print(f"--phases: unknown phase {phase!r} (load, swap, durability)", file=sys.stderr)
                return 2
    finally:
        if args.keep:
            print(f"stress: work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(report(results, args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
