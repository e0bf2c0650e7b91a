// Load generator of benchmarks/kernel_path.py: drives a real Jupyter server with jupyter_sio and
// a real kernel, and measures the kernel path against hub handlers (see benchmarks/README.md).
//
//   node load/kernel_path.mjs <setup|broadcast|comm|echo> '<json config>'
//
// One `RESULT {json}` line on stdout. Socket.IO clients are raw WebSocket clients (`node:net`,
// a hand-written frame parser, no per-message event) that authenticate with the server token in
// an `Authorization` header; the kernel is driven over its channels WebSocket with the
// `v1.kernel.websocket.jupyter.org` protocol, as JupyterLab does.
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { Latencies, machineJiffies, now, procCpuSeconds, sleep } from "./eio.mjs";
import { rawConnect } from "./rawws.mjs";

const [command, cfgText] = process.argv.slice(2);
const cfg = JSON.parse(cfgText || "{}");
const TOKEN_HEADER = `token ${cfg.token}`;

function finish(result, code = 0) {
  process.stdout.write("RESULT " + JSON.stringify(result) + "\n", () => process.exit(code));
}

// Every phase is bounded: past max_seconds the generator reports an error and exits.
const WATCHDOG_S = cfg.max_seconds || 120;
setTimeout(() => finish({ error: `generator watchdog: ${WATCHDOG_S} s` }, 3), WATCHDOG_S * 1000);

const withTimeout = (promise, ms, what) =>
  Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`timeout: ${what} (${ms} ms)`)))]);

// ------------------------------------------------------------------------------------------
// CPU: server, kernel, this generator and everything else, over one window (100 = one core)

class Meter {
  start() {
    this.t0 = performance.now();
    this.s0 = procCpuSeconds(cfg.server_pid, cfg.clk_tck);
    this.k0 = procCpuSeconds(cfg.kernel_pid, cfg.clk_tck);
    this.g0 = process.cpuUsage();
    this.m0 = machineJiffies();
  }
  stop() {
    const wall = (performance.now() - this.t0) / 1000;
    const server = procCpuSeconds(cfg.server_pid, cfg.clk_tck) - this.s0;
    const kernel = procCpuSeconds(cfg.kernel_pid, cfg.clk_tck) - this.k0;
    const g = process.cpuUsage(this.g0);
    const gen = (g.user + g.system) / 1e6;
    const machine = (machineJiffies().busy - this.m0.busy) / cfg.clk_tck;
    return {
      wall_s: wall,
      server_cpu_s: server,
      kernel_cpu_s: kernel,
      server_cpu_pct: (100 * server) / wall,
      kernel_cpu_pct: (100 * kernel) / wall,
      generator_cpu_pct: (100 * gen) / wall,
      other_cpu_pct: Math.max(0, (100 * (machine - server - kernel - gen)) / wall),
    };
  }
}

// ------------------------------------------------------------------------------------------
// Socket.IO client: raw WebSocket to <sio_path>?EIO=4&transport=websocket with the token header

function sioConnect(onFrame, timeoutMs = 20000) {
  return rawConnect(cfg.port, null, onFrame, timeoutMs, {
    path: cfg.sio_path,
    headers: { Authorization: TOKEN_HEADER },
  });
}

const T_KEY = Buffer.from('"t":');
const I_KEY = Buffer.from('"i":');

// A non-negative decimal number (digits, optional fraction) at b[i..end), parsed in place
// (as in bench.mjs): no string per delivery.
function numAt(b, i, end) {
  while (i < end && b[i] === 32) i++;
  let v = 0;
  let c;
  while (i < end && (c = b[i]) >= 48 && c <= 57) {
    v = v * 10 + (c - 48);
    i++;
  }
  if (i < end && b[i] === 46) {
    let f = 0.1;
    for (i++; i < end && (c = b[i]) >= 48 && c <= 57; i++, f *= 0.1) v += (c - 48) * f;
  }
  return v;
}

class SioClient {
  constructor() {
    this.nextId = 0;
    this.acks = new Map();
    this.onEvent = null; // (buf, start, end) for every EVENT packet
  }
  async connect() {
    this.ws = await sioConnect((b, s, e) => this.frame(b, s, e));
    return this;
  }
  frame(b, s, e) {
    if (b[s] !== 52) return; // not a Socket.IO message
    if (b[s + 1] === 50) {
      if (this.onEvent) this.onEvent(b, s, e);
    } else if (b[s + 1] === 51) {
      let i = s + 2;
      let id = 0;
      while (i < e && b[i] >= 48 && b[i] <= 57) id = id * 10 + b[i++] - 48;
      const cb = this.acks.get(id);
      if (cb) {
        this.acks.delete(id);
        cb(b.toString("utf8", i, e));
      }
    }
  }
  // Emit with an ack; resolves with the ack's JSON array text.
  call(event, ...args) {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.acks.set(id, resolve);
      this.ws.send(`42${id}${JSON.stringify([event, ...args])}`);
    });
  }
  close() {
    this.ws.terminate();
  }
}

async function connectMany(n, concurrency = 25) {
  const out = [];
  let next = 0;
  async function worker() {
    while (next < n) {
      next++;
      out.push(await new SioClient().connect());
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return out;
}

// ------------------------------------------------------------------------------------------
// Kernel channels WebSocket (v1.kernel.websocket.jupyter.org framing)

const KERNEL_PROTOCOL = "v1.kernel.websocket.jupyter.org";

function v1Encode(channel, parts) {
  const bufs = [Buffer.from(channel), ...parts.map((p) => Buffer.from(JSON.stringify(p)))];
  const offsets = [8 * (1 + 1 + parts.length + 1)];
  for (const b of bufs) offsets.push(offsets[offsets.length - 1] + b.length);
  const head = Buffer.alloc(8 * (1 + offsets.length));
  head.writeBigUInt64LE(BigInt(offsets.length), 0);
  offsets.forEach((o, i) => head.writeBigUInt64LE(BigInt(o), 8 * (i + 1)));
  return Buffer.concat([head, ...bufs]);
}

// -> {channel, part(i)} with part 0..3 = header, parent_header, metadata, content (parsed lazily)
function v1Decode(buf) {
  const count = Number(buf.readBigUInt64LE(0));
  const off = (i) => Number(buf.readBigUInt64LE(8 * (i + 1)));
  return {
    channel: buf.toString("utf8", off(0), off(1)),
    part: (i) => (i + 2 < count ? JSON.parse(buf.toString("utf8", off(i + 1), off(i + 2))) : {}),
  };
}

class KernelChannel {
  constructor() {
    this.session = randomUUID();
    this.pending = new Map(); // msg_id -> {reply, idle, error, busy, resolve, reject}
    this.onIopub = null; // (msg_type, header, decoded) for every iopub message
  }
  open() {
    const url =
      `ws://127.0.0.1:${cfg.port}/api/kernels/${cfg.kernel_id}/channels` +
      `?session_id=${this.session}&token=${cfg.token}`;
    this.ws = new WebSocket(url, [KERNEL_PROTOCOL], { perMessageDeflate: false });
    this.ws.on("message", (data, isBinary) => isBinary && this.message(data));
    return withTimeout(
      new Promise((resolve, reject) => {
        this.ws.once("open", () =>
          this.ws.protocol === KERNEL_PROTOCOL ? resolve(this) : reject(new Error("no v1 protocol")),
        );
        this.ws.once("error", reject);
      }),
      20000,
      "kernel channels WebSocket",
    );
  }
  message(buf) {
    const m = v1Decode(buf);
    const header = m.part(0);
    if (m.channel === "iopub" && this.onIopub) this.onIopub(header.msg_type, m);
    const parent = m.part(1);
    const p = parent && this.pending.get(parent.msg_id);
    if (!p) return;
    const type = header.msg_type;
    if (m.channel === "shell" && type === "execute_reply") {
      p.reply = m.part(3);
      // IOPub is lossy under load (the kernel's PUB socket drops past its high-water mark, the
      // idle status included): do not wait for ever for an idle that may never come
      setTimeout(() => this.settle(parent.msg_id, true), 2000);
    } else if (type === "error") p.error = m.part(3);
    else if (type === "status" && m.part(3).execution_state === "busy") p.busy();
    else if (type === "status" && m.part(3).execution_state === "idle") p.idle = true;
    this.settle(parent.msg_id, false);
  }
  settle(msgId, late) {
    const p = this.pending.get(msgId);
    if (p && p.reply && (p.idle || late)) {
      this.pending.delete(msgId);
      if (p.error || p.reply.status !== "ok") {
        const e = p.error || p.reply;
        const trace = (e.traceback || []).join("\n").slice(-1500);
        p.reject(new Error(`cell failed: ${e.ename}: ${e.evalue}\n${trace}`));
      } else p.resolve(p.reply);
    }
  }
  // Run `code`; returns {msgId, started (the kernel is busy with it), done (-> its execute_reply)}.
  execute(code) {
    const msgId = randomUUID();
    const header = { msg_id: msgId, msg_type: "execute_request", session: this.session, username: "bench",
      date: new Date().toISOString(), version: "5.3" };
    // The cell's result travels back in the execute_reply (shell channel), not as printed output:
    // IOPub output may be dropped by Jupyter's rate limit (the comm phase hits it on purpose).
    const content = { code, silent: false, store_history: false, allow_stdin: false, stop_on_error: true,
      user_expressions: { kp: "__import__('json').dumps(globals().get('_kp_result')).encode().hex()" } };
    let busy;
    const started = new Promise((r) => (busy = r));
    const done = new Promise((resolve, reject) =>
      this.pending.set(msgId, { reply: null, idle: false, busy, resolve, reject }),
    );
    this.ws.send(v1Encode("shell", [header, {}, {}, content]));
    return { msgId, started, done };
  }
  close() {
    this.ws.terminate();
  }
}

// What a cell left in `_kp_result` (as hex-encoded JSON, so the repr needs no unquoting).
function cellResult(reply) {
  const kp = reply.user_expressions && reply.user_expressions.kp;
  const hex = kp && kp.status === "ok" ? kp.data["text/plain"].slice(1, -1) : "";
  const value = hex ? JSON.parse(Buffer.from(hex, "hex").toString()) : null;
  if (value === null) throw new Error("the cell left no _kp_result: " + JSON.stringify(kp).slice(0, 500));
  return value;
}

const pyStr = (s) => JSON.stringify(s); // a JSON string literal is a valid Python literal here

// ------------------------------------------------------------------------------------------
// Phases

async function setup() {
  const kc = await new KernelChannel().open();
  const code = [
    "%load_ext jupyter_sio",
    "import json, os, threading, time, jupyter_sio",
    "@sio.on('cell_echo')",
    "def cell_echo(peer, *args):",
    "    return args",
    // a round trip on the kernel's connection: the hub handlers exist, and the handler
    // registration sent above has reached the hub before clients call cell_echo
    "_kp_hub = sio.request('hub_echo', 'ping', timeout=10)",
    "_kp_info = sio.request('hub_info', timeout=10)",
    "_kp_result = {'mode': sio.mode, 'url': sio.url, 'hub_echo': _kp_hub,",
    "      'server_module': _kp_info.get('module') if isinstance(_kp_info, dict) else _kp_info,",
    "      'pid': os.getpid(), 'kernel_module': jupyter_sio.__file__,",
    "      'threads': [t.name for t in threading.enumerate()]}",
  ].join("\n");
  const out = cellResult(await withTimeout(kc.execute(code).done, 60000, "setup cell"));
  kc.close();
  return out;
}

function burstCell(room, n, rate) {
  // The loop a user writes, at top level of a cell; with a rate, paced by time.sleep.
  const pace = rate
    ? [`    _kp_d = _kp_t0 + i / ${rate} - time.perf_counter()`, "    if _kp_d > 0:",
       "        time.sleep(_kp_d)"]
    : [];
  return [
    "_kp_t0 = time.perf_counter()",
    `for i in range(${n}):`,
    ...pace,
    `    sio.emit("tick", {"i": i, "t": time.time()}, to=${pyStr(room)})`,
    "_kp_loop = time.perf_counter() - _kp_t0",
    "_kp_st = sio.status()",
    "_kp_result = {'loop_s': _kp_loop, 'connected': _kp_st.get('connected'),",
    "      'dropped': _kp_st.get('dropped'), 'reconnects': _kp_st.get('reconnects')}",
  ].join("\n");
}

async function broadcast() {
  const S = cfg.subs;
  const room = `kp-${S}-${process.pid}`;
  const kc = await new KernelChannel().open();
  const subs = await withTimeout(connectMany(S), 30000, `connect ${S} subscribers`);
  const answers = await withTimeout(Promise.all(subs.map((c) => c.call("sio:subscribe", { rooms: [room] }))),
    10000, "sio:subscribe");
  if (answers.some((a) => a.includes("error"))) throw new Error("sio:subscribe refused: " + answers[0]);
  const trigger = await new SioClient().connect();

  const counts = new Int32Array(S);
  const lastI = new Int32Array(S);
  let got = 0, expected = 0, disorder = 0, minT = Infinity, lastArrival = 0, lat = null, allIn = null;
  subs.forEach((c, j) => {
    c.onEvent = (b, s, e) => {
      const tk = b.indexOf(T_KEY, s);
      const ik = b.indexOf(I_KEY, s);
      if (tk < 0 || tk >= e || ik < 0 || ik >= e) return;
      const t = numAt(b, tk + 4, e) * 1000;
      const i = numAt(b, ik + 4, e);
      const arrival = now();
      if (i !== lastI[j] + 1) disorder++;
      lastI[j] = i;
      counts[j]++;
      lat.add(arrival - t);
      if (t < minT) minT = t;
      lastArrival = arrival;
      if (++got === expected && allIn) allIn();
    };
  });

  async function run(source, n, rate) {
    got = 0;
    expected = n * S;
    disorder = 0;
    minT = Infinity;
    lastArrival = 0;
    lat = new Latencies();
    counts.fill(0);
    lastI.fill(-1);
    const delivered = new Promise((r) => (allIn = r));
    const meter = new Meter();
    meter.start();
    const t0 = now();
    const triggerDone =
      source === "cell"
        ? kc.execute(burstCell(room, n, rate)).done.then(cellResult)
        : trigger.call("hub_burst", { n, room, rate }).then((text) => JSON.parse(text)[0]);
    const budget = cfg.timeout_s * 1000;
    const timedOut = await Promise.race([delivered.then(() => false), sleep(budget).then(() => true)]);
    let loop = {};
    try {
      loop = await withTimeout(triggerDone, Math.max(1000, budget - (now() - t0)), `${source} burst`);
    } catch (err) {
      loop = { error: String(err.message || err) };
    }
    const cpu = meter.stop();
    allIn = null;
    const elapsed = (lastArrival - minT) / 1000;
    const res = {
      source, subs: S, n, rate: rate || null, expected, delivered: got, lost: expected - got,
      timed_out: timedOut, out_of_order: disorder,
      min_per_subscriber: counts.reduce((a, b) => Math.min(a, b), n),
      deliveries_per_s: got && elapsed > 0 ? got / elapsed : null,
      ...lat.summary(), ...cpu,
      cpu_us_per_delivery: got ? (1e6 * (cpu.server_cpu_s + cpu.kernel_cpu_s)) / got : null,
      loop_s: loop.loop_s ?? null, emits_per_s: loop.loop_s ? n / loop.loop_s : null,
      // the kernel's own view after the loop (sio.status()): still connected, nothing dropped
      kernel_connected: loop.connected, kernel_dropped: loop.dropped, kernel_reconnects: loop.reconnects,
    };
    if (loop.error) res.trigger_error = loop.error;
    await sleep(300); // let stragglers (after a timeout) drain before the next run
    return res;
  }

  const warm = Math.min(cfg.n, cfg.warm_n);
  const out = { subs: S, room };
  out.warm = { cell: await run("cell", warm, 0), hub: await run("hub", warm, 0) };
  out.cell = await run("cell", cfg.n, 0);
  out.hub = await run("hub", cfg.n, 0);
  if (cfg.rate) {
    out.cell_rate = await run("cell", cfg.rate_n, cfg.rate);
    out.hub_rate = await run("hub", cfg.rate_n, cfg.rate);
  }
  subs.forEach((c) => c.close());
  trigger.close();
  kc.close();
  return out;
}

async function comm() {
  // A widget-style Comm sending the same messages through IOPub, received as JupyterLab does.
  const kc = await new KernelChannel().open();
  let commId = null, got = 0, minT = Infinity, lastArrival = 0, limited = false;
  const lat = new Latencies();
  let lastIopub = 0;
  kc.onIopub = (type, m) => {
    lastIopub = now();
    if (type === "comm_open") {
      const c = m.part(3);
      if (c.target_name === "kp_bench") commId = c.comm_id;
    } else if (type === "comm_msg") {
      const c = m.part(3);
      if (c.comm_id !== commId) return;
      const arrival = now();
      const t = c.data.t * 1000;
      got++;
      lat.add(arrival - t);
      if (t < minT) minT = t;
      lastArrival = arrival;
    } else if (type === "stream" && m.part(3).text.includes("IOPub message rate exceeded")) limited = true;
  };
  const code = [
    "from comm import create_comm",
    "_kp_comm = create_comm(target_name='kp_bench', data={})",
    "_kp_t0 = time.perf_counter()",
    `for i in range(${cfg.n}):`,
    '    _kp_comm.send({"i": i, "t": time.time()})',
    "_kp_loop = time.perf_counter() - _kp_t0",
    "_kp_comm.close()",
    "_kp_result = {'loop_s': _kp_loop}",
  ].join("\n");
  const meter = new Meter();
  meter.start();
  const t0 = now();
  const loop = cellResult(await withTimeout(kc.execute(code).done, cfg.timeout_s * 1000, "comm cell"));
  // the server may still be forwarding: done once IOPub has been quiet for 1 s (or time is up)
  while (now() - Math.max(lastIopub, t0) < 1000 && now() - t0 < cfg.timeout_s * 1000) await sleep(100);
  const cpu = meter.stop();
  kc.close();
  const elapsed = (lastArrival - minT) / 1000;
  return {
    n: cfg.n, expected: cfg.n, delivered: got, lost: cfg.n - got, rate_limit_message: limited,
    deliveries_per_s: got && elapsed > 0 ? got / elapsed : null, ...lat.summary(), ...cpu,
    cpu_us_per_delivery: got ? (1e6 * (cpu.server_cpu_s + cpu.kernel_cpu_s)) / got : null,
    loop_s: loop.loop_s, emits_per_s: cfg.n / loop.loop_s,
  };
}

async function echo() {
  const kc = await new KernelChannel().open();
  const clients = await withTimeout(connectMany(cfg.clients), 20000, "connect echo clients");
  const pad = "x".repeat(40);

  async function run(event, busy) {
    let sleeper = null;
    if (busy) {
      // another cell keeps the kernel busy for the whole run
      sleeper = kc.execute(`import time\ntime.sleep(${cfg.warmup + cfg.duration + 1})`);
      await withTimeout(sleeper.started, 10000, "busy cell start");
    }
    const lat = new Latencies();
    let acks = 0, errors = 0, measuring = false, stop = false, sample = null;
    async function loop(c, k) {
      let seq = 0;
      while (!stop) {
        const t = now();
        const text = await c.call(event, { c: k, seq: ++seq, pad });
        let answer = null;
        try {
          answer = JSON.parse(text)[0];
        } catch {}
        if (!answer || answer.c !== k || answer.seq !== seq) {
          errors++;
          sample ??= text.slice(0, 200);
        }
        if (measuring) {
          lat.add(now() - t);
          acks++;
        }
      }
    }
    const loops = clients.map((c, k) => loop(c, k));
    await sleep(cfg.warmup * 1000);
    const meter = new Meter();
    meter.start();
    measuring = true;
    await sleep(cfg.duration * 1000);
    measuring = false;
    const cpu = meter.stop();
    stop = true;
    await withTimeout(Promise.all(loops), 10000, `${event}: last acks`);
    if (sleeper) await withTimeout(sleeper.done, (cfg.warmup + cfg.duration + 15) * 1000, "busy cell end");
    return {
      event, busy, clients: cfg.clients, acks, errors, error_sample: sample,
      acks_per_s: acks / cpu.wall_s, ...lat.summary(), ...cpu,
      cpu_us_per_ack: acks ? (1e6 * (cpu.server_cpu_s + cpu.kernel_cpu_s)) / acks : null,
    };
  }

  const out = {};
  out.hub_idle = await run("hub_echo", false);
  out.cell_idle = await run("cell_echo", false);
  out.cell_busy = await run("cell_echo", true);
  out.hub_busy = await run("hub_echo", true); // the hub does not need the kernel: a control
  clients.forEach((c) => c.close());
  kc.close();
  return out;
}

const PHASES = { setup, broadcast, comm, echo };
if (!PHASES[command]) finish({ error: `unknown phase ${command}` }, 2);
else
  PHASES[command]().then(
    (r) => finish(r),
    (err) => finish({ error: String(err && err.stack ? err.stack : err).slice(0, 2000) }, 1),
  );
