import { test } from "node:test";
import assert from "node:assert/strict";
import { batcher, coalesce } from "../src/schedule.js";

function fakeFrames() {
  const queue = new Map();
  let next = 1;
  return {
    raf: (cb) => {
      queue.set(next, cb);
      return next++;
    },
    caf: (h) => queue.delete(h),
    tick() {
      const cbs = [...queue.values()];
      queue.clear();
      cbs.forEach((cb) => cb(0));
    },
    get size() {
      return queue.size;
    },
  };
}

test("coalesce: many requests, one run per frame", () => {
  const frames = fakeFrames();
  let runs = 0;
  const job = coalesce(() => runs++, frames);
  for (let i = 0; i < 100; i++) job.request();
  assert.equal(frames.size, 1);
  frames.tick();
  assert.equal(runs, 1);
  job.request();
  frames.tick();
  assert.equal(runs, 2);
  frames.tick();
  assert.equal(runs, 2);
});

test("coalesce: flush runs now, cancel stops", () => {
  const frames = fakeFrames();
  let runs = 0;
  const job = coalesce(() => runs++, frames);
  job.request();
  job.flush();
  assert.equal(runs, 1);
  assert.equal(frames.size, 0);
  job.request();
  job.cancel();
  frames.tick();
  job.request();
  assert.equal(runs, 1);
  assert.equal(frames.size, 0);
});

function fakeTimers() {
  let now = 0;
  const timers = [];
  return {
    now: () => now,
    setTimer: (cb, ms) => {
      const t = { at: now + ms, cb, live: true };
      timers.push(t);
      return t;
    },
    clearTimer: (t) => (t.live = false),
    advance(ms) {
      now += ms;
      for (const t of timers.filter((t) => t.live && t.at <= now)) {
        t.live = false;
        t.cb();
      }
    },
  };
}

test("batcher: first item goes at once, then at most one batch per interval", () => {
  const clock = fakeTimers();
  const sent = [];
  const b = batcher((items, dropped) => sent.push({ items, dropped }), { interval: 100, ...clock });
  b.add(1);
  clock.advance(0);
  assert.deepEqual(sent, [{ items: [1], dropped: 0 }]);
  b.add(2);
  b.add(3);
  clock.advance(50);
  assert.equal(sent.length, 1);
  clock.advance(50);
  assert.deepEqual(sent[1], { items: [2, 3], dropped: 0 });
  // 1000 items over one second → about 10 messages, not 1000
  for (let i = 0; i < 1000; i++) {
    b.add(i);
    clock.advance(1);
  }
  clock.advance(200);
  assert.ok(sent.length <= 2 + 11, `sent ${sent.length} batches`);
  assert.equal(sent.slice(2).reduce((n, s) => n + s.items.length, 0), 1000);
});

test("batcher: bounded backlog drops the oldest and counts", () => {
  const clock = fakeTimers();
  const sent = [];
  const b = batcher((items, dropped) => sent.push({ items, dropped }), { interval: 100, maxItems: 3, ...clock });
  b.add("a");
  clock.advance(0);
  for (const x of ["b", "c", "d", "e", "f"]) b.add(x);
  clock.advance(100);
  assert.deepEqual(sent[1], { items: ["d", "e", "f"], dropped: 2 });
  b.add("g");
  b.flush();
  assert.deepEqual(sent[2], { items: ["g"], dropped: 0 });
  b.add("h");
  b.close();
  clock.advance(1000);
  assert.equal(sent.length, 3);
});
