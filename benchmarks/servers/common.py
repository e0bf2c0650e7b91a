"""Shared settings for the Python peer servers of the benchmark suite.

Every server listens on 127.0.0.1 only, at path /socket.io/, with ping interval 25 s,
ping timeout 20 s, max payload 1 MB and no compression (no permessage-deflate, no HTTP
compression), and implements the same "bench app" (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import resource

PING_INTERVAL = 25
PING_TIMEOUT = 20
MAX_PAYLOAD = 1_000_000


def parse_args(description: str, *, token: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    if token:
        parser.add_argument("--token", required=True, help="the server's authentication token")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("benchmark servers listen on the loopback interface only")
    return args


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 65536
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
