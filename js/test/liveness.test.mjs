// After a kernel restart a widget view says that its Python object is gone, what still works
// and how to get a fresh widget (liveness.js), instead of ipywidgets' bare broken-link icon.
// JupyterLab's widget manager marks the old kernel's models dead (`comm_live = false`, event
// "comm_live_update"); anywidget passes the view as the listener's context.

import { test } from "node:test";
import assert from "node:assert/strict";
import { DISCONNECTED_CLASS, RERUN, goneNotice, modelGone, watchModel } from "../src/liveness.js";
import { FakeModel } from "./fakes.mjs";

/** An element with a class list, and a MutationObserver double that the test triggers. */
function host() {
  const classes = new Set(["lm-Widget"]);
  const observers = [];
  class Observer {
    constructor(cb) {
      this.cb = cb;
      this.observing = false;
      observers.push(this);
    }
    observe(el, options) {
      assert.deepEqual(options.attributeFilter, ["class"]);
      this.observing = true;
    }
    disconnect() {
      this.observing = false;
    }
  }
  const el = { classList: { contains: (c) => classes.has(c) } };
  return {
    el,
    env: { MutationObserver: Observer },
    /** ipywidgets marks (or unmarks) the element */
    mark(on) {
      if (on) classes.add(DISCONNECTED_CLASS);
      else classes.delete(DISCONNECTED_CLASS);
      observers.filter((o) => o.observing).forEach((o) => o.cb([]));
    },
    observers,
  };
}

/** What anywidget's proxy does: listeners run with the view (and its model) as `this`. */
function proxied(model, view) {
  return {
    get: (k) => model.get(k),
    on: (name, cb) => model.on(name, cb.bind(view)),
    off: (name) => model.off(name),
  };
}

test("the comm_live_update event, read from the view's model, says gone and back", () => {
  const model = new FakeModel();
  const view = { model: { comm_live: true } };
  const { el, env } = host();
  const seen = [];
  const stop = watchModel(el, proxied(model, view), (gone) => seen.push(gone), env);
  assert.deepEqual(seen, [false]);
  view.model.comm_live = false; // the kernel restarted
  model.trigger("comm_live_update");
  model.trigger("comm_live_update"); // no change, no call
  view.model.comm_live = true;
  model.trigger("comm_live_update");
  assert.deepEqual(seen, [false, true, false]);
  stop();
  assert.equal(model.listeners("comm_live_update"), 0);
});

test("without a view to ask, an update means the comm died", () => {
  const model = new FakeModel();
  const { el, env } = host();
  const seen = [];
  watchModel(el, model, (gone) => seen.push(gone), env);
  model.trigger("comm_live_update");
  assert.deepEqual(seen, [false, true]);
});

test("the class ipywidgets puts on a view's element counts too, also at render", () => {
  const model = new FakeModel();
  const h = host();
  const seen = [];
  const stop = watchModel(h.el, model, (gone) => seen.push(gone), h.env);
  h.mark(true);
  h.mark(false);
  assert.deepEqual(seen, [false, true, false]);
  stop();
  assert.equal(h.observers[0].observing, false);

  const late = host();
  late.mark(true);
  assert.equal(modelGone(late.el), true);
  const first = [];
  watchModel(late.el, model, (gone) => first.push(gone), late.env);
  assert.deepEqual(first, [true]);
  assert.equal(modelGone(null), false);
});

test("the notice says what still works per kind, and the way back", () => {
  const chart = goneNotice("chart", ["dash"]);
  assert.equal(chart.title, "The kernel restarted");
  assert.match(chart.text, /still shows “dash” live from the hub/);
  assert.ok(chart.text.endsWith(RERUN));
  assert.equal(chart.detail, `The kernel restarted. ${chart.text}`);
  assert.match(goneNotice("poll", ["study"]).text, /Votes are counted by the kernel/);
  assert.match(goneNotice("chat", ["a", "b"]).text, /chat in “a”, “b”/);
  assert.match(goneNotice("inspector", []).text, /still shows the hub/);
  assert.match(goneNotice("someday", []).text, /still shows its rooms live/);
  // a widget on the comm fallback got its data through the kernel: it stopped
  assert.match(goneNotice("chart", ["dash"], { comm: true }).text, /through the kernel .* no longer updates/);
  // cards are small: one short line, the whole text as the tooltip
  const card = goneNotice("metric", ["dash"]);
  assert.ok(card.text.length < 60 && /Run All/.test(card.text));
  assert.match(card.detail, /still shows “dash” live/);
});
