// MetricCard: the latest value of one key, a trend arrow and a sparkline of the last values.

import { Store } from "../emitter.js";
import { TREND_ARROW, age, formatValue, sparkPoints, trend } from "../format.js";
import { drawOnChange, frame, h, onChange, setData, setText, svg } from "../dom.js";
import { isRepeat } from "../replay.js";

/**
 * @typedef {{value: unknown, t: number | undefined, history: number[], count: number}} MetricState
 */

/**
 * Fold one "metric" event into the state if it is for `key`; returns whether it was.
 * @param {MetricState} state
 * @param {any} msg   {key, value, t}
 * @param {string} key
 * @param {number} keep  history length
 */
export function applyMetric(state, msg, key, keep) {
  if (!msg || typeof msg !== "object" || msg.key !== key) return false;
  state.value = msg.value;
  state.t = typeof msg.t === "number" ? msg.t : Date.now() / 1000;
  state.count += 1;
  if (typeof msg.value === "number" && Number.isFinite(msg.value)) {
    state.history.push(msg.value);
    if (state.history.length > keep) state.history.splice(0, state.history.length - keep);
  }
  return true;
}

/** @param {{model: any, conn: import("../connection.js").Connection}} ctx */
export function setup({ model, conn }) {
  /** @type {Store<MetricState>} */
  const store = new Store({ value: undefined, t: undefined, history: [], count: 0 });
  const off = conn.on("metric", (msg) => {
    const s = store.get();
    if (msg?.key === model.get("key") && isRepeat(conn.replaying, msg.t, s.t)) return;
    if (applyMetric(s, msg, model.get("key"), Math.max(2, model.get("history") || 30))) {
      store.changed();
    }
  });
  const reset = () => store.set({ value: undefined, t: undefined, history: [], count: 0 });
  model.on("change:key", reset);
  return {
    store,
    dispose() {
      off();
      model.off("change:key", reset);
    },
  };
}

/** @param {{model: any, el: HTMLElement, state: ReturnType<typeof setup>}} ctx */
export function view({ model, el, state }) {
  const f = frame(model, el, "jsio-metric", model.get("label") || model.get("key"));
  const value = h("div", { class: "jsio-metric-value", text: "–" });
  const arrow = h("span", { class: "jsio-metric-trend" });
  const W = 120;
  const H = 28;
  const line = svg("polyline", { fill: "none", "stroke-width": 1.5 });
  const spark = svg("svg", { class: "jsio-metric-spark", width: W, height: H, viewBox: `0 0 ${W} ${H}` });
  spark.appendChild(line);
  const when = h("div", { class: "jsio-metric-age" });
  f.body.append(h("div", { class: "jsio-metric-row" }, value, arrow), spark, when);

  const draw = () => {
    const s = state.store.get();
    const key = model.get("key");
    setText(f.titleEl, model.get("label") || key);
    setData(f.root, "key", key);
    setData(f.root, "count", s.count);
    setText(value, formatValue(s.value, model.get("fmt"), model.get("unit")));
    setData(value, "value", s.value === undefined ? "" : typeof s.value === "object" ? JSON.stringify(s.value) : s.value);
    setData(value, "t", s.t);
    const dir = trend(s.history);
    setData(arrow, "trend", dir);
    setText(arrow, TREND_ARROW[dir]);
    line.setAttribute("points", sparkPoints(s.history, W, H));
    setText(when, age(s.t, Date.now() / 1000));
  };
  const drawing = drawOnChange(state.store, draw);
  const tick = setInterval(() => setText(when, age(state.store.get().t, Date.now() / 1000)), 1000);
  const offTraits = onChange(model, ["label", "fmt", "unit", "key"], () => drawing.request());
  return () => {
    drawing.stop();
    clearInterval(tick);
    offTraits();
    f.dispose();
  };
}
