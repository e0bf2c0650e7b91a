// Presence: who is in the room, live (sockets that subscribed with `announce`), by user name.

import { Store } from "../emitter.js";
import { drawOnChange, frame, h, setData, setText } from "../dom.js";

/**
 * @typedef {{sid: string, user?: string, display_name?: string, name?: string,
 *   kernel?: string | null, transport?: string, page?: string}} SocketInfo
 * @typedef {{key: string, label: string, user: string, sids: string[], pages: string[],
 *   me: boolean, transports: string[]}} Member
 */

/**
 * Group a room's sockets by person (chosen name, else Jupyter user): one row per person with
 * the pages (tabs) they have it open in. Sockets that carry the same `page` (the id a page's
 * widgets send in `sio:subscribe`: two Presence widgets of one room on one page) count once;
 * a socket without one counts as a page of its own.
 * @param {SocketInfo[]} sockets
 * @param {string | null | undefined} mySid
 * @returns {Member[]}
 */
export function groupMembers(sockets, mySid) {
  /** @type {Map<string, Member>} */
  const byKey = new Map();
  for (const s of sockets || []) {
    if (!s || typeof s !== "object") continue;
    const user = s.user || "anonymous";
    const label = s.name || s.display_name || user;
    const key = `${user}\u0000${label}`;
    let m = byKey.get(key);
    if (!m) byKey.set(key, (m = { key, label, user, sids: [], pages: [], me: false, transports: [] }));
    m.sids.push(s.sid);
    const page = typeof s.page === "string" && s.page ? `page:${s.page}` : `sid:${s.sid}`;
    if (!m.pages.includes(page)) m.pages.push(page);
    if (s.sid === mySid) m.me = true;
    if (s.transport && !m.transports.includes(s.transport)) m.transports.push(s.transport);
  }
  return [...byKey.values()].sort((a, b) => (a.me === b.me ? a.label.localeCompare(b.label) : a.me ? -1 : 1));
}

/** @param {{model: any, conn: import("../connection.js").Connection}} ctx */
export function setup({ model, conn }) {
  /** @type {Store<{sockets: SocketInfo[], me: string | null}>} */
  const store = new Store({ sockets: [], me: null });
  const offEvent = conn.on("sio:presence", (msg) => {
    const rooms = model.get("rooms") || [];
    if (msg && rooms.includes(msg.room) && Array.isArray(msg.sockets)) {
      store.update((s) => {
        s.sockets = msg.sockets;
      });
    }
  });
  const offSub = conn.onLocal("subscribed", (reply) => {
    store.update((s) => {
      s.me = reply?.me?.sid ?? null;
    });
  });
  const offDown = conn.onLocal("disconnect", () => store.update((s) => (s.sockets = [])));
  return {
    store,
    dispose() {
      offEvent();
      offSub();
      offDown();
    },
  };
}

/** @param {{model: any, el: HTMLElement, state: ReturnType<typeof setup>}} ctx */
export function view({ model, el, state }) {
  const room = (model.get("rooms") || []).join(", ");
  const f = frame(model, el, "jsio-presence", model.get("title") || `Here in ${room}`);
  const count = h("span", { class: "jsio-presence-count" });
  f.titleEl.after(count);
  const list = h("ul", { class: "jsio-presence-list" });
  f.body.appendChild(list);
  const draw = () => {
    const s = state.store.get();
    const members = groupMembers(s.sockets, s.me);
    setData(f.root, "count", members.length);
    setText(count, String(members.length));
    const rows = members.map((m) =>
      h(
        "li",
        {
          class: "jsio-presence-member" + (m.me ? " jsio-me" : ""),
          dataset: { user: m.user, name: m.label, sockets: m.sids.length, pages: m.pages.length, me: m.me },
          title: `${m.user} · ${m.transports.join(", ")}`,
        },
        h("span", { class: "jsio-presence-dot" }),
        h("span", { class: "jsio-presence-name", text: m.label }),
        m.pages.length > 1 ? h("span", { class: "jsio-presence-tabs", text: `×${m.pages.length}` }) : null,
      ),
    );
    list.replaceChildren(...rows);
  };
  const drawing = drawOnChange(state.store, draw);
  return () => {
    drawing.stop();
    f.dispose();
  };
}
