#!/usr/bin/env python3
"""Slow-client attack on a running server on 127.0.0.1, then ordinary requests timed under it.

    python scripts/slow_clients.py http://127.0.0.1:8000 [--kinds slow_head,idle] [--count 12]
                                   [--probes 5] [--timeout 10] [--big-path /assets/...]

Opens ``--count`` connections of each kind (slow_head: one header byte per second; slow_body: a
60 KB body one byte per second; endless_chunked: one 1-byte chunk per second, never the last one;
big_chunk: a chunk declared at 1 MB whose bytes come one a second; idle: connects and sends nothing;
never_read: 200 pipelined GETs of ``--big-path``, responses never read; no_close: a request with
"Connection: close", then neither reading nor closing, a new one every 3 s), reconnecting any the server closes, and meanwhile times ``--probes`` GET /api/search on new
connections. Prints one line per kind: the probe times in seconds, or why each failed.
Only 127.0.0.1 (or localhost) is accepted.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.slow_clients import KINDS, SlowClients, probe  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("url")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--probes", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--big-path", default="/")
    parser.add_argument("--together", action="store_true", help="all kinds at once instead of one after another")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost") or not 1 <= args.count <= 200:
        parser.error("only http://127.0.0.1 targets and 1..200 connections per kind")
    address = (parts.hostname, parts.port or 80)
    kinds = [k for k in args.kinds.split(",") if k]
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    groups = [kinds] if args.together else [[k] for k in kinds]
    for group in groups:
        with SlowClients(address, {k: args.count for k in group}, big_path=args.big_path) as attack:
            results = probe(args.url.rstrip("/") + "/api/search?q=6007&k=1", args.probes, args.timeout)
        print(f"{'+'.join(group)} x{args.count}: probes {results}; attacker reconnects {attack.reopened}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
