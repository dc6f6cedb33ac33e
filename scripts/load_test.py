#!/usr/bin/env python3
"""Bounded HTTP load against the production server (gunicorn via `kb serve`) on 127.0.0.1.

    python scripts/load_test.py [--seconds 30] [--clients 1,4,16] [--backends onnx,torch] [--workers 2]
                                [--client lean|stdlib]

For each query-encoder backend: start `kb serve` on a free port over the current KB index, record
its cold start (spawn → /readyz 200) and per-worker RSS, then run each client count for the given
duration with keep-alive connections, querying /api/search with ticket texts (≤ 512 chars).
Prints requests/s, latency p50/p95/p99 and errors as a Markdown table. Before the servers start it
also times the bare query encode of the same queries in this process with the served encoder
(int8 ONNX, one thread), so the one-client p50 can be compared with it within one run, and prints
the most requests/s one client could see if the service did nothing but that encode (1000 / its
mean) against the torch service's one-client throughput. Everything
is bounded in time; nothing but 127.0.0.1 is contacted.

The client's own work is inside every measured latency, so by default each client thread uses
`LeanConnection`: a real HTTP/1.1 keep-alive client (request line + Host header; reads the status
line and headers, requires Content-Length, reads exactly that many body bytes, counts any status
other than 200 as an error, reconnects after "Connection: close" or a failure). Python's
http.client does the same job through a buffered file object and email.parser, which costs
≈ 0.1 ms more per request on this machine; `--client stdlib` measures with it instead (figures in
docs/performance.md before 2026-11-24 were taken that way). Both encoders are measured with the
same client.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Child processes of ``pid`` (the gunicorn workers), from the PPid lines in /proc.

    (Not /proc/<pid>/task/<pid>/children: it lists only children of that one thread, and came back
    empty in a stress run.)"""
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nPPid:\t{pid}\n" in status.read_text():
                pids.append(int(status.parent.name))
        except OSError:
            continue
    return sorted(pids)


def start_server(backend: str, workers: int, extra_env: dict | None = None) -> tuple[subprocess.Popen, int, float]:
    port = free_port()
    env = dict(os.environ, KB_ENCODER_BACKEND=backend, KB_WORKERS=str(workers), KB_RATE_LIMIT_PER_MINUTE="0",
               PYTHONPATH=str(ROOT), **(extra_env or {}))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kb_cli.main", "serve", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                # every worker must be up: ask until two different worker pids have answered is not
                # observable over HTTP, so wait until all worker processes exist and answered once
                return proc, port, time.perf_counter() - started
        except OSError:
            time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit(f"server with backend {backend} did not become ready")


class LeanConnection:
    """One keep-alive HTTP/1.1 connection for GET requests (see the module docstring)."""

    def __init__(self, host: str, port: int, timeout: float = 30):
        self.address, self.timeout = (host, port), timeout
        self.host_header = f"Host: {host}:{port}\r\n\r\n".encode("ascii")
        self.sock: socket.socket | None = None
        self.pending = b""   # bytes read past the previous response (none expected: no pipelining)

    def get(self, path: str) -> tuple[int, bytes]:
        """Send ``GET path`` and read the whole response: (status, body)."""
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.pending = b""
        self.sock.sendall(b"GET " + path.encode("ascii") + b" HTTP/1.1\r\n" + self.host_header)
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._recv()
        lines = data[:end].decode("latin-1").split("\r\n")
        version, status, _reason = (lines[0] + " ").split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if not version.startswith("HTTP/1.") or "content-length" not in headers:
            raise http.client.HTTPException(f"unexpected response head: {lines[:1]}")
        size = end + 4 + int(headers["content-length"])
        while len(data) < size:
            data += self._recv()
        body, self.pending = data[end + 4:size], data[size:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(status), body

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise http.client.RemoteDisconnected("server closed the connection")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


class StdlibConnection:
    """The same interface over http.client (``--client stdlib``)."""

    def __init__(self, host: str, port: int, timeout: float = 30):
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


CLIENTS = {"lean": LeanConnection, "stdlib": StdlibConnection}


def run_clients(port: int, clients: int, seconds: float, queries: list[str], params: str = "k=10",
                client: str = "lean") -> dict:
    """``clients`` keep-alive connections querying /api/search?<params>&q=… for ``seconds``."""
    connection = CLIENTS[client]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        conn = connection("127.0.0.1", port)
        i = n
        while time.monotonic() < stop:
            q = queries[i % len(queries)]
            i += clients
            path = f"/api/search?{params}&q=" + urllib.parse.quote(q)
            start = time.perf_counter()
            try:
                status, _body = conn.get(path)
                if status != 200:
                    errors[n] += 1
            except (OSError, ValueError, http.client.HTTPException):
                errors[n] += 1
                conn.close()
                continue
            latencies[n].append(time.perf_counter() - start)
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    elapsed = time.perf_counter() - began
    flat = np.asarray([x for per in latencies for x in per]) * 1000
    if not flat.size:
        return {"requests": 0, "rps": 0.0, "errors": sum(errors), "p50": 0.0, "p95": 0.0, "p99": 0.0}
    return {"requests": int(flat.size), "rps": flat.size / elapsed, "errors": sum(errors),
            "p50": float(np.percentile(flat, 50)), "p95": float(np.percentile(flat, 95)),
            "p99": float(np.percentile(flat, 99))}


def bare_encode(queries: list[str]) -> tuple[float, float]:
    """p50 and mean (ms) of encoding each query alone with the served query encoder, after 20 warm-up
    encodes. 1000 / mean is the most requests/s one closed-loop client could see with zero overhead."""
    sys.path.insert(0, str(ROOT))
    from search.encoder import make_encoder
    from search.settings import load_settings

    settings = load_settings(None, {})
    encoder = make_encoder(settings.model, "onnx", Path(settings.data_dir), "query")
    for q in queries[:20]:
        encoder.encode([q])
    times = []
    for q in queries * 2:
        start = time.perf_counter()
        encoder.encode([q])
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50)) * 1000, float(np.mean(times)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--backends", default="onnx,torch")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=sorted(CLIENTS), default="lean", help="HTTP client (see above)")
    args = parser.parse_args()
    queries = [json.loads(line)["text"][:512] for line in open(ROOT / "eval" / "tickets.jsonl", encoding="utf-8")]
    backends = args.backends.split(",")
    encode_p50, encode_mean = bare_encode(queries) if "onnx" in backends else (None, None)
    rows, starts = [], []
    for backend in backends:
        proc, port, cold = start_server(backend, args.workers)
        try:
            time.sleep(1.0)
            for clients in (int(c) for c in args.clients.split(",")):
                result = run_clients(port, clients, args.seconds, queries, client=args.client)
                rows.append((backend, clients, result))
                print(f"{backend} {clients} clients: {result}", file=sys.stderr, flush=True)
            workers = children(proc.pid)
            starts.append((backend, cold, [round(rss_mb(w)) for w in workers]))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
    print(f"# HTTP load ({args.seconds:.0f} s per step, gunicorn {args.workers} workers × 4 threads, 127.0.0.1, "
          f"{args.client} client, `python scripts/load_test.py`)\n")
    print("| query encoder | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for backend, clients, r in rows:
        print(f"| {backend} | {clients} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | "
              f"{r['p99']:.1f} | {r['errors']} |")
    print("\n| query encoder | cold start to /readyz (s) | worker RSS after the run (MB) |\n|---|---:|---|")
    for backend, cold, rss in starts:
        print(f"| {backend} | {cold:.2f} | {', '.join(map(str, rss))} |")
    by = {(b, c): r for b, c, r in rows}
    if encode_p50 is not None:
        print(f"\nbare int8 encode of the same queries in this run: p50 {encode_p50:.2f} ms, mean {encode_mean:.2f} ms "
              f"(one client with zero overhead around the encode: at most {1000 / encode_mean:.0f} req/s)")
    if encode_p50 is not None and ("onnx", 1) in by:
        print(f"onnx p50 at 1 client / bare encode p50: {by[('onnx', 1)]['p50']:.2f} / {encode_p50:.2f} = "
              f"{by[('onnx', 1)]['p50'] / encode_p50:.2f}×")
    for clients in (int(c) for c in args.clients.split(",")):
        if ("onnx", clients) in by and ("torch", clients) in by:
            print(f"\nthroughput onnx / torch at {clients} clients: "
                  f"{by[('onnx', clients)]['rps'] / by[('torch', clients)]['rps']:.2f}×")
    if encode_mean is not None and ("torch", 1) in by:
        print(f"\nupper bound at 1 client (bare encode alone) / torch: "
              f"{1000 / encode_mean / by[('torch', 1)]['rps']:.2f}×")


if __name__ == "__main__":
    main()
