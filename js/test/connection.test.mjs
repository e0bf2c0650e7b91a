import { test } from "node:test";
import assert from "node:assert/strict";
import { Connection, openConnection, statusText } from "../src/connection.js";
import { hubOptions } from "../src/hub.js";
import { FakeModel, fakeIo, tick } from "./fakes.mjs";

/** A channel whose server side the test drives. */
function fakeChannel(kind = "hub") {
  const ch = {
    kind,
    handlers: null,
    calls: [],
    emits: [],
    closed: false,
    answers: { "sio:subscribe": (spec) => ({ ok: true, rooms: spec.rooms, me: { sid: "s1", user: "ann", name: spec.name ?? "ann" } }) },
    emit(event, args) {
      ch.emits.push([event, args]);
    },
    call(event, args, timeout) {
      ch.calls.push([event, args, timeout]);
      const answer = ch.answers[event];
      return answer ? Promise.resolve(answer(...args)) : Promise.reject(new Error("no answer"));
    },
    close() {
      ch.closed = true;
    },
  };
  return ch;
}

function attached(options, kind) {
  const conn = new Connection(options);
  const ch = fakeChannel(kind);
  conn.attach(kind ?? "hub", (h) => {
    ch.handlers = h;
    return ch;
  });
  return { conn, ch };
}

test("subscribes to the rooms on every (re)connect, with announce and name", async () => {
  const { conn, ch } = attached({ rooms: ["a", "b"], announce: true, name: "Ann" });
  const subscribed = [];
  conn.onLocal("subscribed", (r) => subscribed.push(r));
  ch.handlers.connect("websocket");
  await tick();
  assert.deepEqual(ch.calls[0].slice(0, 2), ["sio:subscribe", [{ rooms: ["a", "b"], announce: true, name: "Ann" }]]);
  assert.equal(ch.calls[0][2], 10000);
  assert.equal(conn.me.sid, "s1");
  ch.handlers.disconnect("transport close");
  assert.equal(conn.status.state, "disconnected");
  ch.handlers.connect("polling");
  await tick();
  assert.equal(ch.calls.filter((c) => c[0] === "sio:subscribe").length, 2);
  assert.equal(subscribed.length, 2);
  assert.equal(statusText(conn.status), "connected · polling");
  ch.handlers.transport("websocket");
  assert.equal(statusText(conn.status), "connected · websocket");
});

test("no rooms: no subscribe; events reach listeners until off", async () => {
  const { conn, ch } = attached({ rooms: [] });
  ch.handlers.connect("websocket");
  await tick();
  assert.equal(ch.calls.length, 0);
  const got = [];
  const off = conn.on("metric", (...a) => got.push(a));
  ch.handlers.event("metric", [{ key: "k" }, 2]);
  off();
  ch.handlers.event("metric", [{ key: "k" }]);
  assert.deepEqual(got, [[{ key: "k" }, 2]]);
});

test("a refused subscribe is reported in the status, not thrown", async () => {
  const { conn, ch } = attached({ rooms: ["x"] });
  ch.answers["sio:subscribe"] = () => ({ ok: false, error: "forbidden: subscribing needs read permission" });
  const errors = [];
  conn.onLocal("subscribe_error", (e) => errors.push(e));
  ch.handlers.connect("websocket");
  await tick();
  assert.deepEqual(errors, ["forbidden: subscribing needs read permission"]);
  assert.match(conn.status.error, /forbidden/);
});

test("setRooms unsubscribes the old and subscribes the new", async () => {
  const { conn, ch } = attached({ rooms: ["a", "b"] });
  ch.answers["sio:unsubscribe"] = () => ({ ok: true });
  ch.handlers.connect("websocket");
  await tick();
  await conn.setRooms(["b", "c"]);
  assert.deepEqual(ch.calls.slice(1).map((c) => c.slice(0, 2)), [
    ["sio:unsubscribe", [{ rooms: ["a"] }]],
    ["sio:subscribe", [{ rooms: ["c"] }]],
  ]);
});

test("emit/call go through the channel; close stops everything", async () => {
  const { conn, ch } = attached({ rooms: [] });
  ch.answers.echo = (x) => x;
  conn.emit("sio:publish", { event: "chat" });
  assert.deepEqual(ch.emits, [["sio:publish", [{ event: "chat" }]]]);
  assert.equal(await conn.call("echo", [5], { timeout: 50 }), 5);
  assert.equal(ch.calls.at(-1)[2], 50);
  conn.close();
  assert.ok(ch.closed);
  assert.equal(statusText(conn.status), "closed");
  await assert.rejects(conn.call("echo", [1]), /not connected/);
});

test("detach closes the channel but keeps the listeners; a new channel subscribes again", async () => {
  const { conn, ch } = attached({ rooms: ["a"], kernel: "k-9", page: "p-1" });
  const got = [];
  const downs = [];
  conn.on("e", (x) => got.push(x));
  conn.onLocal("disconnect", (reason) => downs.push(reason));
  ch.handlers.connect("websocket");
  await tick();
  assert.deepEqual(ch.calls[0][1], [{ rooms: ["a"], kernel: "k-9", page: "p-1" }]);
  conn.detach();
  assert.ok(ch.closed);
  assert.equal(conn.channel, null);
  assert.equal(statusText(conn.status), "closed");
  assert.deepEqual(downs, ["released"]);
  ch.handlers.event("e", [1]); // the old channel is not heard
  ch.handlers.connect("websocket");
  await tick();
  assert.equal(ch.calls.length, 1);
  conn.detach(); // no channel: nothing happens
  assert.deepEqual(downs, ["released"]);
  await assert.rejects(conn.call("x"), /not connected/);
  const next = fakeChannel();
  conn.attach("hub", (h) => ((next.handlers = h), next));
  next.handlers.connect("websocket");
  next.handlers.event("e", [2]);
  await tick();
  assert.deepEqual(got, [2]);
  assert.equal(next.calls[0][0], "sio:subscribe");
  assert.equal(conn.connects, 2);
});

test("a channel detached before its connect settles does not report connected", async () => {
  const { conn, ch } = attached({ rooms: ["a"] });
  const connects = [];
  conn.onLocal("connect", (n) => connects.push(n));
  ch.handlers.connect("websocket");
  conn.detach();
  await tick();
  assert.equal(statusText(conn.status), "closed");
  assert.deepEqual(connects, []);
  assert.equal(ch.calls.length, 0);
});

test("callbacks of a replaced channel are ignored", async () => {
  const conn = new Connection({ rooms: [] });
  const first = fakeChannel();
  conn.attach("hub", (h) => ((first.handlers = h), first));
  const second = fakeChannel("comm");
  conn.attach("comm", (h) => ((second.handlers = h), second));
  assert.ok(first.closed);
  const got = [];
  conn.on("e", (x) => got.push(x));
  first.handlers.event("e", [1]);
  second.handlers.event("e", [2]);
  assert.deepEqual(got, [2]);
  second.handlers.connect("comm");
  await tick();
  assert.equal(statusText(conn.status), "comm");
});

test("statusText", () => {
  assert.equal(statusText({ state: "connecting", channel: "hub", transport: "", error: "" }), "connecting");
  assert.equal(statusText({ state: "connecting", channel: "comm", transport: "", error: "" }), "connecting · comm");
  assert.equal(statusText({ state: "disconnected", channel: "hub", transport: "", error: "x" }), "disconnected");
});

test("hubOptions: path, transports, XSRF header, token only when given", () => {
  const a = hubOptions({ origin: "http://h:1", path: "/b/jupyter-sio/socket.io/", headers: { "X-XSRFToken": "x" } });
  assert.equal(a.url, "http://h:1");
  assert.equal(a.options.path, "/b/jupyter-sio/socket.io/");
  assert.deepEqual(a.options.transports, ["websocket", "polling"]);
  assert.equal(a.options.tryAllTransports, true);
  assert.deepEqual(a.options.extraHeaders, { "X-XSRFToken": "x" });
  assert.equal(a.options.query, undefined);
  const b = hubOptions({ origin: "http://h", path: "/s/", namespace: "/dash", headers: {}, token: "t", transports: ["polling"] });
  assert.equal(b.url, "http://h/dash");
  assert.deepEqual(b.options.query, { token: "t" });
  assert.deepEqual(b.options.transports, ["polling"]);
});

const PAGE = { pageConfig: { baseUrl: "/base/", token: "" }, cookie: "_xsrf=abc", origin: "http://h", bodyBaseUrl: undefined };

test("openConnection: the hub from page config, with the XSRF header", async () => {
  const { io, made } = fakeIo();
  const model = new FakeModel({ rooms: ["dash"] });
  const conn = openConnection(model, { page: PAGE, io });
  assert.equal(made.length, 1);
  assert.equal(made[0].url, "http://h");
  assert.equal(made[0].options.path, "/base/jupyter-sio/socket.io/");
  assert.deepEqual(made[0].options.extraHeaders, { "X-XSRFToken": "abc" });
  made[0].fire("connect");
  await tick();
  assert.equal(statusText(conn.status), "connected · websocket");
  made[0].io.fire("reconnect_attempt");
  assert.deepEqual(made[0].io.opts.extraHeaders, { "X-XSRFToken": "abc" });
  assert.equal(model.sent.length, 0); // no comm traffic in hub mode
  conn.close();
  assert.ok(made[0].disconnected);
});

test("openConnection: falls back to the comm when the hub fails before connecting", () => {
  const { io, made } = fakeIo();
  const model = new FakeModel({ rooms: ["dash"] });
  const info = console.info;
  console.info = () => {};
  try {
    const conn = openConnection(model, { page: PAGE, io });
    made[0].fire("connect_error", new Error("xhr poll error"));
    assert.ok(made[0].disconnected);
    assert.equal(conn.channel.kind, "comm");
    assert.deepEqual(model.sent, [{ type: "hello", mode: "comm", namespace: "/", id: model.sent[0].id }]);
    conn.close();
  } finally {
    console.info = info;
  }
});

test("openConnection: after a first connect, errors do not switch to the comm", () => {
  const { io, made } = fakeIo();
  const model = new FakeModel({ rooms: [] });
  const conn = openConnection(model, { page: PAGE, io });
  made[0].fire("connect");
  made[0].fire("disconnect", "transport close");
  made[0].fire("connect_error", new Error("down"));
  assert.equal(conn.channel.kind, "hub");
  assert.equal(statusText(conn.status), "disconnected");
  conn.close();
});

test("openConnection: comm when forced or when the page has no hint", () => {
  const { io, made } = fakeIo();
  const forced = new FakeModel({ _transport: "comm" });
  openConnection(forced, { page: PAGE, io }).close();
  const nowhere = new FakeModel();
  openConnection(nowhere, { page: { pageConfig: null, cookie: "", origin: "vscode-webview://x" }, io }).close();
  assert.equal(made.length, 0);
  assert.equal(forced.sent[0].type, "hello");
  assert.equal(nowhere.sent[0].type, "hello");
});

test("a recovered connect subscribes again without a replay: nothing counts as a repeat", async () => {
  const { conn, ch } = attached({ rooms: ["a"] });
  const replays = [];
  conn.onLocal("replay", (r) => replays.push(r));
  ch.handlers.connect("websocket");
  await tick();
  assert.equal(replays.length, 1);
  ch.handlers.disconnect("transport close");
  let replayingDuringSubscribe = null;
  ch.answers["sio:subscribe"] = (spec) => {
    replayingDuringSubscribe = conn.replaying;
    return { ok: true, rooms: spec.rooms };
  };
  ch.handlers.connect("websocket", true);
  await tick();
  assert.equal(ch.calls.filter((c) => c[0] === "sio:subscribe").length, 2);
  assert.equal(replays.length, 1); // no "replay" for a recovered session
  assert.equal(replayingDuringSubscribe, false);
  assert.equal(statusText(conn.status), "connected · websocket · recovered");
  ch.handlers.connect("websocket", false); // a fresh session later: replay again
  await tick();
  assert.equal(replays.length, 2);
  assert.equal(statusText(conn.status), "connected · websocket");
});
