#!/usr/bin/env python3
"""Run the jupyter_sio benchmark suite against several Socket.IO servers and compare them.

    python benchmarks/run.py [--quick] [--only jupyter_sio,python-socketio-tornado,...]
                             [--scenario fanout100,fanout1000,echo,poll,idle] [--no-pin]

Each server is started as a subprocess on a free 127.0.0.1 port, the Node load generator
(benchmarks/load/bench.mjs) runs each scenario against it, the server is stopped, and at the
end a Markdown table with the absolute figures and the ratios of jupyter_sio to each peer is
printed; the raw results go to benchmarks/results/<timestamp>.json (git-ignored).

Nothing is installed except `npm ci` in benchmarks/ when benchmarks/node_modules is missing.
See benchmarks/README.md for what the scenarios measure and how bottlenecks are checked.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
GENERATOR = BENCH / "load" / "bench.mjs"

# --------------------------------------------------------------------------------------
# Servers


@dataclass
class ServerSpec:
    key: str
    label: str
    command: Callable[[int], list[str]]
    websocket_only: bool = False
    notes: str = ""
    #: a jupyter_sio variant: runs the snapshot given by --jsio-ref / --baseline
    subject: bool = False
    #: extra generator arguments (where Engine.IO is served, the token to present)
    gen_args: list[str] = field(default_factory=list)


def _py(*args: str) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, *args, "--host", "127.0.0.1", "--port", str(port)]


#: the token the Jupyter-mounted server is started with (random per run)
JUPYTER_TOKEN = secrets.token_hex(16)

SERVERS: list[ServerSpec] = [
    ServerSpec(
        "jupyter_sio",
        "jupyter_sio",
        _py("-m", "jupyter_sio", "serve", "benchmarks.apps.jsio_app:hub"),
        notes="python -m jupyter_sio serve benchmarks.apps.jsio_app:hub (asyncio loop)",
        subject=True,
    ),
    ServerSpec(
        "jupyter_sio-uvloop",
        "jupyter_sio (uvloop)",
        lambda port: _py("-m", "jupyter_sio", "serve", "benchmarks.apps.jsio_app:hub")(port)
        + ["--loop", "uvloop"],
        notes="the same with --loop uvloop",
        subject=True,
    ),
    ServerSpec(
        "jupyter_sio-jupyter",
        "jupyter_sio in Jupyter",
        lambda port: _py(str(BENCH / "servers" / "jupyter_mounted.py"))(port)
        + ["--token", JUPYTER_TOKEN],
        notes="jupyter server + the jupyter_sio extension, bench app via "
        "benchmarks/apps/jupyter_bench_ext.py; every request passes Jupyter's token auth",
        subject=True,
        gen_args=["--path", "/jupyter-sio/socket.io/", "--token", JUPYTER_TOKEN],
    ),
    ServerSpec(
        "python-socketio-tornado",
        "python-socketio (tornado)",
        _py(str(BENCH / "servers" / "psio_tornado.py")),
        notes="AsyncServer(async_mode='tornado') + get_tornado_handler, Tornado defaults",
    ),
    ServerSpec(
        "python-socketio-asgi",
        "python-socketio (asgi/uvicorn)",
        lambda port: _py(str(BENCH / "servers" / "psio_asgi.py"))(port)
        + ["--loop", "asyncio", "--http", "h11", "--ws", "wsproto"],
        notes="AsyncServer(async_mode='asgi') under uvicorn, 1 worker, --loop asyncio "
        "--http h11 --ws wsproto",
    ),
    ServerSpec(
        "python-socketio-uvicorn",
        "python-socketio (uvicorn[standard])",
        lambda port: _py(str(BENCH / "servers" / "psio_asgi.py"))(port)
        + ["--loop", "uvloop", "--http", "httptools", "--ws", "websockets"],
        notes="the same under uvicorn with uvloop, httptools and websockets (what "
        "`pip install uvicorn[standard]` brings)",
    ),
    ServerSpec(
        "raw-tornado-floor",
        "raw tornado floor",
        _py(str(BENCH / "servers" / "raw_tornado.py")),
        websocket_only=True,
        notes="plain tornado.websocket.WebSocketHandler, minimal EIO4/SIO5 text framing",
    ),
    ServerSpec(
        "node-socketio",
        "node socket.io 4.8",
        lambda port: ["node", str(BENCH / "servers" / "node_socketio.mjs"), "--host", "127.0.0.1",
                      "--port", str(port)],
        notes="official socket.io server (reference)",
    ),
]
SERVER_KEYS = [s.key for s in SERVERS]
SUBJECT = "jupyter_sio"

# --------------------------------------------------------------------------------------
# Scenarios


@dataclass
class Scenario:
    key: str
    kind: str  # the generator sub-command
    clients: int
    title: str
    extra: dict[str, Any] = field(default_factory=dict)


def scenarios(quick: bool) -> list[Scenario]:
    idle_n = 1000 if quick else 5000
    return [
        # idle runs first, on the fresh server process, so its RSS baseline is clean
        Scenario("idle", "idle", idle_n, f"D. idle memory, {idle_n} WebSocket connections",
                 {"settle": 1.5 if quick else 3}),
        Scenario("fanout100", "fanout", 100, "A. fan-out to a room of 100 (WebSocket)",
                 {"window": 30, "rate": 50}),
        Scenario("fanout1000", "fanout", 1000, "A. fan-out to a room of 1000 (WebSocket)",
                 {"window": 3, "rate": 5}),
        Scenario("echo", "echo", 50, "B. echo with ack, 50 WebSocket clients, closed loop"),
        Scenario("poll", "poll", 20, "C. echo with ack, 20 long-polling clients, closed loop"),
    ]


SCENARIO_KEYS = [s.key for s in scenarios(False)]

# --------------------------------------------------------------------------------------
# Process helpers


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def pin(core: int | None) -> list[str]:
    if core is None:
        return []
    return ["taskset", "-c", str(core)]


def snapshot_jupyter_sio(ref: str, dest: Path) -> Path:
    """Extract jupyter_sio/ as of git `ref` into dest (to benchmark a commit, not the
    working tree that may be mid-edit); returns the directory to put first on PYTHONPATH."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", ref, "jupyter_sio"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


class Server:
    def __init__(self, spec: ServerSpec, core: int | None, log_path: Path,
                 pythonpath_first: Path | None = None):
        self.spec = spec
        self.port = free_port()
        self.log_path = log_path
        env = dict(os.environ)
        paths = ([str(pythonpath_first)] if pythonpath_first else []) + [str(ROOT)]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("NODE_ENV", "production")
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            pin(core) + spec.command(self.port),
            # `python -m` puts the cwd first on sys.path, ahead of PYTHONPATH: a snapshot's
            # server must start in the snapshot, or it imports the working tree's jupyter_sio
            cwd=pythonpath_first or ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # `taskset -c N cmd` execs cmd, so the PID is the server's own PID.
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = 20.0) -> str | None:
        """None once the port accepts connections, else why not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with code {self.proc.returncode}: {self.log_tail()}"
            if port_open(self.port):
                return None
            time.sleep(0.1)
        return f"did not listen on 127.0.0.1:{self.port} within {timeout:.0f} s: {self.log_tail()}"

    def log_tail(self, lines: int = 3) -> str:
        self.log.flush()
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def rss_kib(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()


def run_generator(sc: Scenario, server: Server, args: argparse.Namespace, core: int | None,
                  clk_tck: int) -> dict[str, Any]:
    warmup, duration = (0.7, 2.0) if args.quick else (2.0, 6.0)
    cmd = pin(core) + [
        "node", str(GENERATOR), sc.kind,
        "--port", str(server.port),
        "--clients", str(sc.clients),
        "--warmup", str(warmup),
        "--duration", str(duration),
        "--server-pid", str(server.pid),
        "--clk-tck", str(clk_tck),
        "--max-seconds", "150",
        *server.spec.gen_args,
    ]
    extra = dict(sc.extra)
    if sc.kind == "fanout":
        extra["rate-duration"] = 1.5 if args.quick else 4
    for k, v in extra.items():
        cmd += [f"--{k}", str(v)]
    try:
        out = subprocess.run(cmd, cwd=BENCH, capture_output=True, text=True, timeout=170)
    except subprocess.TimeoutExpired:
        return {"error": "generator timed out"}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": f"no result (exit {out.returncode}): {(out.stderr or out.stdout)[-400:]}"}


def noise_of(result: dict[str, Any]) -> float:
    """CPU% used by unrelated processes during the measurement window(s)."""
    if "error" in result:
        return 0.0
    parts = [result.get("saturated"), result.get("fixed_rate"), result]
    return max((p.get("other_cpu_pct") or 0.0) for p in parts if isinstance(p, dict))


# --------------------------------------------------------------------------------------
# Table

# (scenario, label, extractor, higher_is_better, format)
Metric = tuple[str, str, Callable[[dict[str, Any]], float | None], bool, str]


def _g(*path: str) -> Callable[[dict[str, Any]], float | None]:
    def get(d: dict[str, Any]) -> float | None:
        for p in path:
            if not isinstance(d, dict) or p not in d:
                return None
            d = d[p]
        return d if isinstance(d, (int, float)) else None

    return get


METRICS: list[Metric] = []
for _key, _n in (("fanout100", 100), ("fanout1000", 1000)):
    METRICS += [
        (_key, f"A{_n} deliveries/s (saturated)", _g("saturated", "deliveries_per_s"), True, "{:,.0f}"),
        (_key, f"A{_n} latency p50 ms (saturated)", _g("saturated", "p50_ms"), False, "{:.1f}"),
        (_key, f"A{_n} latency p99 ms (saturated)", _g("saturated", "p99_ms"), False, "{:.1f}"),
        (_key, f"A{_n} latency p50 ms @5k deliveries/s", _g("fixed_rate", "p50_ms"), False, "{:.2f}"),
        (_key, f"A{_n} latency p99 ms @5k deliveries/s", _g("fixed_rate", "p99_ms"), False, "{:.2f}"),
        (_key, f"A{_n} server CPU µs per delivery (saturated)",
         _g("saturated", "server_cpu_us_per_delivery"), False, "{:.2f}"),
    ]
METRICS += [
    ("echo", "B acks/s (50 ws clients)", _g("acks_per_s"), True, "{:,.0f}"),
    ("echo", "B round trip p50 ms", _g("p50_ms"), False, "{:.2f}"),
    ("echo", "B round trip p99 ms", _g("p99_ms"), False, "{:.2f}"),
    ("echo", "B server CPU µs per ack", _g("server_cpu_us_per_ack"), False, "{:.1f}"),
    ("poll", "C acks/s (20 polling clients)", _g("acks_per_s"), True, "{:,.0f}"),
    ("poll", "C round trip p50 ms", _g("p50_ms"), False, "{:.2f}"),
    ("poll", "C round trip p99 ms", _g("p99_ms"), False, "{:.2f}"),
    ("poll", "C server CPU µs per ack", _g("server_cpu_us_per_ack"), False, "{:.1f}"),
    ("idle", "D server RSS KiB per idle connection", lambda d: (d["bytes_per_connection"] / 1024)
     if "bytes_per_connection" in d else None, False, "{:.1f}"),
    ("idle", "D connects/s (handshake + SIO connect)", _g("connects_per_s"), True, "{:,.0f}"),
]

CPU_ROWS: list[tuple[str, str, Callable[[dict[str, Any]], dict[str, Any] | None]]] = [
    ("fanout100", "A100 saturated", lambda d: d.get("saturated")),
    ("fanout1000", "A1000 saturated", lambda d: d.get("saturated")),
    ("echo", "B echo ws", lambda d: d),
    ("poll", "C echo polling", lambda d: d),
]


def cell(results: dict[str, dict[str, Any]], server: str, sc: str) -> dict[str, Any] | str:
    r = results.get(server, {})
    if "unavailable" in r:
        return "not available"
    s = r.get("scenarios", {}).get(sc)
    if s is None:
        return "n/a" if sc in r.get("not_applicable", []) else "–"
    if "error" in s:
        return "error"
    return s


GENERATOR_BOUND_PCT = 85.0


def generator_bound(r: dict[str, Any]) -> bool:
    """The generator used >= 85% of its core: the throughput figure is a lower bound."""
    part = r.get("saturated", r)
    return (part.get("generator_cpu_pct") or 0.0) >= GENERATOR_BOUND_PCT


def render(results: dict[str, dict[str, Any]], servers: list[ServerSpec], scs: list[str]) -> str:
    labels = {s.key: s.label for s in servers}
    keys = [s.key for s in servers]
    peers = [k for k in keys if k != SUBJECT]
    with_ratios = SUBJECT in keys and peers
    head = ["metric"] + [labels[k] for k in keys]
    if with_ratios:
        head += [f"{SUBJECT} / {labels[p]}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for sc, label, get, higher, fmt in METRICS:
        if sc not in scs:
            continue
        vals: dict[str, float | None] = {}
        row = [label + (" ↑" if higher else " ↓")]
        for k in keys:
            c = cell(results, k, sc)
            if isinstance(c, str):
                row.append(c)
                vals[k] = None
            else:
                v = get(c)
                vals[k] = v
                text = fmt.format(v) if v is not None else "–"
                if higher and v is not None and generator_bound(c):
                    text += " *"
                row.append(text)
        if with_ratios:
            for p in peers:
                a, b = vals.get(SUBJECT), vals.get(p)
                row.append(f"{a / b:.2f}" if a is not None and b not in (None, 0) else "–")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def render_cpu(results: dict[str, dict[str, Any]], servers: list[ServerSpec], scs: list[str]) -> str:
    head = ["scenario"] + [s.label for s in servers]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for sc, label, get in CPU_ROWS:
        if sc not in scs:
            continue
        row = [label]
        for s in servers:
            c = cell(results, s.key, sc)
            d = None if isinstance(c, str) else get(c)
            if not d or d.get("server_cpu_pct") is None:
                row.append(c if isinstance(c, str) else "–")
            else:
                row.append(f"{d['server_cpu_pct']:.0f} / {d['generator_cpu_pct']:.0f} / "
                           f"{d.get('other_cpu_pct', 0):.0f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------


def environment(pinned: bool, fd_limit: int, clk_tck: int) -> dict[str, Any]:
    def ver(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    def node_pkg(name: str) -> str | None:
        try:
            return json.loads((BENCH / "node_modules" / name / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            return None

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "python": platform.python_version(),
        "node": node,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "pinned": "server on core 0, generator on core 1 (taskset)" if pinned else "no pinning",
        "fd_limit": fd_limit,
        "clk_tck": clk_tck,
        "loadavg_at_start": os.getloadavg(),
        "packages": {n: ver(n) for n in ("tornado", "python-socketio", "python-engineio", "uvicorn",
                                           "wsproto", "h11", "uvloop", "httptools", "websockets")},
        "node_packages": {n: node_pkg(n) for n in ("socket.io", "socket.io-client", "ws")},
    }


def ensure_node_modules() -> None:
    if (BENCH / "node_modules").is_dir():
        return
    print("benchmarks/node_modules is missing: running `npm ci` in benchmarks/", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs, 1000 idle connections (< 2 min)")
    ap.add_argument("--only", default=",".join(SERVER_KEYS),
                    help="comma-separated servers: " + ",".join(SERVER_KEYS))
    ap.add_argument("--scenario", default=",".join(SCENARIO_KEYS),
                    help="comma-separated scenarios: " + ",".join(SCENARIO_KEYS))
    ap.add_argument("--no-pin", action="store_true", help="do not pin server/generator with taskset")
    ap.add_argument("--retries", type=int, default=None,
                    help="re-runs of a scenario when other processes used >30%% CPU during it "
                         "(default 1, 0 with --quick)")
    ap.add_argument("--jsio-ref", default=None, metavar="GIT_REF",
                    help="benchmark jupyter_sio as committed at GIT_REF (e.g. HEAD) instead of "
                         "the working tree")
    ap.add_argument("--baseline", default=None, metavar="GIT_REF",
                    help="also run jupyter_sio as committed at GIT_REF (key jupyter_sio@GIT_REF), "
                         "to compare before/after in one run")
    ap.add_argument("--out", type=Path, default=None, help="JSON output path")
    args = ap.parse_args()

    only = [k.strip() for k in args.only.split(",") if k.strip()]
    bad = [k for k in only if k not in SERVER_KEYS]
    scs_keys = [k.strip() for k in args.scenario.split(",") if k.strip()]
    bad += [k for k in scs_keys if k not in SCENARIO_KEYS]
    if bad:
        ap.error(f"unknown server/scenario: {', '.join(bad)}")
    servers = [s for s in SERVERS if s.key in only]
    if args.baseline:
        base = next(s for s in SERVERS if s.key == SUBJECT)
        servers.insert(1, ServerSpec(f"{SUBJECT}@{args.baseline}", f"{SUBJECT} @ {args.baseline}",
                                     base.command, notes=f"{base.notes}, as committed at "
                                     f"{args.baseline}"))
    scs = [s for s in scenarios(args.quick) if s.key in scs_keys]
    retries = args.retries if args.retries is not None else (0 if args.quick else 1)

    for tool in ("node", "npm"):
        if not shutil.which(tool):
            print(f"error: `{tool}` is required", file=sys.stderr)
            return 2
    ensure_node_modules()
    fd_limit = raise_fd_limit()
    need = max((s.clients for s in scs), default=0) + 200
    if fd_limit < need:
        print(f"warning: fd limit {fd_limit} < {need}; large scenarios may fail", file=sys.stderr)
    pinned = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    server_core, gen_core = (0, 1) if pinned else (None, None)
    clk_tck = os.sysconf("SC_CLK_TCK")

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    logdir = RESULTS / f"logs-{stamp}"
    logdir.mkdir(exist_ok=True)
    out_path = args.out or RESULTS / f"{stamp}{'-quick' if args.quick else ''}.json"

    env = environment(pinned, fd_limit, clk_tck)
    jsio_path: Path | None = None
    if args.jsio_ref:
        rev = subprocess.run(["git", "rev-parse", args.jsio_ref], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        jsio_path = snapshot_jupyter_sio(rev, logdir / "jsio-snapshot")
        env["jupyter_sio_source"] = f"git {args.jsio_ref} = {rev}"
    else:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "jupyter_sio"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        env["jupyter_sio_source"] = f"working tree (HEAD {head or '?'}{', modified' if dirty else ''})"
    baseline_path: Path | None = None
    if args.baseline:
        rev = subprocess.run(["git", "rev-parse", args.baseline], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        baseline_path = snapshot_jupyter_sio(rev, logdir / "jsio-baseline")
        env["jupyter_sio_baseline"] = f"git {args.baseline} = {rev}"
    results: dict[str, dict[str, Any]] = {}
    t_start = time.monotonic()
    print(f"jupyter_sio benchmarks ({'quick' if args.quick else 'full'}): "
          f"{len(servers)} servers x {len(scs)} scenarios; {env['pinned']}; "
          f"jupyter_sio from {env['jupyter_sio_source']}", flush=True)
    for spec in servers:
        r: dict[str, Any] = {"label": spec.label, "notes": spec.notes, "scenarios": {},
                             "not_applicable": []}
        results[spec.key] = r
        snapshot = jsio_path if spec.subject else baseline_path if "@" in spec.key else None
        server = Server(spec, server_core, logdir / f"{spec.key.replace('@', '-at-')}.log",
                        snapshot)
        try:
            why = server.wait_ready()
            if why is not None:
                r["unavailable"] = why
                print(f"[{spec.key}] not available: {why}", flush=True)
                continue
            r["rss_at_start_kib"] = server.rss_kib()
            for sc in scs:
                if sc.kind == "poll" and spec.websocket_only:
                    r["not_applicable"].append(sc.key)
                    continue
                if server.proc.poll() is not None:
                    r["scenarios"][sc.key] = {"error": f"server died: {server.log_tail()}"}
                    continue
                attempts = []
                for _ in range(1 + (retries if sc.kind != "idle" else 0)):
                    res = run_generator(sc, server, args, gen_core, clk_tck)
                    attempts.append(res)
                    if "error" in res or noise_of(res) <= 30:
                        break
                best = min(attempts, key=lambda a: ("error" in a, noise_of(a)))
                if len(attempts) > 1:
                    best["noise_retries"] = [round(noise_of(a), 1) for a in attempts]
                r["scenarios"][sc.key] = best
                summary = best.get("error") or _one_line(sc.key, best)
                print(f"[{spec.key}] {sc.key}: {summary}", flush=True)
            r["rss_at_end_kib"] = server.rss_kib()
        finally:
            server.stop()

    elapsed = time.monotonic() - t_start
    doc = {"timestamp": stamp, "quick": args.quick, "elapsed_s": elapsed, "environment": env,
           "scenarios": {s.key: {"title": s.title, "clients": s.clients, **s.extra} for s in scs},
           "results": results}
    out_path.write_text(json.dumps(doc, indent=2))

    scs_run = [s.key for s in scs]
    print()
    print(f"## Results ({'quick' if args.quick else 'full'} run, {elapsed:.0f} s)")
    print()
    print(render(results, servers, scs_run))
    print()
    print("↑ higher is better, ↓ lower is better; a ratio is jupyter_sio's figure divided by the "
          "peer's. A = 1 publisher → room, ~100-byte JSON; saturated = closed loop with a window of "
          "in-flight publishes (latency there is mostly queueing); @5k = fixed offered load of "
          "5,000 deliveries/s. * = the load generator used >= 85% of its core during that run, "
          "so the throughput is a lower bound (compare server CPU µs per delivery/ack instead).")
    print()
    print("CPU % during the measurement window (100 = one core): server / generator / other "
          "processes on the machine")
    print()
    print(render_cpu(results, servers, scs_run))
    for spec in servers:
        if "unavailable" in results[spec.key]:
            print(f"\n{spec.label}: not available — {results[spec.key]['unavailable']}")
    print(f"\nJSON: {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path}")
    return 0


def _one_line(key: str, r: dict[str, Any]) -> str:
    try:
        return _one_line_unsafe(r)
    except (KeyError, TypeError, ValueError):
        return json.dumps(r)[:300]


def _one_line_unsafe(r: dict[str, Any]) -> str:
    if "saturated" in r:
        s, f = r["saturated"], r.get("fixed_rate", {})
        return (f"{s['deliveries_per_s']:,.0f} deliveries/s, p50 {s['p50_ms']:.1f} ms "
                f"(fixed rate p50 {f.get('p50_ms') or float('nan'):.2f} / p99 "
                f"{f.get('p99_ms') or float('nan'):.2f} ms); cpu server {s['server_cpu_pct']:.0f}% "
                f"gen {s['generator_cpu_pct']:.0f}% other {s['other_cpu_pct']:.0f}%")
    if "acks_per_s" in r:
        return (f"{r['acks_per_s']:,.0f} acks/s, p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms; "
                f"cpu server {r['server_cpu_pct']:.0f}% gen {r['generator_cpu_pct']:.0f}% "
                f"other {r['other_cpu_pct']:.0f}%")
    if "bytes_per_connection" in r:
        return (f"{r['bytes_per_connection'] / 1024:.1f} KiB/conn ({r['connected']} conns, "
                f"{r['connects_per_s']:,.0f} conn/s)")
    return json.dumps(r)[:200]


if __name__ == "__main__":
    sys.exit(main())
