import { test } from "node:test";
import assert from "node:assert/strict";
import { createCommChannel } from "../src/comm.js";
import { FakeModel, manualTimers } from "./fakes.mjs";

function recorder() {
  const log = [];
  return {
    log,
    handlers: {
      event: (e, a) => log.push(["event", e, a]),
      connect: (t) => log.push(["connect", t]),
      disconnect: (r) => log.push(["disconnect", r]),
      error: (e) => log.push(["error", e.message]),
      transport: (t) => log.push(["transport", t]),
    },
  };
}

test("says hello, and turns relay batches into events and status", () => {
  const model = new FakeModel();
  const { log, handlers } = recorder();
  const ch = createCommChannel(model, handlers, { namespace: "/ns", ...manualTimers() });
  const id = model.sent[0].id;
  assert.match(id, /^[a-z0-9]+$/);
  assert.deepEqual(model.sent, [{ type: "hello", mode: "comm", namespace: "/ns", id }]);
  model.receive({
    type: "batch",
    items: [
      { type: "status", connected: true },
      { type: "event", event: "metric", args: [{ key: "a", value: 1 }] },
      { type: "event", event: "log", args: ["x", 2] },
    ],
    dropped: 3,
  });
  assert.deepEqual(log, [
    ["connect", "comm"],
    ["event", "metric", [{ key: "a", value: 1 }]],
    ["event", "log", ["x", 2]],
  ]);
  model.receive({ type: "status", connected: false, reason: "transport close" });
  assert.deepEqual(log.at(-1), ["disconnect", "transport close"]);
  model.receive({ type: "status", connected: false, reason: "refused" });
  assert.deepEqual(log.at(-1), ["error", "refused"]);
  model.receive("junk");
  model.receive({ type: "what" });
  assert.equal(log.length, 5);
  ch.close();
});

test("a relay that could not connect is asked again, backing off", () => {
  const model = new FakeModel();
  const timers = manualTimers();
  const ch = createCommChannel(model, recorder().handlers, { ...timers, retry: 100 });
  const hellos = () => model.sent.filter((m) => m.type === "hello").length;
  model.receive({ type: "status", connected: false, reason: "refused" });
  model.receive({ type: "status", connected: false, reason: "refused" });
  assert.equal(timers.size, 1);
  timers.fireAll();
  assert.equal(hellos(), 2);
  model.receive({ type: "status", connected: true });
  model.receive({ type: "status", connected: false, reason: "transport close" });
  assert.equal(timers.size, 0, "after a connect, the relay reconnects by itself");
  ch.close();
  assert.equal(hellos(), 2);
});

test("call → reply resolves with the ack's first argument; errors reject", async () => {
  const model = new FakeModel();
  const timers = manualTimers();
  const ch = createCommChannel(model, recorder().handlers, timers);
  const p = ch.call("sio:subscribe", [{ rooms: ["r"] }], 5000);
  const sent = model.sent.at(-1);
  assert.equal(sent.type, "call");
  assert.equal(sent.event, "sio:subscribe");
  assert.deepEqual(sent.args, [{ rooms: ["r"] }]);
  assert.equal(sent.timeout, 5);
  assert.match(sent.id, /^[a-z0-9]+:1$/);
  model.receive({ type: "batch", items: [{ type: "reply", id: "someone-else:1", ok: true, args: ["no"] }] });
  model.receive({ type: "batch", items: [{ type: "reply", id: sent.id, ok: true, args: [{ ok: true }, "extra"] }] });
  assert.deepEqual(await p, { ok: true });
  assert.equal(ch.pending, 0);
  assert.equal(timers.size, 0);

  const q = ch.call("vote", [], 5000);
  model.receive({ type: "reply", id: model.sent.at(-1).id, ok: false, error: "AckTimeout: no ack" });
  await assert.rejects(q, /AckTimeout/);
});

test("call times out when no reply comes", async () => {
  const model = new FakeModel();
  const timers = manualTimers();
  const ch = createCommChannel(model, recorder().handlers, timers);
  const p = ch.call("slow", [1], 250);
  assert.equal(ch.pending, 1);
  timers.fireAll();
  await assert.rejects(p, { name: "TimeoutError", message: /slow within 250 ms/ });
  assert.equal(ch.pending, 0);
  // a late reply is ignored
  model.receive({ type: "reply", id: model.sent.at(-1).id, ok: true, args: [1] });
});

test("a lost relay rejects pending calls; close detaches and says bye", async () => {
  const model = new FakeModel();
  const { handlers } = recorder();
  const ch = createCommChannel(model, handlers, manualTimers());
  model.receive({ type: "status", connected: true });
  const p = ch.call("x", [], 1000);
  model.receive({ type: "status", connected: false, reason: "gone" });
  await assert.rejects(p, /relay disconnected: gone/);
  const q = ch.call("y", [], 1000);
  assert.equal(model.listeners("msg:custom"), 1);
  ch.close();
  await assert.rejects(q, /channel closed/);
  assert.equal(model.listeners("msg:custom"), 0);
  // the bye names this channel, as its hello did: the relay counts its front ends
  const bye = { type: "bye", id: model.sent[0].id };
  assert.deepEqual(model.sent.at(-1), bye);
  await assert.rejects(ch.call("z", [], 10), /closed/);
  ch.emit("e", [1]);
  assert.deepEqual(model.sent.at(-1), bye);
});

test("emit sends the event and its args", () => {
  const model = new FakeModel();
  const ch = createCommChannel(model, recorder().handlers);
  ch.emit("sio:publish", [{ event: "chat", args: [{ text: "hi" }], to: ["r"] }]);
  assert.deepEqual(model.sent.at(-1), { type: "emit", event: "sio:publish", args: [{ event: "chat", args: [{ text: "hi" }], to: ["r"] }] });
  ch.close();
});
