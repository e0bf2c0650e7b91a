// Minimal Engine.IO v4 / Socket.IO v5 WebSocket client on the `ws` package (text framing
// only), so the load generator costs far less per message than the servers it measures.
import WebSocket from "ws";
import { readFileSync } from "node:fs";

export const now = () => performance.timeOrigin + performance.now();

// Where the server under test serves Engine.IO, and the headers every request carries
// (a Jupyter-mounted hub: `--path /jupyter-sio/socket.io/ --token T` on the command line).
export const target = { path: "/socket.io/", headers: {} };

export function wsUrl(port) {
  return `ws://127.0.0.1:${port}${target.path}?EIO=4&transport=websocket`;
}

// Connect, send the Socket.IO CONNECT with `auth`, resolve once the server's `40{...}`
// arrives. `onMessage(buf)` receives every later text packet (a Buffer, to spare the
// decoding) except pings, which are answered here.
export function connect(port, auth, onMessage, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(port), {
      headers: target.headers,
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: timeoutMs,
    });
    let state = 0; // 0 = wait OPEN, 1 = wait CONNECT ack, 2 = connected
    const timer = setTimeout(() => {
      if (state < 2) {
        ws.terminate();
        reject(new Error("connect timeout"));
      }
    }, timeoutMs);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      if (data.length === 1 && data[0] === 50) {
        ws.send("3"); // Engine.IO ping -> pong
        return;
      }
      if (state === 2) {
        onMessage(data);
        return;
      }
      const s = data.toString();
      if (state === 0 && s[0] === "0") {
        state = 1;
        ws.send(auth ? "40" + JSON.stringify(auth) : "40");
      } else if (state === 1 && s.startsWith("40")) {
        state = 2;
        clearTimeout(timer);
        resolve(ws);
      } else if (state === 1 && s.startsWith("44")) {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error("connect refused: " + s));
      }
    });
    ws.on("error", (err) => {
      if (state < 2) {
        clearTimeout(timer);
        reject(err);
      }
    });
    ws.on("close", () => {
      if (state < 2) {
        clearTimeout(timer);
        reject(new Error("closed during handshake"));
      }
    });
  });
}

// Connect `n` sockets, at most `concurrency` handshakes in flight.
export async function connectMany(port, n, auth, onMessageFactory, concurrency = 100, timeoutMs = 60000, connectFn = connect) {
  const sockets = new Array(n);
  let next = 0;
  let failures = 0;
  const deadline = Date.now() + timeoutMs;
  async function worker() {
    while (next < n && Date.now() < deadline) {
      const i = next++;
      try {
        sockets[i] = await connectFn(port, auth, onMessageFactory(i), Math.max(1000, deadline - Date.now()));
      } catch (err) {
        failures++;
        if (failures > Math.max(10, n / 100)) throw new Error(`too many connect failures: ${err.message}`);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { sockets: sockets.filter(Boolean), failures };
}

// CPU seconds (user+system) a process has used, from /proc/<pid>/stat.
export function procCpuSeconds(pid, clkTck = 100) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clkTck; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

export function procRssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return m ? Number(m[1]) : NaN;
}

// Machine-wide busy and total jiffies (all CPUs) from /proc/stat.
export function machineJiffies() {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal
    const idle = v[3] + v[4]; // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

// Measures CPU% (100 = one core) of the server process, of this generator process and of
// everything else on the machine (`other_cpu_pct`: noise from unrelated processes) over a window.
export class CpuMeter {
  constructor(serverPid, clkTck) {
    this.serverPid = serverPid;
    this.clkTck = clkTck;
  }
  start() {
    this.t0 = performance.now();
    this.s0 = this.serverPid ? procCpuSeconds(this.serverPid, this.clkTck) : NaN;
    this.g0 = process.cpuUsage();
    this.m0 = machineJiffies();
  }
  stop() {
    const wall = (performance.now() - this.t0) / 1000;
    const s1 = this.serverPid ? procCpuSeconds(this.serverPid, this.clkTck) : NaN;
    const g = process.cpuUsage(this.g0);
    const m1 = machineJiffies();
    const server = (100 * (s1 - this.s0)) / wall;
    const generator = (100 * (g.user + g.system)) / 1e6 / wall;
    const machine = (100 * (m1.busy - this.m0.busy)) / this.clkTck / wall;
    return {
      wall_s: wall,
      server_cpu_pct: server,
      generator_cpu_pct: generator,
      machine_cpu_pct: machine,
      other_cpu_pct: Math.max(0, machine - server - generator),
    };
  }
}

// Fixed-capacity latency recorder (ms); keeps every sample up to `cap`, then reservoir-samples.
export class Latencies {
  constructor(cap = 2_000_000) {
    this.buf = new Float64Array(cap);
    this.n = 0;
    this.seen = 0;
  }
  add(v) {
    this.seen++;
    if (this.n < this.buf.length) {
      this.buf[this.n++] = v;
    } else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.buf.length) this.buf[j] = v;
    }
  }
  summary() {
    if (this.n === 0) return { p50_ms: null, p99_ms: null, max_ms: null, samples: 0 };
    const a = this.buf.slice(0, this.n).sort();
    const q = (p) => a[Math.min(a.length - 1, Math.floor(p * a.length))];
    return { p50_ms: q(0.5), p99_ms: q(0.99), max_ms: a[a.length - 1], samples: this.seen };
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
