// Inspector: hub statistics from `sio:inspect` every second: rooms, connections (browsers and
// kernels), transports, per-connection buffers (queued, dropped, conflated) and message rates
// from the deltas of each namespace's `deliveries`.

import { Store } from "../emitter.js";
import { formatValue } from "../format.js";
import { frame, h, setData, setText, drawOnChange } from "../dom.js";

/**
 * @typedef {{sid: string, transport?: string, queued?: number, queued_bytes?: number,
 *   dropped?: number, conflated?: number, user?: string, display_name?: string,
 *   kernel?: string | null, namespaces?: string[]}} ConnInfo
 * @typedef {{clients?: number, namespaces?: Record<string, {sockets: number, rooms: number,
 *   deliveries: number, retained: number}>, rooms?: Record<string, Record<string, number>>,
 *   connections?: ConnInfo[], adapter?: {kind: string, state: string, reconnects?: number,
 *   dropped?: number, last_error?: string | null}}} HubStats
 */

/**
 * Summarise a `sio:inspect` answer; with the previous answer and the seconds between them,
 * add delivery rates (messages/s) per namespace and drop rates per connection.
 * @param {HubStats} stats
 * @param {HubStats | null} prev
 * @param {number} dt seconds
 */
export function summarize(stats, prev, dt) {
  const connections = (stats.connections ?? []).map((c) => ({ ...c, kernel: c.kernel ?? null }));
  const before = new Map((prev?.connections ?? []).map((c) => [c.sid, c]));
  /** @type {Record<string, number>} */
  const transports = {};
  let kernels = 0;
  const rows = connections.map((c) => {
    const t = c.transport ?? "unknown";
    transports[t] = (transports[t] ?? 0) + 1;
    if (c.kernel) kernels += 1;
    const old = before.get(c.sid);
    const droppedRate = old && dt > 0 ? Math.max(0, ((c.dropped ?? 0) - (old.dropped ?? 0)) / dt) : 0;
    return {
      sid: c.sid,
      who: c.kernel ? `kernel ${String(c.kernel).slice(0, 8)}` : c.display_name || c.user || "anonymous",
      kind: c.kernel ? "kernel" : "client",
      transport: t,
      queued: c.queued ?? 0,
      dropped: c.dropped ?? 0,
      conflated: c.conflated ?? 0,
      droppedRate,
    };
  });
  /** @type {Record<string, number>} */
  const rates = {};
  let rate = 0;
  for (const [ns, info] of Object.entries(stats.namespaces ?? {})) {
    const old = prev?.namespaces?.[ns];
    const r = old && dt > 0 ? Math.max(0, (info.deliveries - old.deliveries) / dt) : 0;
    rates[ns] = r;
    rate += r;
  }
  const rooms = [];
  for (const [ns, byRoom] of Object.entries(stats.rooms ?? {})) {
    for (const [room, members] of Object.entries(byRoom)) rooms.push({ namespace: ns, room, members });
  }
  rooms.sort((a, b) => a.room.localeCompare(b.room));
  return {
    clients: stats.clients ?? connections.length,
    kernels,
    browsers: connections.length - kernels,
    transports,
    rooms,
    connections: rows,
    rates,
    rate,
    // how the hub reaches its other nodes (Redis); the in-memory adapter is always connected
    adapter: stats.adapter ?? { kind: "memory", state: "connected" },
  };
}

/** @param {{model: any, conn: import("../connection.js").Connection}} ctx */
export function setup({ model, conn }) {
  /** @type {Store<{summary: ReturnType<typeof summarize> | null, error: string, at: number}>} */
  const store = new Store({ summary: null, error: "", at: 0 });
  /** @type {HubStats | null} */
  let prev = null;
  let prevAt = 0;
  let busy = false;
  const poll = async () => {
    if (busy || conn.status.state !== "connected") return;
    busy = true;
    try {
      const reply = await conn.call("sio:inspect", [{}], { timeout: 5000 });
      const now = Date.now();
      if (reply && reply.ok) {
        const summary = summarize(reply, prev, prev ? (now - prevAt) / 1000 : 0);
        prev = reply;
        prevAt = now;
        store.set({ summary, error: "", at: now });
      } else {
        store.set({ ...store.get(), error: String(reply?.message ?? reply?.error ?? "no answer"), at: now });
      }
    } catch (err) {
      store.set({ ...store.get(), error: /** @type {Error} */ (err).message, at: Date.now() });
    } finally {
      busy = false;
    }
  };
  // Poll only while connected: a widget with no view on the page has no connection, and a
  // re-run cell's old Inspector must not keep a timer (session.js).
  /** @type {any} */
  let timer = null;
  const stop = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
  };
  const start = () => {
    stop();
    timer = setInterval(poll, Math.max(250, model.get("interval") || 1000));
  };
  const offConnect = conn.onLocal("connect", () => {
    start();
    poll();
  });
  const offDown = conn.onLocal("disconnect", stop);
  if (conn.status.state === "connected") start();
  const retime = () => {
    if (timer !== null) start();
  };
  model.on("change:interval", retime);
  return {
    store,
    poll,
    get polling() {
      return timer !== null;
    },
    dispose() {
      stop();
      offConnect();
      offDown();
      model.off("change:interval", retime);
    },
  };
}

/** @param {number} n */
const rateText = (n) => `${formatValue(n, n >= 100 ? ",.0f" : ".3g")}/s`;

/** @param {{model: any, el: HTMLElement, state: ReturnType<typeof setup>}} ctx */
export function view({ model, el, state }) {
  const f = frame(model, el, "jsio-inspector", model.get("title") || "jupyter_sio hub");
  const summary = h("div", { class: "jsio-inspector-summary" });
  const error = h("div", { class: "jsio-inspector-error" });
  const rooms = h("tbody");
  const conns = h("tbody");
  f.body.append(
    summary,
    error,
    h("table", { class: "jsio-inspector-rooms" }, h("thead", {}, h("tr", {}, h("th", { text: "room" }), h("th", { text: "members" }))), rooms),
    h(
      "table",
      { class: "jsio-inspector-conns" },
      h(
        "thead",
        {},
        h("tr", {}, ...["who", "transport", "queued", "dropped", "conflated", "sid"].map((t) => h("th", { text: t }))),
      ),
      conns,
    ),
  );
  const draw = () => {
    const { summary: s, error: e } = state.store.get();
    setText(error, e);
    setData(error, "error", e);
    if (!s) return;
    setData(summary, "clients", s.clients);
    setData(summary, "kernels", s.kernels);
    setData(summary, "browsers", s.browsers);
    setData(summary, "rate", Math.round(s.rate * 10) / 10);
    const tr = Object.entries(s.transports)
      .map(([k, v]) => `${v} ${k}`)
      .join(", ");
    setData(summary, "adapter", s.adapter.state);
    const nodes = s.adapter.kind === "memory" ? "" : ` · ${s.adapter.kind} ${s.adapter.state}`;
    setText(summary, `${s.clients} connections (${s.kernels} kernels, ${s.browsers} clients) · ${tr || "–"} · ${rateText(s.rate)} delivered${nodes}`);
    rooms.replaceChildren(
      ...s.rooms.map((r) =>
        h(
          "tr",
          { class: "jsio-inspector-room", dataset: { room: r.room, namespace: r.namespace, members: r.members } },
          h("td", { text: r.namespace === "/" ? r.room : `${r.namespace} ${r.room}` }),
          h("td", { text: String(r.members) }),
        ),
      ),
    );
    conns.replaceChildren(
      ...s.connections.map((c) =>
        h(
          "tr",
          {
            class: "jsio-inspector-conn" + (c.droppedRate > 0 ? " jsio-warn" : ""),
            dataset: { sid: c.sid, kind: c.kind, transport: c.transport, queued: c.queued, dropped: c.dropped, conflated: c.conflated },
          },
          h("td", { text: c.who }),
          h("td", { text: c.transport }),
          h("td", { text: String(c.queued) }),
          h("td", { text: String(c.dropped) }),
          h("td", { text: String(c.conflated) }),
          h("td", { class: "jsio-inspector-sid", text: c.sid }),
        ),
      ),
    );
  };
  const drawing = drawOnChange(state.store, draw);
  return () => {
    drawing.stop();
    f.dispose();
  };
}
