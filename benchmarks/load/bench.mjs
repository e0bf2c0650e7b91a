// Load generator for the jupyter_sio benchmark suite. One scenario per invocation; prints a
// single line `RESULT {json}` on stdout. All targets are 127.0.0.1; every phase is bounded
// in time, and a watchdog ends the process after --max-seconds whatever happens.
//
//   node load/bench.mjs fanout --port N --clients 100 [--window 20] [--rate 100] ...
//   node load/bench.mjs echo   --port N --clients 50 ...
//   node load/bench.mjs poll   --port N --clients 20 ...
//   node load/bench.mjs idle   --port N --clients 5000 --server-pid P ...
import http from "node:http";
import { io as ioClient } from "socket.io-client";
import { PollingClient } from "./polling.mjs";
import { rawConnect } from "./rawws.mjs";
import { connect, connectMany, CpuMeter, Latencies, now, procRssKiB, sleep, target } from "./eio.mjs";

const [scenario, ...argv] = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const num = (name, dflt) => Number(opt(name, dflt));

const port = num("port", 0);
const clients = num("clients", 100);
const warmupS = num("warmup", 2);
const durationS = num("duration", 6);
const serverPid = num("server-pid", 0);
const clkTck = num("clk-tck", 100);
const padLen = num("pad", 40);
const maxSeconds = num("max-seconds", 120);
const PAD = "x".repeat(padLen);
// A hub mounted elsewhere than /socket.io/ (jupyter_sio inside Jupyter) and its token.
target.path = opt("path", "/socket.io/");
if (opt("token", "")) target.headers = { Authorization: `token ${opt("token", "")}` };

setTimeout(() => {
  console.log("RESULT " + JSON.stringify({ scenario, error: `watchdog: still running after ${maxSeconds}s` }));
  process.exit(3);
}, maxSeconds * 1000).unref();

function fail(msg) {
  console.log("RESULT " + JSON.stringify({ scenario, error: msg }));
  process.exit(2);
}
if (!port) fail("--port is required");

// ---------------------------------------------------------------------------------------
// A. fan-out: one publisher, `clients` receivers in room "bench".
//    Phase 1 (saturated): closed loop, at most --window publishes in flight (a publish is
//    complete when every receiver has its tick) -> deliveries/s and latency at saturation.
//    Phase 2 (fixed rate): --rate publishes/s, open loop -> latency at a fixed offered load.
async function fanout() {
  const window = num("window", Math.max(1, Math.ceil(2000 / clients)));
  const rate = num("rate", 0);
  const rateS = num("rate-duration", 4);
  const RING = 1 << 14;
  const ringSeq = new Int32Array(RING).fill(-1);
  const ringCount = new Uint32Array(RING);
  const ringSent = new Float64Array(RING);
  let inflight = 0;
  let completed = 0;
  let lostDeliveries = 0;
  let delivered = 0; // deliveries counted while `recording`
  let recording = false;
  let recordFromSeq = Infinity;
  let lat = new Latencies();
  let onComplete = () => {};

  function complete(slot) {
    ringSeq[slot] = -1;
    inflight--;
    completed++;
    onComplete();
  }
  const T_KEY = Buffer.from('"t":');
  const SEQ_KEY = Buffer.from('"seq":');
  // parse a non-negative decimal number (digits, optional fraction) at b[i..end)
  const numAt = (b, i, end) => {
    while (i < end && b[i] === 32) i++;
    let v = 0;
    let c;
    while (i < end && (c = b[i]) >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      i++;
    }
    if (i < end && b[i] === 46) {
      let f = 0.1;
      i++;
      while (i < end && (c = b[i]) >= 48 && c <= 57) {
        v += (c - 48) * f;
        f *= 0.1;
        i++;
      }
    }
    return v;
  };
  const lastSeq = new Float64Array(clients).fill(-1);
  // latency is sampled on ~100 receivers spread over the room (every receiver up to 100)
  const latEvery = Math.max(1, Math.floor(clients / 100));
  let reordered = 0; // ticks that arrive at a receiver out of order or twice (should stay 0)
  const onTick = (r, b, start, end) => {
    // 42["tick",{... "t":<ms>, "seq":<n> ...}] -- parsed in place, no decoding
    if (end - start < 12 || b[start] !== 52 || b[start + 1] !== 50 || b[start + 4] !== 116 || b[start + 7] !== 107) return;
    const ti = b.indexOf(T_KEY, start);
    const si = b.indexOf(SEQ_KEY, start);
    if (ti < 0 || si < 0 || ti >= end || si >= end) return;
    const t = numAt(b, ti + 4, end);
    const seq = numAt(b, si + 6, end);
    if (seq <= lastSeq[r]) reordered++;
    lastSeq[r] = seq;
    if (recording && seq >= recordFromSeq) {
      delivered++;
      if (r % latEvery === 0) lat.add(now() - t);
    }
    const slot = seq & (RING - 1);
    if (ringSeq[slot] === seq && ++ringCount[slot] === clients) complete(slot);
  };

  const { sockets, failures } = await connectMany(port, clients, { room: "bench" }, (r) => (b, s, e) => onTick(r, b, s, e), 100, 60000, rawConnect);
  if (sockets.length !== clients) fail(`only ${sockets.length}/${clients} receivers connected`);
  const pub = await connect(port, null, () => {});

  let seq = 0;
  function publish() {
    const s = seq++;
    const slot = s & (RING - 1);
    if (ringSeq[slot] !== -1) {
      lostDeliveries += clients - ringCount[slot];
      ringSeq[slot] = -1;
      inflight--;
    }
    ringSeq[slot] = s;
    ringCount[slot] = 0;
    ringSent[slot] = performance.now();
    inflight++;
    pub.send(`42["publish",{"room":"bench","t":${now()},"seq":${s},"pad":"${PAD}"}]`);
  }
  // Publishes that never complete within 5 s count as lost deliveries (bounded loop).
  const reaper = setInterval(() => {
    const limit = performance.now() - 5000;
    for (let i = 0; i < RING; i++) {
      if (ringSeq[i] !== -1 && ringSent[i] < limit) {
        lostDeliveries += clients - ringCount[i];
        complete(i);
      }
    }
  }, 250);

  // Probe: the room is complete once one publish reaches every receiver.
  {
    const t0 = Date.now();
    let ok = false;
    while (!ok && Date.now() - t0 < 10000) {
      const before = completed;
      publish();
      const t1 = Date.now();
      while (completed === before && Date.now() - t1 < 1000) await sleep(5);
      ok = completed > before;
    }
    if (!ok) fail("room probe never reached all receivers");
    lostDeliveries = 0;
  }

  // Phase 1: closed loop with a window.
  let running = true;
  onComplete = () => {
    while (running && inflight < window) publish();
  };
  onComplete();
  await sleep(warmupS * 1000);
  const cpu = new CpuMeter(serverPid, clkTck);
  const lost0 = lostDeliveries;
  recordFromSeq = 0;
  delivered = 0;
  recording = true;
  cpu.start();
  const c0 = completed;
  await sleep(durationS * 1000);
  recording = false;
  const sat = cpu.stop();
  const publishes = completed - c0;
  sat.deliveries_per_s = delivered / sat.wall_s;
  sat.server_cpu_us_per_delivery = (sat.server_cpu_pct * 1e4 * sat.wall_s) / Math.max(1, delivered);
  sat.publishes_per_s = publishes / sat.wall_s;
  Object.assign(sat, lat.summary());
  running = false;
  // drain (bounded)
  {
    const t0 = Date.now();
    while (inflight > 0 && Date.now() - t0 < 6000) await sleep(10);
  }
  sat.lost_deliveries = lostDeliveries - lost0;
  sat.latency_sampled_receivers = Math.ceil(clients / latEvery);
  const result = { scenario: "fanout", clients, window, connect_failures: failures, saturated: sat };

  // Phase 2: fixed offered rate.
  if (rate > 0) {
    lat = new Latencies();
    const lost1 = lostDeliveries;
    const interval = 1000 / rate;
    const total = Math.round(rate * rateS);
    const skip = Math.round(rate * 0.5); // first 0.5 s not recorded
    const firstSeq = seq;
    recordFromSeq = firstSeq + skip;
    delivered = 0;
    recording = true;
    const cpu2 = new CpuMeter(serverPid, clkTck);
    cpu2.start();
    const start = performance.now();
    let sent = 0;
    while (sent < total && performance.now() - start < (rateS + 2) * 1000) {
      const due = start + sent * interval;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait - 0.5);
      else if (wait > 0) await new Promise((r) => setImmediate(r));
      else {
        publish();
        sent++;
      }
    }
    const t0 = Date.now();
    while (inflight > 0 && Date.now() - t0 < 6000) await sleep(10);
    recording = false;
    const fixed = cpu2.stop();
    fixed.offered_publishes_per_s = rate;
    fixed.offered_deliveries_per_s = rate * clients;
    fixed.delivered_fraction = delivered / ((total - skip) * clients);
    fixed.lost_deliveries = lostDeliveries - lost1;
    Object.assign(fixed, lat.summary());
    fixed.latency_sampled_receivers = Math.ceil(clients / latEvery);
    result.fixed_rate = fixed;
  }
  clearInterval(reaper);
  result.reordered_or_duplicate = reordered;
  for (const ws of [...sockets, pub]) ws.terminate();
  return result;
}

// ---------------------------------------------------------------------------------------
// B. `clients` WebSocket clients, each a closed loop of emit-with-ack "echo".
async function echo() {
  const lat = new Latencies();
  let recording = false;
  let acks = 0;
  let running = true;
  const state = [];
  const { sockets, failures } = await connectMany(
    port,
    clients,
    null,
    (i) => (b) => {
      const st = state[i];
      if (b[0] !== 52 || b[1] !== 51 || parseInt(b.latin1Slice(2, 14), 10) !== st.id) return; // 43<id>
      const rtt = performance.now() - st.sentAt;
      if (recording) {
        acks++;
        lat.add(rtt);
      }
      if (running) send(i);
    },
    50,
  );
  if (sockets.length !== clients) fail(`only ${sockets.length}/${clients} clients connected`);
  function send(i) {
    const st = state[i];
    st.id++;
    st.sentAt = performance.now();
    sockets[i].send(`42${st.id}["echo",{"t":${now()},"i":${i},"pad":"${PAD}"}]`);
  }
  for (let i = 0; i < clients; i++) state.push({ id: 0, sentAt: 0 });
  for (let i = 0; i < clients; i++) send(i);
  await sleep(warmupS * 1000);
  const cpu = new CpuMeter(serverPid, clkTck);
  cpu.start();
  recording = true;
  await sleep(durationS * 1000);
  recording = false;
  const r = cpu.stop();
  running = false;
  r.acks_per_s = acks / r.wall_s;
  r.server_cpu_us_per_ack = (r.server_cpu_pct * 1e4 * r.wall_s) / Math.max(1, acks);
  Object.assign(r, lat.summary());
  await sleep(200);
  for (const ws of sockets) ws.terminate();
  return { scenario: "echo", clients, connect_failures: failures, ...r };
}

// ---------------------------------------------------------------------------------------
// C. the same over HTTP long-polling only. Default client: the minimal keep-alive polling
//    client in polling.mjs; `--client official` uses socket.io-client (heavier per request).
async function poll() {
  return opt("client", "raw") === "official" ? pollOfficial() : pollRaw();
}

async function pollRaw() {
  const lat = new Latencies();
  let recording = false;
  let acks = 0;
  let running = true;
  let errors = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 * clients + 8 });
  const socks = [];
  const state = [];
  for (let i = 0; i < clients; i++) {
    const c = new PollingClient(port, agent);
    const st = { id: 0, sentAt: 0 };
    state.push(st);
    c.onError = () => {
      errors++;
    };
    c.onPacket = (p) => {
      if (!p.startsWith("43") || parseInt(p.slice(2, 14), 10) !== st.id) return;
      if (recording) {
        acks++;
        lat.add(performance.now() - st.sentAt);
      }
      if (running) send(i);
    };
    socks.push(c);
  }
  function send(i) {
    const st = state[i];
    st.id++;
    st.sentAt = performance.now();
    socks[i].send(`42${st.id}["echo",{"t":${now()},"i":${i},"pad":"${PAD}"}]`);
  }
  await Promise.race([
    Promise.all(socks.map((c) => c.open(null))),
    sleep(20000).then(() => {
      throw new Error("polling clients did not connect in 20 s");
    }),
  ]).catch((e) => fail(String(e && e.message ? e.message : e)));
  for (let i = 0; i < clients; i++) send(i);
  await sleep(warmupS * 1000);
  const cpu = new CpuMeter(serverPid, clkTck);
  cpu.start();
  recording = true;
  await sleep(durationS * 1000);
  recording = false;
  const r = cpu.stop();
  running = false;
  await sleep(200);
  await Promise.race([Promise.all(socks.map((c) => c.close())), sleep(3000)]);
  agent.destroy();
  r.acks_per_s = acks / r.wall_s;
  r.server_cpu_us_per_ack = (r.server_cpu_pct * 1e4 * r.wall_s) / Math.max(1, acks);
  Object.assign(r, lat.summary());
  return { scenario: "poll", client: "raw", clients, errors, ...r };
}

async function pollOfficial() {
  const lat = new Latencies();
  let recording = false;
  let acks = 0;
  let running = true;
  let errors = 0;
  const url = `http://127.0.0.1:${port}`;
  const socks = [];
  for (let i = 0; i < clients; i++) {
    const s = ioClient(url, {
      path: target.path,
      extraHeaders: target.headers,
      transports: ["polling"],
      upgrade: false,
      reconnection: false,
      forceNew: true,
      timeout: 10000,
    });
    socks.push(s);
  }
  await Promise.race([
    Promise.all(socks.map((s) => new Promise((res, rej) => {
      s.on("connect", res);
      s.on("connect_error", rej);
    }))),
    sleep(20000).then(() => { throw new Error("polling clients did not connect in 20 s"); }),
  ]).catch((e) => fail(String(e && e.message ? e.message : e)));
  const loops = socks.map(async (s, i) => {
    while (running) {
      const t0 = performance.now();
      try {
        await s.timeout(10000).emitWithAck("echo", { t: now(), i, pad: PAD });
      } catch {
        errors++;
        if (errors > 100) return;
        continue;
      }
      if (recording) {
        acks++;
        lat.add(performance.now() - t0);
      }
    }
  });
  await sleep(warmupS * 1000);
  const cpu = new CpuMeter(serverPid, clkTck);
  cpu.start();
  recording = true;
  await sleep(durationS * 1000);
  recording = false;
  const r = cpu.stop();
  running = false;
  await Promise.race([Promise.all(loops), sleep(11000)]);
  for (const s of socks) s.disconnect();
  r.acks_per_s = acks / r.wall_s;
  r.server_cpu_us_per_ack = (r.server_cpu_pct * 1e4 * r.wall_s) / Math.max(1, acks);
  Object.assign(r, lat.summary());
  return { scenario: "poll", client: "official", clients, errors, ...r };
}

// ---------------------------------------------------------------------------------------
// D. server RSS per idle WebSocket connection.
async function idle() {
  if (!serverPid) fail("--server-pid is required for idle");
  const settleS = num("settle", 3);
  // Warm the server's code paths (connect, event, ack, disconnect) before the baseline.
  {
    const { sockets } = await connectMany(port, 50, null, () => () => {}, 50);
    for (const ws of sockets) ws.send('420["echo",1]');
    await sleep(300);
    for (const ws of sockets) ws.close();
    await sleep(1000);
  }
  const samples = async (n, gapMs) => {
    const v = [];
    for (let i = 0; i < n; i++) {
      v.push(procRssKiB(serverPid));
      if (i < n - 1) await sleep(gapMs);
    }
    return v;
  };
  const before = await samples(3, 300);
  const t0 = performance.now();
  const { sockets, failures } = await connectMany(port, clients, null, () => () => {}, 100, 90000);
  const connectS = (performance.now() - t0) / 1000;
  await sleep(settleS * 1000);
  const after = await samples(3, 500);
  const rssBefore = before[before.length - 1];
  const rssAfter = after[after.length - 1];
  const n = sockets.length;
  for (const ws of sockets) ws.terminate();
  await sleep(500);
  return {
    scenario: "idle",
    clients,
    connected: n,
    connect_failures: failures,
    connect_s: connectS,
    connects_per_s: n / connectS,
    rss_before_kib: rssBefore,
    rss_after_kib: rssAfter,
    rss_samples_after_kib: after,
    bytes_per_connection: ((rssAfter - rssBefore) * 1024) / n,
  };
}

const scenarios = { fanout, echo, poll, idle };
if (!scenarios[scenario]) fail(`unknown scenario ${scenario}`);
scenarios[scenario]()
  .then((r) => {
    console.log("RESULT " + JSON.stringify(r));
    process.exit(0);
  })
  .catch((e) => fail(String(e && e.stack ? e.stack : e)));
