// Chat: messages published to the room with `sio:publish` (event "chat" {user, text, t}),
// shown with a local echo of one's own (the hub leaves the sender out). Messages since open.

import { Store } from "../emitter.js";
import { clock } from "../format.js";
import { drawOnChange, frame, h, setData } from "../dom.js";

export const MAX_TEXT = 2000;

/**
 * @typedef {{id: number, user: string, text: string, t: number, own: boolean,
 *   state: "pending" | "sent" | "failed" | "received", error?: string}} ChatMessage
 * @typedef {{messages: ChatMessage[], seq: number}} ChatState
 */

/**
 * The name shown for me: the widget's `name`, else what the hub knows about this socket.
 * @param {Record<string, any> | null} me
 * @param {string} [name]
 */
export function myName(me, name) {
  return name || me?.name || me?.display_name || me?.user || "me";
}

/**
 * Validate and build an outgoing message; `null` for blank text.
 * @param {string} user
 * @param {string} text
 * @param {number} now epoch seconds
 */
export function outgoing(user, text, now) {
  const clean = String(text ?? "").trim().slice(0, MAX_TEXT);
  return clean ? { user, text: clean, t: now } : null;
}

/**
 * A received "chat" payload, normalised; `null` if it is not a chat message.
 * @param {any} msg
 */
export function incoming(msg) {
  if (!msg || typeof msg !== "object" || typeof msg.text !== "string") return null;
  return {
    user: typeof msg.user === "string" && msg.user ? msg.user : "anonymous",
    text: msg.text.slice(0, MAX_TEXT),
    t: typeof msg.t === "number" ? msg.t : Date.now() / 1000,
  };
}

/**
 * @param {ChatState} state
 * @param {Omit<ChatMessage, "id">} message
 * @param {number} max
 */
export function addMessage(state, message, max = 500) {
  state.seq += 1;
  const m = { ...message, id: state.seq };
  state.messages.push(m);
  if (state.messages.length > max) state.messages.splice(0, state.messages.length - max);
  return m;
}

/** @param {{model: any, conn: import("../connection.js").Connection}} ctx */
export function setup({ model, conn }) {
  /** @type {Store<ChatState>} */
  const store = new Store({ messages: [], seq: 0 });
  const off = conn.on("chat", (msg) => {
    const m = incoming(msg);
    if (m) store.update((s) => addMessage(s, { ...m, own: false, state: "received" }));
  });
  /** @param {string} text */
  const send = async (text) => {
    const msg = outgoing(myName(conn.me, model.get("name")), text, Date.now() / 1000);
    if (!msg) return null;
    /** @type {ChatMessage | undefined} */
    let mine;
    store.update((s) => {
      mine = addMessage(s, { ...msg, own: true, state: "pending" });
    });
    const to = model.get("rooms") || [];
    try {
      const reply = await conn.call("sio:publish", [{ event: "chat", args: [msg], to }]);
      if (mine) {
        mine.state = reply && reply.ok ? "sent" : "failed";
        if (!(reply && reply.ok)) mine.error = String(reply?.error ?? "refused");
      }
    } catch (err) {
      if (mine) {
        mine.state = "failed";
        mine.error = /** @type {Error} */ (err).message;
      }
    }
    store.changed();
    return mine ?? null;
  };
  return { store, send, dispose: off };
}

/** @param {{model: any, el: HTMLElement, state: ReturnType<typeof setup>}} ctx */
export function view({ model, el, state }) {
  const f = frame(model, el, "jsio-chat", model.get("title") || `Chat · ${(model.get("rooms") || []).join(", ")}`);
  const list = h("div", { class: "jsio-chat-messages" });
  list.style.maxHeight = `${model.get("height") || 300}px`;
  const input = /** @type {HTMLInputElement} */ (
    h("input", { class: "jsio-chat-input", type: "text", placeholder: "Message", maxlength: MAX_TEXT })
  );
  const button = h("button", { class: "jsio-chat-send", type: "submit", text: "Send" });
  const form = h("form", { class: "jsio-chat-form" }, input, button);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value;
    input.value = "";
    state.send(text);
  });
  // Keep JupyterLab's notebook shortcuts from eating keystrokes typed into the chat.
  input.addEventListener("keydown", (ev) => ev.stopPropagation());
  f.body.append(list, form);
  /** @type {Map<number, HTMLElement>} */
  const nodes = new Map();

  const draw = () => {
    const s = state.store.get();
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    const live = new Set();
    for (const m of s.messages) {
      live.add(m.id);
      let node = nodes.get(m.id);
      if (!node) {
        node = h(
          "div",
          { class: "jsio-chat-message", dataset: { user: m.user, own: m.own, id: m.id } },
          h("span", { class: "jsio-chat-time", text: clock(m.t) }),
          h("span", { class: "jsio-chat-user", text: m.user }),
          h("span", { class: "jsio-chat-text", text: m.text }),
        );
        nodes.set(m.id, node);
        list.appendChild(node);
      }
      setData(node, "state", m.state);
      if (m.error) node.title = m.error;
    }
    for (const [id, node] of nodes) {
      if (!live.has(id)) {
        node.remove();
        nodes.delete(id);
      }
    }
    setData(f.root, "count", s.messages.length);
    if (nearBottom) list.scrollTop = list.scrollHeight;
  };
  const drawing = drawOnChange(state.store, draw);
  return () => {
    drawing.stop();
    f.dispose();
  };
}
