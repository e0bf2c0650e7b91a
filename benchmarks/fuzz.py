#!/usr/bin/env python3
"""A long fuzz run of the sans-IO core: the targets of ``tests/protocol/fuzzing.py``, round
after round with fresh seeds, until the time is up.

    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.fuzz --minutes 10
    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.fuzz --minutes 1 --targets sio_text,link_decoder

Each round runs every target for ``--batch`` inputs with seed ``--seed + round``; a failure
is printed with its target, seed and input number (``fuzzing.run(TARGETS[name], n, seed)``
reproduces it), saved to ``--out`` as JSON, and the run goes on. Exit status 1 if anything
failed. Pure CPU, no sockets; one process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tests.protocol.fuzzing import TARGETS, FuzzFailure, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2000, help="inputs per target per round")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated names")
    parser.add_argument("--out", type=Path, default=None, help="write failures here (JSON)")
    args = parser.parse_args(argv)
    names = [n for n in args.targets.split(",") if n]
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {sorted(TARGETS)}")

    counts = dict.fromkeys(names, 0)
    failures: list[dict[str, object]] = []
    deadline = time.monotonic() + args.minutes * 60
    started = time.monotonic()
    round_ = 0
    while time.monotonic() < deadline:
        seed = args.seed + round_
        for name in names:
            try:
                counts[name] += run(TARGETS[name], args.batch, seed)
            except FuzzFailure as exc:
                failures.append({"target": name, "seed": seed, "failure": str(exc)})
                print(f"FAIL {exc}", flush=True)
        round_ += 1
    elapsed = time.monotonic() - started

    print(f"\n{round_} rounds in {elapsed:.0f} s (seeds {args.seed}..{args.seed + round_ - 1})")
    for name, count in counts.items():
        print(f"  {name:22s} {count:>10,} inputs")
    print(f"  {'total':22s} {sum(counts.values()):>10,} inputs, {len(failures)} failures")
    if args.out is not None:
        args.out.write_text(json.dumps({"counts": counts, "failures": failures}, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
