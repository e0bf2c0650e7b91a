// Retained values and history, heard again after a reconnect (replay.js): a fresh widget
// takes the whole replay (a reloaded LiveChart rebuilds its recent past), a reconnecting one
// does not show it twice. The Connection marks the replay: between `sio:subscribe` and its
// answer (the hub writes a room's retained packets when the socket joins, before the ack).

import { test } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../src/connection.js";
import { ReplayFilter, isRepeat, signature } from "../src/replay.js";
import * as chart from "../src/widgets/chart.js";
import * as feed from "../src/widgets/feed.js";
import * as metric from "../src/widgets/metric.js";
import * as table from "../src/widgets/table.js";
import { FakeModel, tick } from "./fakes.mjs";

/**
 * A channel whose `sio:subscribe` answer waits until the test has played the room's replay:
 * `join(events)` fires them (as the hub does, before the ack), then answers.
 */
function replayingChannel() {
  let handlers;
  let answer = null;
  const channel = {
    kind: "hub",
    emitted: [],
    emit(event, args) {
      channel.emitted.push([event, args]);
    },
    call(event, args) {
      if (event !== "sio:subscribe") return Promise.resolve({ ok: true });
      return new Promise((resolve) => {
        answer = () => resolve({ ok: true, rooms: args[0].rooms, me: { sid: "s1" } });
      });
    },
    close() {},
  };
  return {
    factory: (h) => ((handlers = h), channel),
    connect: () => handlers.connect("websocket"),
    fire: (event, ...args) => handlers.event(event, args),
    disconnect: () => handlers.disconnect("transport close"),
    /** the hub's join: replayed packets, then the answer */
    async join(events) {
      await tick();
      assert.ok(answer, "subscribe was sent");
      for (const [event, ...args] of events) handlers.event(event, args);
      const done = answer;
      answer = null;
      done();
      await tick();
    },
  };
}

/** Reconnect (a network blip): the channel reports connect again, the hub replays. */
async function reconnect(ch, replay) {
  ch.disconnect();
  ch.connect();
  await ch.join(replay);
}

const point = (key, t, value = t) => ["metric", { key, value, t }];

test("isRepeat: only while replaying, only values not newer than the newest", () => {
  assert.equal(isRepeat(true, 5, 5), true);
  assert.equal(isRepeat(true, 4, 5), true);
  assert.equal(isRepeat(true, 6, 5), false);
  assert.equal(isRepeat(false, 4, 5), false); // live values always count (a restarted clock)
  assert.equal(isRepeat(true, 4, undefined), false); // nothing held yet
  assert.equal(isRepeat(true, undefined, 5), false);
});

test("ReplayFilter: each held item absorbs one equal replayed event", () => {
  const f = new ReplayFilter();
  f.begin([{ event: "news", args: [{ text: "a" }] }, { event: "news", args: [{ text: "a" }] }]);
  assert.equal(f.repeat(false, "news", [{ text: "a" }]), false); // not a replay
  assert.equal(f.repeat(true, "news", [{ text: "b" }]), false);
  assert.equal(f.repeat(true, "news", [{ text: "a" }]), true);
  assert.equal(f.repeat(true, "news", [{ text: "a" }]), true);
  assert.equal(f.repeat(true, "news", [{ text: "a" }]), false); // a third one is new
  assert.equal(signature("x", [1n]), "x\u00001"); // not JSON: still comparable
});

test("connection: replaying between sio:subscribe and its answer, on the current channel", async () => {
  const conn = new Connection({ rooms: ["dash"] });
  const ch = replayingChannel();
  const seen = [];
  conn.on("metric", () => seen.push(conn.replaying));
  const replays = [];
  conn.onLocal("replay", (r) => replays.push(r));
  conn.attach("hub", ch.factory);
  assert.equal(conn.replaying, false);
  ch.connect();
  await ch.join([point("cpu", 1)]);
  ch.fire(...point("cpu", 2));
  assert.deepEqual(seen, [true, false]);
  assert.deepEqual(replays, [{ rooms: ["dash"] }]);
  // a reconnect replays again, until its answer; a detached channel leaves no mark
  ch.disconnect();
  ch.connect();
  await tick();
  assert.equal(conn.replaying, true);
  conn.detach();
  assert.equal(conn.replaying, false);
});

test("chart: a fresh chart takes the whole history; a reconnect adds only newer points", async () => {
  const model = new FakeModel({ series: [], window: 100 });
  const conn = new Connection({ rooms: ["dash"] });
  const state = chart.setup({ model, conn });
  const ch = replayingChannel();
  conn.attach("hub", ch.factory);
  ch.connect();
  const history = [1, 2, 3, 4].map((t) => point("cpu", t));
  await ch.join(history);
  assert.equal(state.store.get().points, 4);
  // reconnect: the hub replays its history plus one value sent during the blip
  await reconnect(ch, [...history, point("cpu", 5)]);
  const ring = state.store.get().series.get("cpu");
  assert.deepEqual(ring.toArray().map(([x]) => x), [1, 2, 3, 4, 5]);
  // live values always count, even from a clock that went back (a restarted producer)
  ch.fire(...point("cpu", 0.5));
  assert.equal(state.store.get().points, 6);
  state.dispose();
});

test("chart: history replayed on the first subscribe fills the chart (a reload)", async () => {
  const model = new FakeModel({ series: ["cpu"], window: 3000 });
  const conn = new Connection({ rooms: ["dash"] });
  const state = chart.setup({ model, conn });
  const ch = replayingChannel();
  conn.attach("hub", ch.factory);
  ch.connect();
  await ch.join(Array.from({ length: 200 }, (_, i) => point("cpu", 1000 + i)));
  assert.equal(state.store.get().points, 200);
  await reconnect(ch, Array.from({ length: 200 }, (_, i) => point("cpu", 1000 + i)));
  assert.equal(state.store.get().points, 200);
});

test("metric card and table: a reconnect's replay is not counted again", async () => {
  const conn = new Connection({ rooms: ["dash"] });
  const card = metric.setup({ model: new FakeModel({ key: "cpu", history: 30 }), conn });
  const rows = table.setup({ model: new FakeModel({ max_rows: 10 }), conn });
  const ch = replayingChannel();
  conn.attach("hub", ch.factory);
  ch.connect();
  const replay = [point("cpu", 1, 10), point("cpu", 2, 20), point("mem", 2, 5)];
  await ch.join(replay);
  assert.deepEqual([card.store.get().count, card.store.get().value], [2, 20]);
  await reconnect(ch, [...replay, point("cpu", 3, 30)]);
  assert.deepEqual(card.store.get().history, [10, 20, 30]);
  assert.equal(rows.store.get().rows.get("cpu").count, 3);
  assert.equal(rows.store.get().rows.get("mem").count, 1);
  assert.equal(rows.store.get().rows.get("cpu").value, 30);
});

test("feed: retained news replayed at a reconnect are not shown twice; new ones are", async () => {
  const model = new FakeModel({ events: ["news"], max_items: 50 });
  const conn = new Connection({ rooms: ["lobby"] });
  const state = feed.setup({ model, conn });
  const ch = replayingChannel();
  conn.attach("hub", ch.factory);
  ch.connect();
  const news = [0, 1, 2].map((n) => ["news", { text: `hello #${n}` }]);
  await ch.join(news);
  ch.fire("news", { text: "live" });
  assert.deepEqual(texts(state), ["hello #0", "hello #1", "hello #2", "live"]);
  await reconnect(ch, [...news, ["news", { text: "while away" }]]);
  assert.deepEqual(texts(state), ["hello #0", "hello #1", "hello #2", "live", "while away"]);
  // after the replay, an equal live event is news again
  ch.fire("news", { text: "hello #0" });
  assert.equal(texts(state).at(-1), "hello #0");
  state.dispose();
});

test("feed: an item's time is its payload's t when it has one (replayed history)", () => {
  assert.equal(feed.itemTime([{ t: 1700000000 }], 5), 1700000000);
  assert.equal(feed.itemTime([{ text: "x" }], 5), 5);
  assert.equal(feed.itemTime(["x"], 5), 5);
  assert.equal(feed.itemTime([{ t: "soon" }], 5), 5);
});

/** @param {any} state */
function texts(state) {
  return state.store.get().items.map((i) => i.args[0].text);
}

