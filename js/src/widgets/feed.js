// Feed: a scrolling list of a room's events; "display" events carry Jupyter mime bundles
// (HTML, PNG/JPEG, SVG, text) and render like cell outputs.

import { Store } from "../emitter.js";
import { mimePlan, renderPlan } from "../mime.js";
import { clock } from "../format.js";
import { drawOnChange, frame, h, setData } from "../dom.js";
import { ReplayFilter } from "../replay.js";

/** @typedef {{seq: number, event: string, args: any[], t: number}} FeedItem */
/** @typedef {{items: FeedItem[], seq: number}} FeedState */

/**
 * Append, keeping at most `max` items (oldest dropped).
 * @param {FeedState} state
 * @param {string} event
 * @param {any[]} args
 * @param {number} max
 * @param {number} [now] epoch seconds
 */
export function pushItem(state, event, args, max, now = Date.now() / 1000) {
  state.seq += 1;
  state.items.push({ seq: state.seq, event, args, t: itemTime(args, now) });
  if (state.items.length > max) state.items.splice(0, state.items.length - max);
}

/**
 * When an event happened: its payload's `t` (epoch seconds) if it has one, so replayed
 * history shows when it was sent, not when this page heard it; else `now`.
 * @param {any[]} args
 * @param {number} now
 */
export function itemTime(args, now) {
  const t = args[0] && typeof args[0] === "object" ? args[0].t : undefined;
  return typeof t === "number" && Number.isFinite(t) && t > 0 ? t : now;
}

/**
 * How to show one item: a mime bundle for "display"-like payloads, else text.
 * @param {string} event
 * @param {any[]} args
 * @returns {import("../mime.js").RenderPlan}
 */
export function itemPlan(event, args) {
  const first = args[0];
  const looksLikeBundle = first && typeof first === "object" && first.data && typeof first.data === "object";
  if (event === "display" || looksLikeBundle) return mimePlan(first);
  return { kind: "text", text: feedText(args), mime: "text/plain" };
}

/**
 * Log-style text of event arguments: strings as they are, `{text}`/`{message}`/`{msg}` fields,
 * anything else as JSON.
 * @param {any[]} args
 */
export function feedText(args) {
  return args
    .map((a) => {
      if (typeof a === "string") return a;
      if (a && typeof a === "object") {
        for (const k of ["text", "message", "msg"]) if (typeof a[k] === "string") return a[k];
      }
      try {
        return JSON.stringify(a);
      } catch {
        return String(a);
      }
    })
    .join(" ");
}

/** @param {{model: any, conn: import("../connection.js").Connection}} ctx */
export function setup({ model, conn }) {
  /** @type {Store<FeedState>} */
  const store = new Store({ items: [], seq: 0 });
  /** @type {Array<() => void>} */
  let offs = [];
  // A reconnect replays the room's retained events: show only those the list lacks.
  const replay = new ReplayFilter();
  const offReplay = conn.onLocal("replay", () => replay.begin(store.get().items));
  const listen = () => {
    offs.forEach((off) => off());
    const events = model.get("events") || [];
    offs = events.map((/** @type {string} */ event) =>
      conn.on(event, (...args) => {
        if (replay.repeat(conn.replaying, event, args)) return;
        store.update((s) => pushItem(s, event, args, model.get("max_items") || 200));
      }),
    );
  };
  listen();
  model.on("change:events", listen);
  return {
    store,
    dispose() {
      offs.forEach((off) => off());
      offReplay();
      model.off("change:events", listen);
    },
  };
}

/** @param {{model: any, el: HTMLElement, state: ReturnType<typeof setup>}} ctx */
export function view({ model, el, state }) {
  const f = frame(model, el, "jsio-feed", model.get("title") || (model.get("rooms") || []).join(", "));
  const list = h("div", { class: "jsio-feed-list" });
  list.style.maxHeight = `${model.get("height") || 360}px`;
  f.body.appendChild(list);
  let shown = 0; // highest seq rendered

  const draw = () => {
    const s = state.store.get();
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    const fresh = s.items.filter((i) => i.seq > shown);
    if (fresh.length > 0) {
      const batch = document.createDocumentFragment();
      for (const item of fresh) {
        const plan = itemPlan(item.event, item.args);
        const node = h(
          "div",
          { class: "jsio-feed-item", dataset: { event: item.event, seq: item.seq, kind: plan.kind } },
          h("div", { class: "jsio-feed-meta", text: `${clock(item.t)} · ${item.event}` }),
          renderPlan(plan, document),
        );
        if (plan.kind === "text") node.dataset.text = plan.text.slice(0, 500);
        batch.appendChild(node);
      }
      list.appendChild(batch);
      shown = s.seq;
    }
    // Keep the DOM as bounded as the store.
    const oldest = s.items.length ? s.items[0].seq : shown + 1;
    while (list.firstElementChild && Number(/** @type {HTMLElement} */ (list.firstElementChild).dataset.seq) < oldest) {
      list.firstElementChild.remove();
    }
    setData(f.root, "count", list.childElementCount);
    if (nearBottom && fresh.length > 0) list.scrollTop = list.scrollHeight;
  };
  const drawing = drawOnChange(state.store, draw);
  return () => {
    drawing.stop();
    f.dispose();
  };
}
