import { test } from "node:test";
import assert from "node:assert/strict";
import { applyMetric } from "../src/widgets/metric.js";
import { applyRow } from "../src/widgets/table.js";
import { applyPoint, domain, niceTicks, timeTicks } from "../src/widgets/chart.js";
import { feedText, itemPlan, pushItem } from "../src/widgets/feed.js";
import { groupMembers } from "../src/widgets/presence.js";
import { addMessage, incoming, myName, outgoing, MAX_TEXT } from "../src/widgets/chat.js";
import { applyPoll, applyResult, currentCounts, emptyPoll, percent } from "../src/widgets/poll.js";
import { summarize } from "../src/widgets/inspector.js";
import * as metric from "../src/widgets/metric.js";
import { Connection } from "../src/connection.js";
import { FakeModel } from "./fakes.mjs";

test("metric: only its key, bounded history of numbers", () => {
  const s = { value: undefined, t: undefined, history: [], count: 0 };
  assert.equal(applyMetric(s, { key: "mem", value: 1 }, "cpu", 3), false);
  assert.equal(applyMetric(s, null, "cpu", 3), false);
  for (const v of [1, 2, 3, 4]) applyMetric(s, { key: "cpu", value: v, t: 10 + v }, "cpu", 3);
  applyMetric(s, { key: "cpu", value: "n/a" }, "cpu", 3);
  assert.deepEqual(s.history, [2, 3, 4]);
  assert.equal(s.value, "n/a");
  assert.equal(s.count, 5);
  assert.equal(typeof s.t, "number");
});

test("metric setup: events for the model's key update the shared store", () => {
  const model = new FakeModel({ key: "cpu", history: 5 });
  const conn = new Connection({ rooms: [] });
  const state = metric.setup({ model, conn });
  let notified = 0;
  state.store.subscribe(() => notified++);
  conn.events.fire("metric", [{ key: "cpu", value: 0.5, t: 1 }]);
  conn.events.fire("metric", [{ key: "mem", value: 9, t: 1 }]);
  assert.equal(state.store.get().value, 0.5);
  assert.equal(notified, 1);
  model.set("key", "mem");
  assert.equal(state.store.get().count, 0);
  state.dispose();
  conn.events.fire("metric", [{ key: "mem", value: 9, t: 1 }]);
  assert.equal(state.store.get().count, 0);
});

test("table: latest value per key, dirty keys, row cap", () => {
  const s = { rows: new Map(), dirty: new Set() };
  applyRow(s, { key: "a", value: 1, t: 1 });
  applyRow(s, { key: "a", value: 2, t: 2 });
  applyRow(s, { key: "b", value: "x", t: 3 }, 2);
  assert.equal(applyRow(s, { key: "c", value: 0 }, 2), false);
  assert.equal(applyRow(s, { value: 0 }), false);
  assert.deepEqual(s.rows.get("a"), { value: 2, t: 2, count: 2 });
  assert.deepEqual([...s.dirty], ["a", "b"]);
});

test("chart: numeric points per key, key filter, ring window", () => {
  const s = { series: new Map(), order: [], points: 0 };
  for (let i = 0; i < 10; i++) applyPoint(s, { key: "cpu", value: i, t: i }, null, 4);
  assert.equal(applyPoint(s, { key: "cpu", value: "x", t: 1 }, null, 4), false);
  assert.equal(applyPoint(s, { key: "mem", value: 1, t: 1 }, ["cpu"], 4), false);
  assert.equal(applyPoint(s, { key: "gpu", value: 1, t: 1 }, null, 4, 1), false);
  assert.equal(s.series.get("cpu").length, 4);
  assert.equal(s.points, 10);
  assert.deepEqual(domain(s.series.values()), { x0: 6, x1: 9, y0: 6 - 0.15, y1: 9 + 0.15 });
  assert.equal(domain([]), null);
});

test("chart: nice ticks", () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0.13, 0.92, 4), [0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(niceTicks(-1, 1, 2), [-1, 0, 1]);
  assert.deepEqual(niceTicks(5, 5), []);
  assert.deepEqual(niceTicks(5, 95, 4), [20, 40, 60, 80]); // not just [50]
  assert.ok(niceTicks(1700000000, 1700000060, 4).every((v) => v % 10 === 0));
  assert.deepEqual(timeTicks(1700000000.2, 1700000002.7, 5), [1700000001, 1700000002]);
  assert.deepEqual(timeTicks(1700000000.2, 1700000000.7, 5), []);
});

test("feed: bounded items, plans for display bundles and log text", () => {
  const s = { items: [], seq: 0 };
  for (let i = 0; i < 5; i++) pushItem(s, "log", [`line ${i}`], 3, 100);
  assert.deepEqual(s.items.map((i) => i.seq), [3, 4, 5]);
  assert.deepEqual(itemPlan("display", [{ data: { "text/html": "<b>x</b>" }, metadata: {} }]), { kind: "html", html: "<b>x</b>" });
  assert.deepEqual(itemPlan("log", ["hello", { n: 1 }]), { kind: "text", text: 'hello {"n":1}', mime: "text/plain" });
  assert.equal(itemPlan("other", [{ data: { "text/plain": "p" } }]).text, "p");
  assert.equal(feedText([{ message: "m" }, { text: "t" }, 3, null]), "m t 3 null");
});

test("presence: one row per person, me first, tab counts", () => {
  const rows = groupMembers(
    [
      { sid: "1", user: "bob", display_name: "Bob", name: "Bob", transport: "websocket" },
      { sid: "2", user: "ann", display_name: "Ann", name: "Ann", transport: "polling" },
      { sid: "3", user: "bob", display_name: "Bob", name: "Bob", transport: "polling" },
      { sid: "4", user: "cat", display_name: "", name: "" },
      null,
    ],
    "3",
  );
  assert.deepEqual(rows.map((r) => [r.label, r.sids.length, r.me]), [["Bob", 2, true], ["Ann", 1, false], ["cat", 1, false]]);
  assert.deepEqual(rows[0].transports, ["websocket", "polling"]);
  assert.deepEqual(groupMembers(undefined, null), []);
});

test("presence: sockets of one page count once (two Presence widgets of a room on a page)", () => {
  const rows = groupMembers(
    [
      { sid: "1", user: "ann", name: "Ann", page: "p1" },
      { sid: "2", user: "ann", name: "Ann", page: "p1" },
      { sid: "3", user: "ann", name: "Ann", page: "p2" },
      { sid: "4", user: "bob", name: "Bob", page: "p1" },
      { sid: "5", user: "bob", name: "Bob" },
    ],
    "2",
  );
  assert.deepEqual(rows.map((r) => [r.label, r.sids.length, r.pages.length, r.me]), [
    ["Ann", 3, 2, true],
    ["Bob", 2, 2, false],
  ]);
});

test("chat: names, validation, bounded history", () => {
  assert.equal(myName({ user: "ann", display_name: "Ann A", name: "Annie" }, ""), "Annie");
  assert.equal(myName({ user: "ann", display_name: "Ann A" }, ""), "Ann A");
  assert.equal(myName(null, "Zed"), "Zed");
  assert.equal(myName(null, ""), "me");
  assert.equal(outgoing("a", "   ", 1), null);
  assert.deepEqual(outgoing("a", " hi ", 1), { user: "a", text: "hi", t: 1 });
  assert.equal(outgoing("a", "x".repeat(MAX_TEXT + 10), 1).text.length, MAX_TEXT);
  assert.equal(incoming({ user: 1 }), null);
  assert.deepEqual(incoming({ text: "yo", t: 5 }), { user: "anonymous", text: "yo", t: 5 });
  const s = { messages: [], seq: 0 };
  for (let i = 0; i < 4; i++) addMessage(s, { user: "a", text: String(i), t: i, own: false, state: "received" }, 2);
  assert.deepEqual(s.messages.map((m) => [m.id, m.text]), [[3, "2"], [4, "3"]]);
});

test("poll: new poll resets the vote, results per poll, percentages", () => {
  const s = emptyPoll();
  assert.equal(applyPoll(s, { id: "p1" }), false);
  applyPoll(s, { id: "p1", question: "Q?", options: ["a", "b", "c"] });
  s.voted = 1;
  applyResult(s, { id: "p1", counts: [1, 2, 1], total: 4 });
  assert.deepEqual(currentCounts(s), { counts: [1, 2, 1], total: 4 });
  applyPoll(s, { id: "p1", question: "Q?", options: ["a", "b", "c"], closed: true });
  assert.equal(s.voted, 1);
  assert.equal(s.poll.closed, true);
  applyPoll(s, { id: "p2", question: "R?", options: ["x", "y"] });
  assert.equal(s.voted, null);
  assert.deepEqual(currentCounts(s), { counts: [0, 0], total: 0 });
  applyResult(s, { id: "p2", counts: [3, "1"] });
  assert.deepEqual(currentCounts(s), { counts: [3, 1], total: 4 });
  assert.equal(percent(1, 3), 33);
  assert.equal(percent(0, 0), 0);
});

test("inspector: counts, transports, rooms and rates from deltas", () => {
  const prev = {
    clients: 2,
    namespaces: { "/": { sockets: 2, rooms: 1, deliveries: 100, retained: 1 } },
    connections: [{ sid: "a", transport: "websocket", dropped: 0 }],
  };
  const next = {
    clients: 3,
    namespaces: { "/": { sockets: 3, rooms: 1, deliveries: 300, retained: 1 } },
    rooms: { "/": { dash: 2, chat: 1 } },
    connections: [
      { sid: "a", transport: "websocket", queued: 5, dropped: 10, conflated: 2, user: "ann", display_name: "Ann" },
      { sid: "b", transport: "polling", queued: 0, dropped: 0, conflated: 0, user: "bob" },
      { sid: "k", transport: "websocket", kernel: "1234567890", user: "kernel" },
    ],
  };
  const s = summarize(next, prev, 2);
  assert.equal(s.clients, 3);
  assert.equal(s.kernels, 1);
  assert.equal(s.browsers, 2);
  assert.deepEqual(s.transports, { websocket: 2, polling: 1 });
  assert.deepEqual(s.rooms.map((r) => [r.room, r.members]), [["chat", 1], ["dash", 2]]);
  assert.equal(s.rates["/"], 100);
  assert.equal(s.rate, 100);
  assert.deepEqual(s.connections.map((c) => [c.who, c.kind, c.droppedRate]), [["Ann", "client", 5], ["bob", "client", 0], ["kernel 12345678", "kernel", 0]]);
  assert.equal(summarize(next, null, 0).rate, 0);
  assert.deepEqual(s.adapter, { kind: "memory", state: "connected" });
  const degraded = summarize({ ...next, adapter: { kind: "redis", state: "reconnecting" } }, null, 0);
  assert.equal(degraded.adapter.state, "reconnecting");
});
