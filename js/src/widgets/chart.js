// LiveChart: line chart of the numeric "metric" values of a room, drawn on a canvas, with a
// bounded ring of points per key (the `window` trait) and at most one redraw per frame.

import { Store } from "../emitter.js";
import { Ring } from "../ring.js";
import { clock, formatValue } from "../format.js";
import { drawOnChange, frame, h, onChange, setData, setText } from "../dom.js";
import { isRepeat } from "../replay.js";

export const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/**
 * @typedef {{series: Map<string, Ring>, order: string[], points: number}} ChartState
 */

/**
 * Fold a "metric" event into the rings; only numbers, only `keys` when given.
 * @param {ChartState} state
 * @param {any} msg
 * @param {string[] | null} keys
 * @param {number} window
 * @param {number} maxSeries
 */
export function applyPoint(state, msg, keys, window, maxSeries = 16) {
  if (!msg || typeof msg !== "object" || typeof msg.key !== "string") return false;
  if (typeof msg.value !== "number" || !Number.isFinite(msg.value)) return false;
  if (keys && keys.length && !keys.includes(msg.key)) return false;
  let ring = state.series.get(msg.key);
  if (!ring) {
    if (state.series.size >= maxSeries) return false;
    ring = new Ring(window);
    state.series.set(msg.key, ring);
    state.order.push(msg.key);
  }
  const t = typeof msg.t === "number" && Number.isFinite(msg.t) ? msg.t : Date.now() / 1000;
  ring.push(t, msg.value);
  state.points += 1;
  return true;
}

/**
 * x and y extent over all series (y padded; flat lines get a unit range).
 * @param {Iterable<Ring>} rings
 * @returns {{x0: number, x1: number, y0: number, y1: number} | null}
 */
export function domain(rings) {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const r of rings) {
    if (r.length === 0) continue;
    x0 = Math.min(x0, r.x(0));
    x1 = Math.max(x1, r.x(r.length - 1));
    const e = r.yExtent();
    if (e) {
      y0 = Math.min(y0, e[0]);
      y1 = Math.max(y1, e[1]);
    }
  }
  if (!(x0 <= x1) || !(y0 <= y1)) return null;
  if (x0 === x1) {
    x0 -= 1;
    x1 += 1;
  }
  if (y0 === y1) {
    y0 -= 1;
    y1 += 1;
  } else {
    const pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
  }
  return { x0, x1, y0, y1 };
}

/**
 * "Nice" tick values (1, 2, 5 × 10^k steps) covering [lo, hi].
 * @param {number} lo
 * @param {number} hi
 * @param {number} count  about how many
 * @returns {number[]}
 */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  // nearest of 1, 2, 5, 10 (rounding up instead leaves a 5..95 axis with one label)
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}

/**
 * Ticks for an epoch-seconds axis labelled HH:MM:SS: whole seconds only.
 * @param {number} lo
 * @param {number} hi
 * @param {number} count
 */
export function timeTicks(lo, hi, count = 5) {
  return niceTicks(lo, hi, count).filter((v) => Number.isInteger(v));
}

/** @param {{model: any, conn: import("../connection.js").Connection}} ctx */
export function setup({ model, conn }) {
  /** @type {Store<ChartState>} */
  const store = new Store({ series: new Map(), order: [], points: 0 });
  const off = conn.on("metric", (msg) => {
    // a reconnect replays the retained history: keep only points newer than the drawn ones
    if (isRepeat(conn.replaying, msg?.t, store.get().series.get(msg?.key)?.last()?.[0])) return;
    const keys = model.get("series");
    if (applyPoint(store.get(), msg, keys && keys.length ? keys : null, model.get("window") || 2000)) {
      store.changed();
    }
  });
  const resize = () => {
    for (const ring of store.get().series.values()) ring.resize(model.get("window") || 2000);
    store.changed();
  };
  const clear = () => store.set({ series: new Map(), order: [], points: 0 });
  model.on("change:window", resize);
  model.on("change:series", clear);
  return {
    store,
    dispose() {
      off();
      model.off("change:window", resize);
      model.off("change:series", clear);
    },
  };
}

/** @param {{model: any, el: HTMLElement, state: ReturnType<typeof setup>}} ctx */
export function view({ model, el, state }) {
  const f = frame(model, el, "jsio-chart", model.get("title") || (model.get("rooms") || []).join(", "));
  const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", { class: "jsio-chart-canvas" }));
  const legend = h("div", { class: "jsio-chart-legend" });
  f.body.append(canvas, legend);
  const ctx = canvas.getContext("2d");
  /** @type {Map<string, {item: HTMLElement, value: HTMLElement}>} */
  const entries = new Map();
  let width = 0;
  let height = 0;

  const size = () => {
    const w = Math.max(120, Math.floor(f.body.clientWidth || 480));
    const hgt = model.get("height") || 240;
    const dpr = globalThis.devicePixelRatio || 1;
    if (w !== width || hgt !== height) {
      width = w;
      height = hgt;
      canvas.width = Math.floor(w * dpr);
      canvas.height = Math.floor(hgt * dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${hgt}px`;
      if (ctx) ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    }
  };

  const draw = () => {
    const s = state.store.get();
    size();
    setData(f.root, "points", s.points);
    setData(f.root, "series", s.order.length);
    const fmt = model.get("fmt");
    s.order.forEach((key, i) => {
      const ring = s.series.get(key);
      if (!ring) return;
      let e = entries.get(key);
      if (!e) {
        const swatch = h("span", { class: "jsio-chart-swatch" });
        swatch.style.background = COLORS[i % COLORS.length];
        const value = h("span", { class: "jsio-chart-value" });
        const item = h("span", { class: "jsio-chart-series", dataset: { key } }, swatch, h("span", { class: "jsio-chart-key", text: key }), value);
        legend.appendChild(item);
        e = { item, value };
        entries.set(key, e);
      }
      const last = ring.last();
      setData(e.item, "value", last ? last[1] : "");
      setData(e.item, "count", ring.length);
      setText(e.value, last ? formatValue(last[1], fmt) : "–");
    });
    for (const [key, e] of entries) {
      if (!s.series.has(key)) {
        e.item.remove();
        entries.delete(key);
      }
    }
    if (!ctx) return;
    const style = getComputedStyle(f.root);
    const fg = style.getPropertyValue("--jsio-fg").trim() || "#333";
    const grid = style.getPropertyValue("--jsio-grid").trim() || "rgba(128,128,128,0.25)";
    ctx.clearRect(0, 0, width, height);
    const d = domain(s.series.values());
    if (!d) return;
    const left = 48;
    const right = 8;
    const top = 6;
    const bottom = 18;
    const pw = width - left - right;
    const ph = height - top - bottom;
    const sx = (/** @type {number} */ x) => left + ((x - d.x0) / (d.x1 - d.x0)) * pw;
    const sy = (/** @type {number} */ y) => top + (1 - (y - d.y0) / (d.y1 - d.y0)) * ph;
    ctx.font = "10px system-ui, sans-serif";
    ctx.lineWidth = 1;
    ctx.strokeStyle = grid;
    ctx.fillStyle = fg;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of niceTicks(d.y0, d.y1, Math.max(2, Math.floor(ph / 40)))) {
      const y = Math.round(sy(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(width - right, y);
      ctx.stroke();
      ctx.fillText(formatValue(v, ".3g"), left - 4, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of timeTicks(d.x0, d.x1, Math.max(2, Math.floor(pw / 90)))) {
      // keep the first and last labels inside the canvas
      const x = Math.min(Math.max(sx(v), left + 24), width - right - 24);
      ctx.fillText(clock(v), x, height - bottom + 4);
    }
    ctx.lineWidth = 1.5;
    ctx.lineJoin = "round";
    s.order.forEach((key, i) => {
      const ring = s.series.get(key);
      if (!ring || ring.length === 0) return;
      ctx.strokeStyle = COLORS[i % COLORS.length];
      ctx.beginPath();
      // Decimate: at most about two points per pixel column.
      const stride = Math.max(1, Math.floor(ring.length / (pw * 2)));
      ctx.moveTo(sx(ring.x(0)), sy(ring.y(0)));
      for (let j = stride; j < ring.length; j += stride) ctx.lineTo(sx(ring.x(j)), sy(ring.y(j)));
      ctx.lineTo(sx(ring.x(ring.length - 1)), sy(ring.y(ring.length - 1)));
      ctx.stroke();
    });
  };
  const drawing = drawOnChange(state.store, draw);
  const observer = typeof ResizeObserver === "function" ? new ResizeObserver(() => drawing.request()) : null;
  observer?.observe(f.body);
  const offTraits = onChange(model, ["height", "fmt"], () => drawing.request());
  return () => {
    drawing.stop();
    observer?.disconnect();
    offTraits();
    f.dispose();
  };
}
