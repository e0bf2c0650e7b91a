// End to end: the *built bundle*'s connection code (socket.io-client inside
// jupyter_sio/widgets/static/widgets.js) against a real jupyter_sio hub (an embedded hub
// started by test/fixtures/hub.py with a kernel peer): subscribe, retained values, live
// metrics, kernel handlers answering acks, polls, presence — over WebSocket and polling —
// and the order replay.js relies on (retained history before the subscribe answer).
//
// Needs the bundle (npm run build) and Python with jupyter_sio importable: $JSIO_PYTHON, else
// ../.venv/bin/python, else python3. Skipped when either is missing.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FakeModel } from "./fakes.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bundle = join(root, "jupyter_sio", "widgets", "static", "widgets.js");
const venvPython = join(root, ".venv", "bin", "python");
const python = process.env.JSIO_PYTHON || (existsSync(venvPython) ? venvPython : "python3");
const skip = existsSync(bundle) ? false : "bundle not built (npm run build)";

let hub; // {proc, info, send(cmd) → Promise<answer>}
let sio; // the bundle's exports

/** Browser globals the bundle's socket.io-client expects: WebSocket and XMLHttpRequest. */
function browserGlobals() {
  // resolved from engine.io-client, which depends on both (no devDependencies needed)
  const require = createRequire(createRequire(import.meta.url).resolve("engine.io-client"));
  if (typeof globalThis.WebSocket === "undefined") globalThis.WebSocket = require("ws");
  if (typeof globalThis.XMLHttpRequest === "undefined") {
    globalThis.XMLHttpRequest = require("xmlhttprequest-ssl");
  }
}

async function startHub() {
  const proc = spawn(python, [join(here, "fixtures", "hub.py")], {
    cwd: root,
    env: { ...process.env, PYTHONPATH: root },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: proc.stdout });
  const waiting = [];
  lines.on("line", (line) => waiting.shift()?.(JSON.parse(line)));
  const next = () =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("hub fixture did not answer")), 20000);
      waiting.push((v) => (clearTimeout(timer), resolve(v)));
    });
  const info = await next();
  return {
    proc,
    info,
    send(cmd) {
      const answer = next();
      proc.stdin.write(JSON.stringify(cmd) + "\n");
      return answer;
    },
  };
}

before(async () => {
  if (skip) return;
  browserGlobals();
  sio = await import(pathToFileURL(bundle).href);
  hub = await startHub();
});

after(async () => {
  if (!hub) return;
  hub.proc.stdin.end(JSON.stringify({ op: "quit" }) + "\n");
  await new Promise((r) => {
    const t = setTimeout(() => (hub.proc.kill(), r()), 5000);
    hub.proc.on("exit", () => (clearTimeout(t), r()));
  });
});

/** A page like JupyterLab's, pointing at the fixture hub (its token: a token-only setup). */
function page() {
  return {
    pageConfig: { baseUrl: "/", token: hub.info.token, jupyterSio: { socketioPath: hub.info.path } },
    cookie: "_xsrf=2|abc|def|1",
    origin: hub.info.origin,
    bodyBaseUrl: undefined,
  };
}

/** Resolve with the first `event` payload matching `pred`. */
function waitFor(conn, event, pred = () => true, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`no ${event} within ${ms} ms`))), ms);
    const off = conn.on(event, (...args) => {
      if (pred(...args)) {
        clearTimeout(timer);
        off();
        resolve(args);
      }
    });
  });
}

function onceLocal(conn, what, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    const off = conn.onLocal(what, (...a) => (clearTimeout(timer), off(), resolve(a)));
  });
}

for (const transports of [["websocket"], ["polling"], ["websocket", "polling"]]) {
  test(`subscribe, retained and live metrics, kernel acks over ${transports.join("+")}`, { skip }, async () => {
    const room = `dash-${transports.join("-")}`;
    await hub.send({ op: "metric", room, key: "cpu", value: 12.5 });
    const model = new FakeModel({ rooms: [room] });
    const conn = sio.openConnection(model, { page: page(), transports });
    try {
      const retained = waitFor(conn, "metric", (m) => m.key === "cpu");
      const [reply] = await onceLocal(conn, "subscribed");
      assert.equal(reply.ok, true);
      assert.deepEqual(reply.rooms, [room]);
      assert.equal(typeof reply.me.sid, "string");
      assert.equal(conn.status.state, "connected");
      assert.equal(conn.status.transport, transports[0]);
      assert.match(sio.statusText(conn.status), new RegExp(`^connected · ${transports[0]}$`));
      const [m] = await retained;
      assert.equal(m.value, 12.5);
      assert.equal(typeof m.t, "number");

      const live = waitFor(conn, "metric", (x) => x.key === "mem");
      await hub.send({ op: "metric", room, key: "mem", value: 3 });
      assert.equal((await live)[0].value, 3);

      const echoed = await conn.call("echo", [1, "two", { three: 3 }], { timeout: 5000 });
      assert.deepEqual(echoed.echo, [1, "two", { three: 3 }]);
      assert.equal(echoed.user, "guest");

      const unhandled = await conn.call("nobody-handles-this", [], { timeout: 5000 });
      assert.equal(unhandled.error, "unhandled");
      assert.equal(model.sent.length, 0, "no comm traffic when the hub is reachable");
    } finally {
      conn.close();
    }
  });
}

test("a poll: retained question, vote with ack, live results", { skip }, async () => {
  const room = "class";
  await hub.send({ op: "poll", room, id: "p1", question: "Tabs or spaces?", options: ["tabs", "spaces"] });
  const a = sio.openConnection(new FakeModel({ rooms: [room] }), { page: page() });
  const b = sio.openConnection(new FakeModel({ rooms: [room] }), { page: page() });
  try {
    const [[poll]] = await Promise.all([waitFor(a, "poll"), waitFor(b, "poll")]);
    assert.deepEqual(poll, { id: "p1", question: "Tabs or spaces?", options: ["tabs", "spaces"], closed: false });
    await onceLocal(a, "subscribed").catch(() => null);
    const seen = waitFor(b, "poll_result", (r) => r.total === 1);
    const answer = await a.call("vote", [{ poll: "p1", choice: 1 }]);
    assert.deepEqual(answer, { ok: true, choice: 1, counts: [0, 1], total: 1 });
    assert.deepEqual((await seen)[0], { id: "p1", counts: [0, 1], total: 1 });
    const bad = await a.call("vote", [{ poll: "p1", choice: 7 }]);
    assert.equal(bad.ok, false);
    assert.deepEqual((await hub.send({ op: "tally", id: "p1" })).tally, { tabs: 0, spaces: 1 });
  } finally {
    a.close();
    b.close();
  }
});

test("presence: announcing members are listed to the room, and leave", { skip }, async () => {
  const room = "lobby";
  const watcher = sio.openConnection(new FakeModel({ rooms: [room], _announce: true, name: "Watcher" }), { page: page() });
  try {
    await onceLocal(watcher, "subscribed");
    const joined = waitFor(watcher, "sio:presence", (p) => p.sockets.some((s) => s.name === "Ann"));
    const ann = sio.openConnection(new FakeModel({ rooms: [room], _announce: true, name: "Ann" }), { page: page() });
    const [p] = await joined;
    assert.equal(p.room, room);
    assert.deepEqual(p.sockets.map((s) => s.name).sort(), ["Ann", "Watcher"]);
    assert.ok(p.sockets.every((s) => s.user === "guest" && typeof s.transport === "string"));
    const left = waitFor(watcher, "sio:presence", (q) => q.sockets.length === 1);
    ann.close();
    assert.deepEqual((await left)[0].sockets.map((s) => s.name), ["Watcher"]);
  } finally {
    watcher.close();
  }
});

test("chat: sio:publish reaches the room, not the sender", { skip }, async () => {
  const room = "chat";
  const a = sio.openConnection(new FakeModel({ rooms: [room] }), { page: page() });
  const b = sio.openConnection(new FakeModel({ rooms: [room] }), { page: page() });
  try {
    await Promise.all([onceLocal(a, "subscribed"), onceLocal(b, "subscribed")]);
    let echoedToSender = false;
    a.on("chat", () => (echoedToSender = true));
    const got = waitFor(b, "chat");
    const msg = { user: "ann", text: "hello", t: 1 };
    const reply = await a.call("sio:publish", [{ event: "chat", args: [msg], to: [room] }]);
    assert.equal(reply.ok, true);
    assert.deepEqual((await got)[0], msg);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(echoedToSender, false);
  } finally {
    a.close();
    b.close();
  }
});

test("a wrong token is refused and the widget falls back to the comm", { skip }, async () => {
  const model = new FakeModel({ rooms: ["x"] });
  const bad = { ...page(), pageConfig: { ...page().pageConfig, token: "wrong" } };
  const info = console.info;
  console.info = () => {};
  try {
    const conn = sio.openConnection(model, { page: bad, transports: ["polling"] });
    for (let i = 0; i < 100 && conn.channel?.kind !== "comm"; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(conn.channel.kind, "comm");
    assert.deepEqual(model.sent[0], { type: "hello", mode: "comm", namespace: "/", id: model.sent[0].id });
    conn.close();
  } finally {
    console.info = info;
  }
});

test(
  "sio:inspect gives hub stats with every connection's buffers (Inspector widget)",
  { skip },
  async () => {
    const conn = sio.openConnection(new FakeModel({ rooms: ["inspected"] }), { page: page() });
    try {
      await onceLocal(conn, "subscribed");
      const stats = await conn.call("sio:inspect", [{}], { timeout: 5000 });
      assert.equal(stats.ok, true);
      assert.ok(stats.connections.some((c) => typeof c.queued === "number" && "dropped" in c && "conflated" in c));
      assert.ok(stats.rooms["/"].inspected >= 1);
      const me = await conn.call("sio:whoami", [], { timeout: 5000 });
      assert.equal(me.ok, true);
      assert.equal(me.sid, conn.me.sid);
    } finally {
      conn.close();
    }
  },
);

for (const transports of [["websocket"], ["polling"]]) {
  test(`retained history is replayed before the subscribe answer, again after a reconnect (${transports})`, { skip }, async () => {
    // What replay.js relies on: the hub writes a room's retained packets (each key's history
    // oldest first, then its current value) when the socket joins, before answering
    // sio:subscribe, so the Connection hears them while `replaying`; live ones after it.
    const room = `history-${transports[0]}`;
    for (const value of [1, 2, 3, 4, 5]) await hub.send({ op: "metric", room, key: "cpu", value });
    const conn = sio.openConnection(new FakeModel({ rooms: [room] }), { page: page(), transports });
    const heard = [];
    conn.on("metric", (m) => heard.push([m.value, conn.replaying]));
    try {
      await onceLocal(conn, "subscribed");
      assert.deepEqual(heard, [1, 2, 3, 4, 5].map((v) => [v, true]));
      const live = waitFor(conn, "metric", (m) => m.value === 6);
      await hub.send({ op: "metric", room, key: "cpu", value: 6 });
      await live;
      assert.deepEqual(heard.at(-1), [6, false]);
      // the transport breaks: socket.io-client reconnects, subscribes again, the hub replays
      heard.length = 0;
      const again = onceLocal(conn, "subscribed", 20000);
      conn.channel.socket.io.engine.close();
      await again;
      assert.deepEqual(heard, [1, 2, 3, 4, 5, 6].map((v) => [v, true]));
    } finally {
      conn.close();
    }
  });
}
