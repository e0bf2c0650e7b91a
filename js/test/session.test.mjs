// The view-counted session: a model's hub socket is open while it has a live view on the
// page (issue: each re-run of a widget cell left another live hub socket for that page).
// Driven like anywidget drives the module: initialize once per model, render per view, the
// returned cleanups when views go and when the model is destroyed.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Sessions, RELEASE_GRACE_MS } from "../src/session.js";
import * as presence from "../src/widgets/presence.js";
import * as inspector from "../src/widgets/inspector.js";
import { FakeModel, fakeIo, manualTimers, tick } from "./fakes.mjs";

const PAGE = { pageConfig: { baseUrl: "/base/", token: "" }, cookie: "_xsrf=abc", origin: "http://h", bodyBaseUrl: undefined };

/** A widget kind that records what it hears, with a view that needs no DOM (Node has none;
 * the real kinds' setups are used below with such a view). */
const probe = {
  setup({ conn }) {
    const state = { ticks: [], views: 0, disposed: false };
    const off = conn.on("tick", (n) => state.ticks.push(n));
    state.dispose = () => {
      off();
      state.disposed = true;
    };
    return state;
  },
  view({ state }) {
    state.views += 1;
    return () => {
      state.views -= 1;
    };
  },
};

/** A page: the module's sessions with a fake io, manual timers and a window of its own. */
function page({ io = fakeIo(), kinds = { probe } } = {}) {
  const timers = manualTimers();
  const window = new EventTarget();
  const unknown = [];
  const sessions = new Sessions({
    kinds,
    unknown: ({ model }) => (unknown.push(model.get("_kind")), () => {}),
    env: { page: PAGE, io: io.io, pageId: "page-1" },
    setTimer: timers.setTimer,
    clearTimer: timers.clearTimer,
    window,
  });
  return { sessions, timers, window, io, unknown };
}

let uids = 0;
function widget(state = {}) {
  return new FakeModel({ _uid: `w${++uids}`, _kind: "probe", rooms: ["study"], _kernel: "k-1", ...state });
}

/** What anywidget does to display a model once: initialize, then render a view. */
function display(sessions, model) {
  const destroy = sessions.initialize(model);
  const remove = sessions.render(model, {});
  return { destroy, remove };
}

test("a model never rendered holds no socket; the first view opens one, more views share it", () => {
  const { sessions, io } = page();
  const model = widget();
  sessions.initialize(model);
  assert.equal(io.made.length, 0);
  const first = sessions.render(model, {});
  const second = sessions.render(model, {});
  assert.equal(io.made.length, 1);
  assert.equal(io.made[0].options.path, "/base/jupyter-sio/socket.io/");
  first();
  assert.equal(io.live().length, 1, "one view is still there");
  second();
});

test("the last view's cleanup closes the socket after the grace period", () => {
  const { sessions, io, timers } = page();
  const model = widget();
  const { remove } = display(sessions, model);
  io.made[0].fire("connect");
  remove();
  assert.equal(io.live().length, 1, "still open during the grace period");
  assert.equal(timers.size, 1);
  timers.fireAll();
  assert.equal(io.live().length, 0);
  assert.equal(model.get("status"), "closed");
  remove(); // a second call of one cleanup changes nothing
  assert.equal(timers.size, 0);
  assert.ok(RELEASE_GRACE_MS > 0 && RELEASE_GRACE_MS <= 1000);
});

test("three re-runs of a cell leave one socket: the old models live on without one", () => {
  const { sessions, io, timers } = page();
  const models = [];
  let shown = display(sessions, (models[0] = widget()));
  for (let run = 1; run <= 3; run++) {
    // JupyterLab clears the output (the old view goes), then shows the new widget; the old
    // model stays alive in the kernel (Out[n] references it), so it is never destroyed
    shown.remove();
    shown = display(sessions, (models[run] = widget()));
    timers.fireAll();
  }
  assert.equal(io.made.length, 4);
  assert.equal(io.live().length, 1);
  assert.equal(io.live()[0], io.made[3]);
  assert.deepEqual(models.map((m) => m.get("status")), ["closed", "closed", "closed", "connecting"]);
});

test("a view re-attached within the grace period keeps the socket", async () => {
  const { sessions, io, timers } = page();
  const model = widget();
  const { remove } = display(sessions, model);
  io.made[0].fire("connect");
  await tick();
  remove();
  const again = sessions.render(model, {}); // JupyterLab re-rendering the output
  assert.equal(timers.size, 0, "the pending release was cancelled");
  timers.fireAll();
  assert.equal(io.made.length, 1);
  assert.equal(io.live().length, 1);
  assert.equal(model.get("status"), "connected · websocket");
  again();
});

test("the widget state survives a release; a later view reconnects and subscribes again", async () => {
  const { sessions, io, timers } = page();
  const model = widget();
  sessions.initialize(model);
  const remove = sessions.render(model, {});
  const socket = io.made[0];
  socket.fire("connect");
  await tick();
  socket.fire("*", "tick", 1);
  remove();
  timers.fireAll();
  assert.ok(socket.disconnected);
  socket.fire("*", "tick", 2); // a closed socket's late event is not delivered

  sessions.render(model, {});
  assert.equal(io.made.length, 2);
  const next = io.made[1];
  next.fire("connect");
  await tick();
  next.fire("*", "tick", 3);
  const state = sessions.sessions.get(model.get("_uid")).state;
  assert.deepEqual(state.ticks, [1, 3]);
  assert.equal(state.views, 1);
  assert.equal(state.disposed, false);
  // the subscribe names the owner kernel and this page, each time
  const subscribes = [...socket.calls, ...next.calls].filter((c) => c[0] === "sio:subscribe");
  assert.deepEqual(subscribes.map((c) => c[1][0]), [
    { rooms: ["study"], kernel: "k-1", page: "page-1" },
    { rooms: ["study"], kernel: "k-1", page: "page-1" },
  ]);
});

test("the subscribe spec leaves out an empty kernel id; traits changed meanwhile are used", async () => {
  const { sessions, io, timers } = page();
  const model = widget({ _kernel: "", _announce: true, name: "Ann" });
  const { remove } = display(sessions, model);
  io.made[0].fire("connect");
  await tick();
  remove();
  timers.fireAll();
  model.set("name", "Annie");
  model.set("rooms", ["lab"]);
  sessions.render(model, {});
  io.made[1].fire("connect");
  await tick();
  assert.deepEqual(
    [...io.made[0].calls, ...io.made[1].calls].map((c) => c[1][0]),
    [
      { rooms: ["study"], announce: true, name: "Ann", page: "page-1" },
      { rooms: ["lab"], announce: true, name: "Annie", page: "page-1" },
    ],
  );
});

test("pagehide closes every socket at once; a page restored from the cache reconnects", () => {
  const { sessions, io, window, timers } = page();
  const a = widget();
  const b = widget();
  display(sessions, a);
  display(sessions, b);
  sessions.initialize(widget()); // never rendered: nothing to close or reopen
  assert.equal(io.live().length, 2);
  window.dispatchEvent(new Event("pagehide"));
  assert.equal(io.live().length, 0);
  assert.equal(timers.size, 0);
  window.dispatchEvent(new Event("pageshow")); // a fresh load: nothing to do
  assert.equal(io.made.length, 2);
  const restored = new Event("pageshow");
  Object.defineProperty(restored, "persisted", { value: true });
  window.dispatchEvent(restored);
  assert.equal(io.live().length, 2);
  assert.equal(io.made.length, 4);
});

test("destroying the model disposes of its state and socket, and stops listening to the page", () => {
  const { sessions, io, window } = page();
  const model = widget();
  const { destroy, remove } = display(sessions, model);
  const state = sessions.sessions.get(model.get("_uid")).state;
  destroy();
  assert.equal(io.live().length, 0);
  assert.equal(state.disposed, true);
  assert.equal(sessions.sessions.size, 0);
  assert.equal(sessions.listening, false);
  remove(); // the view's cleanup after the model's: harmless
  window.dispatchEvent(new Event("pagehide"));
  assert.equal(model.listeners("change:rooms"), 0);
});

test("a front end that skips initialize: the session lives as long as its views", () => {
  const { sessions, io, timers } = page();
  const model = widget();
  const first = sessions.render(model, {});
  const second = sessions.render(model, {});
  assert.equal(io.made.length, 1);
  const state = sessions.sessions.get(model.get("_uid")).state;
  first();
  second();
  timers.fireAll();
  assert.equal(io.live().length, 0);
  assert.equal(state.disposed, true);
  assert.equal(sessions.sessions.size, 0);
});

test("an unknown kind renders its message and opens no connection", () => {
  const { sessions, io, unknown } = page();
  const model = widget({ _kind: "hologram" });
  display(sessions, model);
  assert.deepEqual(unknown, ["hologram"]);
  assert.equal(io.made.length, 0);
});

test("the comm fallback follows the views too: hello on the first, bye after the last", () => {
  const { sessions, io, timers } = page();
  const model = widget({ _transport: "comm" });
  sessions.initialize(model);
  assert.deepEqual(model.sent, [], "no relay for a model never rendered");
  const remove = sessions.render(model, {});
  const again = sessions.render(model, {});
  assert.deepEqual(model.sent.map((m) => m.type), ["hello"]);
  const id = model.sent[0].id;
  remove();
  again();
  timers.fireAll();
  assert.deepEqual(model.sent.at(-1), { type: "bye", id });
  sessions.render(model, {});
  assert.equal(model.sent.at(-1).type, "hello");
  assert.notEqual(model.sent.at(-1).id, id, "a new channel: the relay counts it apart");
  assert.equal(io.made.length, 0);
});

test("presence: a released socket's list is cleared; the next subscribe shows me again", async () => {
  const { sessions, io, timers } = page({ kinds: { presence: { setup: presence.setup, view: () => () => {} } } });
  const model = widget({ _kind: "presence", _announce: true });
  const { remove } = display(sessions, model);
  io.made[0].fire("connect");
  await tick();
  const state = sessions.sessions.get(model.get("_uid")).state;
  io.made[0].fire("*", "sio:presence", { room: "study", sockets: [{ sid: "sid1", user: "ann" }] });
  assert.equal(state.store.get().sockets.length, 1);
  remove();
  timers.fireAll();
  assert.deepEqual(state.store.get().sockets, []);
  sessions.render(model, {});
  io.made[1].fire("connect");
  await tick();
  assert.equal(state.store.get().me, "sid2");
});

test("inspector: polls only while its connection is up", async () => {
  const { sessions, io, timers } = page({ kinds: { inspector: { setup: inspector.setup, view: () => () => {} } } });
  const model = widget({ _kind: "inspector", rooms: [], interval: 60000 });
  sessions.initialize(model);
  const state = sessions.sessions.get(model.get("_uid")).state;
  assert.equal(state.polling, false);
  const remove = sessions.render(model, {});
  io.made[0].fire("connect");
  await tick();
  assert.equal(state.polling, true);
  remove();
  timers.fireAll();
  assert.equal(state.polling, false);
});
