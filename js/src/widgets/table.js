// ValueTable: the latest value per key of the "metric" events of a room.

import { Store } from "../emitter.js";
import { age, formatValue } from "../format.js";
import { drawOnChange, frame, h, setData, setText } from "../dom.js";
import { isRepeat } from "../replay.js";

/**
 * @typedef {{rows: Map<string, {value: unknown, t: number, count: number}>, dirty: Set<string>}} TableState
 */

/**
 * @param {TableState} state
 * @param {any} msg
 * @param {number} maxRows
 */
export function applyRow(state, msg, maxRows = 1000) {
  if (!msg || typeof msg !== "object" || typeof msg.key !== "string") return false;
  const row = state.rows.get(msg.key);
  if (!row && state.rows.size >= maxRows) return false;
  const t = typeof msg.t === "number" ? msg.t : Date.now() / 1000;
  state.rows.set(msg.key, { value: msg.value, t, count: (row?.count ?? 0) + 1 });
  state.dirty.add(msg.key);
  return true;
}

/** @param {{model: any, conn: import("../connection.js").Connection}} ctx */
export function setup({ model, conn }) {
  /** @type {Store<TableState>} */
  const store = new Store({ rows: new Map(), dirty: new Set() });
  const off = conn.on("metric", (msg) => {
    const row = typeof msg?.key === "string" ? store.get().rows.get(msg.key) : undefined;
    if (isRepeat(conn.replaying, msg?.t, row?.t)) return; // a reconnect's replay
    if (applyRow(store.get(), msg, model.get("max_rows") || 1000)) store.changed();
  });
  return { store, dispose: off };
}

/** @param {{model: any, el: HTMLElement, state: ReturnType<typeof setup>}} ctx */
export function view({ model, el, state }) {
  const f = frame(model, el, "jsio-table", model.get("title") || (model.get("rooms") || []).join(", "));
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "jsio-table-grid" },
    h("thead", {}, h("tr", {}, h("th", { text: "key" }), h("th", { text: "value" }), h("th", { text: "updated" }))),
    tbody,
  );
  f.body.appendChild(table);
  /** @type {Map<string, {tr: HTMLElement, value: HTMLElement, when: HTMLElement}>} */
  const rows = new Map();
  let first = true;

  const draw = () => {
    const s = state.store.get();
    const keys = first ? [...s.rows.keys()] : [...s.dirty];
    first = false;
    s.dirty.clear();
    const fmt = model.get("fmt");
    let added = false;
    for (const key of keys) {
      const row = s.rows.get(key);
      if (!row) continue;
      let r = rows.get(key);
      if (!r) {
        const value = h("td", { class: "jsio-table-value" });
        const when = h("td", { class: "jsio-table-age" });
        const tr = h("tr", { class: "jsio-table-row", dataset: { key } }, h("td", { class: "jsio-table-key", text: key }), value, when);
        r = { tr, value, when };
        rows.set(key, r);
        added = true;
      }
      setText(r.value, formatValue(row.value, fmt));
      const raw = typeof row.value === "object" ? JSON.stringify(row.value) : row.value;
      setData(r.tr, "value", raw);
      setData(r.value, "value", raw);
      setData(r.tr, "count", row.count);
      r.when.dataset.t = String(row.t);
      setText(r.when, age(row.t, Date.now() / 1000));
    }
    if (added) {
      for (const key of [...rows.keys()].sort()) tbody.appendChild(/** @type {any} */ (rows.get(key)).tr);
    }
    setData(f.root, "rows", rows.size);
  };
  const drawing = drawOnChange(state.store, draw);
  const tick = setInterval(() => {
    const now = Date.now() / 1000;
    for (const r of rows.values()) setText(r.when, age(Number(r.when.dataset.t), now));
  }, 1000);
  return () => {
    drawing.stop();
    clearInterval(tick);
    f.dispose();
  };
}
