#!/usr/bin/env python3
"""Measure the kernel path of jupyter_sio against hub handlers in one real Jupyter server.

    .venv/bin/python benchmarks/kernel_path.py [--quick] [--out FILE] [--no-pin] [--jsio-ref REF]

Starts `jupyter server` (isolated Jupyter dirs, random token, 127.0.0.1, free port) with the
jupyter_sio extension and benchmarks/kernel_path_ext.py (hub handlers `hub_burst`, `hub_echo`),
starts a real kernel through the REST API and runs `%load_ext jupyter_sio` in it, then runs the
Node generator (benchmarks/load/kernel_path.mjs) phase by phase:

- A: a cell's `sio.emit` loop vs the same burst from `hub_burst`, to rooms of 1, 10 and 100
  subscribers, as fast as possible and at a fixed rate; and the widget comm path (a kernel Comm
  received on the kernel channels WebSocket, IOPub rate limits at Jupyter's defaults);
- B: 10 clients calling `cell_echo` (a cell's `@sio.on` handler) with acks, kernel idle and
  busy, vs `hub_echo`.

Server (with the kernel, its child) on core 0, generator on core 1 (taskset); CPU of server,
kernel and generator sampled from /proc per window. Prints a Markdown table with ratios and the
targets, writes JSON to benchmarks/results/. See benchmarks/README.md ("Kernel path").
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.run import (
    BENCH,
    GENERATOR_BOUND_PCT,
    RESULTS,
    ROOT,
    ensure_node_modules,
    environment,
    free_port,
    pin,
    raise_fd_limit,
    snapshot_jupyter_sio,
)
from benchmarks.servers.common import MAX_PAYLOAD, PING_INTERVAL, PING_TIMEOUT

GENERATOR = BENCH / "load" / "kernel_path.mjs"
SIO_PATH = "/jupyter-sio/socket.io/"
SUBS = (1, 10, 100)
#: fixed-rate emits/s per room size: 2,000/s, but 200/s to 100 subscribers (20,000 deliveries/s,
#: the same delivery rate as 2,000/s to 10) so that "fixed rate" stays below saturation
RATE = {1: 2000, 10: 2000, 100: 200}
ECHO_CLIENTS = 10
NOISE_PCT = 30.0


def plan(quick: bool) -> dict[str, Any]:
    """Sizes of every phase: bursts get smaller as rooms grow, to bound the deliveries."""
    if quick:
        return {"n": {1: 20_000, 10: 10_000, 100: 1_000}, "warm_n": 500, "rate_s": 1.5,
                "timeout_s": 30, "warmup": 0.7, "duration": 2.0}
    return {"n": {1: 50_000, 10: 30_000, 100: 5_000}, "warm_n": 2_000, "rate_s": 4.0,
            "timeout_s": 60, "warmup": 2.0, "duration": 6.0}


# --------------------------------------------------------------------------------------
# The Jupyter server and its kernel


class JupyterServer:
    """`jupyter server` with jupyter_sio and the benchmark's hub handlers, in a temp dir."""

    def __init__(self, tmp: Path, core: int | None, log_path: Path,
                 pythonpath_first: Path | None) -> None:
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.kernel_pid: int | None = None
        self.kernel_id: str | None = None
        dirs = {name: tmp / name for name in ("config", "data", "runtime", "work", "ipython")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps({
            "ServerApp": {"jpserver_extensions": {"jupyter_sio": True,
                                                  "benchmarks.kernel_path_ext": True}},
            # the benchmark suite's settings (servers/common.py); IOPub rate limits untouched
            "JupyterSioApp": {"ping_interval": PING_INTERVAL, "ping_timeout": PING_TIMEOUT,
                              "max_payload": MAX_PAYLOAD},
        }))
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SIO_")}
        paths = ([str(pythonpath_first)] if pythonpath_first else []) + [str(ROOT)]
        env.update(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
                   JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTER_PLATFORM_DIRS="1",
                   IPYTHONDIR=str(dirs["ipython"]), PYTHONPATH=os.pathsep.join(paths),
                   PYTHONUNBUFFERED="1")
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        # `python -m jupyter_server` is `jupyter server` without the exec hop: PID = the server's
        self.proc = subprocess.Popen(
            [*pin(core), sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
             f"--port={self.port}", "--port-retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={dirs['work']}", "--allow-root"],
            # cwd: not ROOT, since `-m` puts the cwd first on sys.path, ahead of PYTHONPATH (a
            # --jsio-ref snapshot would lose to the working tree's jupyter_sio)
            cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        req = urllib.request.Request(
            f"{self.url}/api/{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter server exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                self.api("GET", "status", timeout=2)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise RuntimeError(f"jupyter server not ready in {timeout:.0f} s: {self.log_tail()}")

    def start_kernel(self, core: int | None) -> None:
        """POST /api/kernels, find the kernel process (a child of the server whose command line
        names the kernel's connection file) and pin it."""
        self.kernel_id = self.api("POST", "kernels", {"name": "python3"})["id"]
        deadline = time.monotonic() + 30
        while self.kernel_pid is None and time.monotonic() < deadline:
            self.kernel_pid = next((c for c in children(self.pid)
                                    if f"kernel-{self.kernel_id}" in cmdline(c)), None)
            time.sleep(0.1)
        if self.kernel_pid is None:
            raise RuntimeError("kernel process not found among the server's children")
        if core is not None:  # -a: every thread; threads started later inherit the affinity
            subprocess.run(["taskset", "-a", "-p", "-c", str(core), str(self.kernel_pid)],
                           check=True, capture_output=True)

    def log_tail(self, lines: int = 5) -> str:
        self.log.flush()
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def stop(self) -> None:
        """Shut the kernel down, then the server's process group; kill leftovers by PID."""
        if self.kernel_id and self.proc.poll() is None:
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.api("DELETE", f"kernels/{self.kernel_id}", timeout=10)
        if self.proc.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # the kernel runs in its own session (jupyter_client), so not in the server's group
        if self.kernel_pid is not None and pid_alive(self.kernel_pid):
            os.kill(self.kernel_pid, signal.SIGKILL)
        self.log.close()


def children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (from /proc/*/stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def affinity(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    return "?"


# --------------------------------------------------------------------------------------
# Generator phases


def run_phase(phase: str, cfg: dict[str, Any], core: int | None) -> dict[str, Any]:
    """One generator process; its `RESULT {json}` line (or an error)."""
    cmd = [*pin(core), "node", str(GENERATOR), phase, json.dumps(cfg)]
    try:
        out = subprocess.run(cmd, cwd=BENCH, capture_output=True, text=True,
                             timeout=cfg["max_seconds"] + 15)
    except subprocess.TimeoutExpired:
        return {"error": f"{phase}: generator killed after {cfg['max_seconds'] + 15} s"}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    tail = (out.stderr or out.stdout)[-600:]
    return {"error": f"{phase}: no result (exit {out.returncode}): {tail}"}


def noise_of(r: dict[str, Any]) -> float:
    """The highest CPU% of unrelated processes in any measured window of a phase's result."""
    own = float(r.get("other_cpu_pct") or 0)
    return max([own] + [noise_of(v) for k, v in r.items() if isinstance(v, dict) and k != "warm"])


def quietest(phase: str, cfg: dict[str, Any], core: int | None, retries: int) -> dict[str, Any]:
    """Run a phase; re-run it (up to ``retries`` times) while other processes used more than
    NOISE_PCT of a core during it (the machine is shared), and keep the quietest attempt."""
    attempts = []
    for _ in range(1 + retries):
        attempts.append(run_phase(phase, cfg, core))
        if "error" in attempts[-1] or noise_of(attempts[-1]) <= NOISE_PCT:
            break
    best = min(attempts, key=lambda a: ("error" in a, noise_of(a)))
    if len(attempts) > 1:
        best["noise_retries"] = [round(noise_of(a)) for a in attempts]
    return best


# --------------------------------------------------------------------------------------
# Table


def _num(v: Any, fmt: str = "{:,.0f}") -> str:
    return fmt.format(v) if isinstance(v, (int, float)) else "–"


def _rate(r: dict[str, Any] | None, key: str = "deliveries_per_s") -> str:
    """A throughput figure; `*` marks a lower bound (generator ≥ 85% of its core), `†` a run
    that did not get everything (timed out / lost)."""
    if not r or "error" in r:
        return "error"
    text = _num(r.get(key))
    if (r.get("generator_cpu_pct") or 0) >= GENERATOR_BOUND_PCT:
        text += " *"
    if r.get("lost"):
        text += f" † ({r['delivered']:,} of {r['expected']:,})"
    return text


def _lat(r: dict[str, Any] | None) -> str:
    if not r or "error" in r:
        return "error"
    return f"{_num(r.get('p50_ms'), '{:.2f}')} / {_num(r.get('p99_ms'), '{:.2f}')}"


def _ratio(a: Any, b: Any) -> float | None:
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def _check(value: float | None, ok: bool) -> str:
    return "–" if value is None else ("✓" if ok else "✗")


def render(res: dict[str, Any], p: dict[str, Any]) -> str:
    head = "| metric | kernel path | hub handler | ratio | target | met |"
    lines = [head, "|---|---:|---:|---:|---|:-:|"]

    def row(*cells: str) -> None:
        lines.append("| " + " | ".join(cells) + " |")

    for s in SUBS:
        b = res["broadcast"].get(s) or {}
        if "error" in b:
            row(f"A{s} broadcast", "error", "error", "", "", "")
            continue
        cell, hub = b.get("cell") or {}, b.get("hub") or {}
        ratio = _ratio(cell.get("deliveries_per_s"), hub.get("deliveries_per_s"))
        row(f"A{s} deliveries/s, burst of {p['n'][s]:,} to {s} subscriber{'s' * (s > 1)} ↑",
            _rate(cell), _rate(hub), _num(ratio, "{:.2f}×"), "≥ 0.5×",
            _check(ratio, (ratio or 0) >= 0.5))
        row(f"A{s} burst latency p50 / p99 ms ↓", _lat(cell), _lat(hub), "", "", "")
        cr, hr = b.get("cell_rate"), b.get("hub_rate")
        row(f"A{s} latency p50 / p99 ms at {RATE[s]:,} emits/s ↓", _lat(cr), _lat(hr), "", "", "")
        row(f"A{s} server+kernel CPU µs per delivery (burst) ↓",
            _num(cell.get("cpu_us_per_delivery"), "{:.1f}"),
            _num(hub.get("cpu_us_per_delivery"), "{:.1f}"),
            _num(_ratio(cell.get("cpu_us_per_delivery"), hub.get("cpu_us_per_delivery")),
                 "{:.2f}×"), "", "")
        eps = cell.get("emits_per_s")
        row(f"A{s} cell loop emits/s (the cell's own loop time) ↑", _num(eps), "–", "",
            "≥ 50,000", _check(eps, (eps or 0) >= 50_000))

    comm = res.get("comm") or {}
    a1 = (res["broadcast"].get(1) or {}).get("cell") or {}
    if "error" in comm:
        row("A comm path", "error", "", "", "", "")
    else:
        ratio = _ratio(a1.get("deliveries_per_s"), comm.get("deliveries_per_s"))
        row(f"A comm path delivered/s ({p['n'][1]:,} Comm messages over IOPub) ↑",
            _rate({**comm, "lost": 0}), "–", f"A1 kernel / comm = {_num(ratio, '{:.1f}×')}",
            "A1 ≥ 20×", _check(ratio, (ratio or 0) >= 20))
        row("A comm path delivered / sent (IOPub rate limit at defaults)",
            f"{_num(comm.get('delivered'))} / {_num(comm.get('n'))}", "–", "", "", "")
        row("A comm path latency p50 / p99 ms; server+kernel CPU µs per delivered message",
            f"{_lat(comm)}; {_num(comm.get('cpu_us_per_delivery'), '{:.1f}')}", "–", "", "", "")

    echo = res.get("echo") or {}
    if "error" in echo:
        row("B acks", "error", "error", "", "", "")
    else:
        for state, label in (("idle", "kernel idle"), ("busy", "kernel busy (time.sleep cell)")):
            cell, hub = echo.get(f"cell_{state}") or {}, echo.get(f"hub_{state}") or {}
            ratio = _ratio(cell.get("acks_per_s"), hub.get("acks_per_s"))
            row(f"B acks/s, {ECHO_CLIENTS} clients, {label} ↑", _rate(cell, "acks_per_s"),
                _rate(hub, "acks_per_s"), _num(ratio, "{:.2f}×"), "≥ 0.4×",
                _check(ratio, (ratio or 0) >= 0.4))
            p99 = cell.get("p99_ms")
            row(f"B round trip p50 / p99 ms, {label} ↓", _lat(cell), _lat(hub), "", "p99 ≤ 25 ms",
                _check(p99, (p99 or 1e9) <= 25))
            cpu_cell, cpu_hub = cell.get("cpu_us_per_ack"), hub.get("cpu_us_per_ack")
            row(f"B server+kernel CPU µs per ack, {label} ↓", _num(cpu_cell, "{:.1f}"),
                _num(cpu_hub, "{:.1f}"), _num(_ratio(cpu_cell, cpu_hub), "{:.2f}×"), "", "")
    return "\n".join(lines)


def cpu_runs(res: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    runs: list[tuple[str, dict[str, Any]]] = []
    for s in SUBS:
        b = res["broadcast"].get(s) or {}
        for key, label in (("cell", "cell burst"), ("hub", "hub_burst"),
                           ("cell_rate", f"cell @{RATE[s]:,}/s"),
                           ("hub_rate", f"hub_burst @{RATE[s]:,}/s")):
            if isinstance(b.get(key), dict):
                runs.append((f"A{s} {label}", b[key]))
    if isinstance(res.get("comm"), dict) and "error" not in res["comm"]:
        runs.append(("A comm path", res["comm"]))
    for key, label in (("hub_idle", "hub_echo, idle"), ("cell_idle", "cell_echo, idle"),
                       ("cell_busy", "cell_echo, busy"), ("hub_busy", "hub_echo, busy")):
        r = (res.get("echo") or {}).get(key)
        if isinstance(r, dict):
            runs.append((f"B {label}", r))
    return runs


def render_cpu(res: dict[str, Any]) -> str:
    lines = ["| run | server | kernel | generator | other | window s |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, r in cpu_runs(res):
        cells = [_num(r.get(k), "{:.0f}") for k in
                 ("server_cpu_pct", "kernel_cpu_pct", "generator_cpu_pct", "other_cpu_pct")]
        if (r.get("other_cpu_pct") or 0) > NOISE_PCT:
            cells[3] += " (noisy)"
        cells.append(_num(r.get("wall_s"), "{:.2f}"))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------


class Deadline(Exception):
    """The whole run took longer than --max-seconds."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGALRM:
        raise Deadline("run exceeded --max-seconds")
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller bursts, shorter windows (~1 min)")
    ap.add_argument("--out", type=Path, default=None, help="JSON output path")
    ap.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    ap.add_argument("--jsio-ref", default=None, metavar="GIT_REF",
                    help="jupyter_sio as committed at GIT_REF (e.g. HEAD), not the working tree")
    ap.add_argument("--retries", type=int, default=None,
                    help="re-runs of a phase when other processes used >30%% CPU during it "
                         "(default 1, 0 with --quick)")
    ap.add_argument("--max-seconds", type=int, default=None,
                    help="bound on the whole run (default 300 quick, 900 full)")
    args = ap.parse_args()
    p = plan(args.quick)
    retries = args.retries if args.retries is not None else (0 if args.quick else 1)

    if not shutil.which("node"):
        print("error: `node` is required", file=sys.stderr)
        return 2
    ensure_node_modules()
    fd_limit = raise_fd_limit()
    pinned = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    server_core, gen_core = (0, 1) if pinned else (None, None)
    if gen_core is not None:
        os.sched_setaffinity(0, {gen_core})  # this driver mostly waits; keep it off core 0
    clk_tck = os.sysconf("SC_CLK_TCK")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    out_path = args.out or RESULTS / f"kernel-path-{stamp}{'-quick' if args.quick else ''}.json"
    log_path = RESULTS / f"kernel-path-{stamp}-jupyter.log"

    env = environment(pinned, fd_limit, clk_tck)
    env["pinned"] = ("server and kernel on core 0, generator (and this driver) on core 1 (taskset)"
                     if pinned else "no pinning")
    jsio_path = None
    with tempfile.TemporaryDirectory(prefix="kernel-path-") as tmp:
        if args.jsio_ref:
            rev = subprocess.run(["git", "rev-parse", args.jsio_ref], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout.strip()
            jsio_path = snapshot_jupyter_sio(rev, Path(tmp) / "jsio-snapshot")
            env["jupyter_sio_source"] = f"git {args.jsio_ref} = {rev}"
        else:
            dirty = subprocess.run(["git", "status", "--porcelain", "--", "jupyter_sio"], cwd=ROOT,
                                   capture_output=True, text=True).stdout.strip()
            env["jupyter_sio_source"] = "working tree" + (" (modified)" if dirty else "")
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
            signal.signal(sig, _on_signal)
        signal.alarm(args.max_seconds or (300 if args.quick else 900))
        t_start = time.monotonic()
        print(f"kernel path benchmark ({'quick' if args.quick else 'full'}); {env['pinned']}; "
              f"jupyter_sio from {env['jupyter_sio_source']}", flush=True)
        server = JupyterServer(Path(tmp), server_core, log_path, jsio_path)
        res: dict[str, Any] = {"broadcast": {}}
        try:
            server.wait_ready()
            server.start_kernel(server_core)
            assert server.kernel_pid is not None
            env["affinity"] = {"server": affinity(server.pid),
                               "kernel": affinity(server.kernel_pid),
                               "driver": affinity(os.getpid())}
            base = {"port": server.port, "token": server.token, "sio_path": SIO_PATH,
                    "kernel_id": server.kernel_id, "server_pid": server.pid,
                    "kernel_pid": server.kernel_pid, "clk_tck": clk_tck}
            res["setup"] = setup = run_phase("setup", {**base, "max_seconds": 90}, gen_core)
            print(f"setup: {json.dumps(setup)[:300]}", flush=True)
            if "error" in setup or setup.get("mode") != "server":
                raise RuntimeError(f"kernel setup failed: {setup}\n{server.log_tail(20)}")
            if setup.get("pid") != server.kernel_pid:
                raise RuntimeError(f"kernel pid {setup.get('pid')} != child {server.kernel_pid}")
            expected_src = str(jsio_path or ROOT)
            for who in ("server_module", "kernel_module"):
                if not str(setup.get(who, "")).startswith(expected_src):
                    raise RuntimeError(f"{who} is {setup.get(who)}, not from {expected_src}")
            for s in SUBS:
                cfg = {**base, "subs": s, "n": p["n"][s], "warm_n": p["warm_n"], "rate": RATE[s],
                       "rate_n": int(RATE[s] * p["rate_s"]), "timeout_s": p["timeout_s"],
                       "max_seconds": 6 * p["timeout_s"] + 30}
                res["broadcast"][s] = b = quietest("broadcast", cfg, gen_core, retries)
                print(f"A{s}: " + (b["error"] if "error" in b else
                      f"cell {_rate(b['cell'])}/s, hub {_rate(b['hub'])}/s, cell loop "
                      f"{_num(b['cell'].get('emits_per_s'))} emits/s"), flush=True)
            res["comm"] = comm = quietest(
                "comm", {**base, "n": p["n"][1], "timeout_s": p["timeout_s"],
                         "max_seconds": p["timeout_s"] + 20}, gen_core, retries)
            print(f"comm: {comm.get('error') or _num(comm.get('deliveries_per_s'))} delivered/s, "
                  f"{_num(comm.get('delivered'))} of {_num(comm.get('n'))}", flush=True)
            res["echo"] = echo = quietest(
                "echo", {**base, "clients": ECHO_CLIENTS, "warmup": p["warmup"],
                         "duration": p["duration"],
                         "max_seconds": int(5 * (p["warmup"] + p["duration"])) + 60}, gen_core,
                retries)
            print("B: " + (echo["error"] if "error" in echo else ", ".join(
                f"{k} {_num(v.get('acks_per_s'))} acks/s" for k, v in echo.items())), flush=True)
        except (Exception, KeyboardInterrupt) as exc:  # report what was measured, then clean up
            res["aborted"] = f"{type(exc).__name__}: {exc}"
            print(f"aborted: {res['aborted']}", file=sys.stderr, flush=True)
        finally:
            signal.alarm(0)
            server.stop()

    elapsed = time.monotonic() - t_start
    doc = {"timestamp": stamp, "quick": args.quick, "elapsed_s": elapsed, "environment": env,
           "plan": {**p, "rate": RATE, "echo_clients": ECHO_CLIENTS}, "results": res}
    out_path.write_text(json.dumps(doc, indent=2, default=str))
    if "aborted" in res and not res["broadcast"]:
        return 1
    print(f"\n## Kernel path ({'quick' if args.quick else 'full'} run, {elapsed:.0f} s)\n")
    print(render(res, p))
    print("\n↑ higher is better, ↓ lower is better. kernel path = a notebook cell (`sio.emit` "
          "loop, `@sio.on` handler) through the kernel link; hub handler = the same work in a hub "
          "handler of the server (benchmarks/kernel_path_ext.py); ratio = kernel / hub. * = the "
          "generator "
          f"used ≥ {GENERATOR_BOUND_PCT:.0f}% of its core: a lower bound (compare CPU µs per "
          "delivery/ack). † = not everything arrived within the timeout. Comm path: Jupyter's "
          "default IOPub rate limits (1,000 msgs/s over a 3 s window) are left in place.")
    print("\nCPU % during each measured window (100 = one core): server, kernel, generator, other "
          f"processes; {env['pinned']}\n")
    print(render_cpu(res))
    print(f"\nJSON: {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path}")
    print(f"Jupyter server log: {log_path.relative_to(ROOT)}")
    return 1 if "aborted" in res else 0


if __name__ == "__main__":
    sys.exit(main())
