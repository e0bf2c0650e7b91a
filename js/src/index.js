// The anywidget module of jupyter_sio: one connection per widget model (in `initialize`),
// fanned out to the model's views (`render`), dispatching on the `_kind` trait.
//
// Loaded by anywidget from a blob: URL, so this file is bundled into one self-contained ESM
// file (esbuild, js/build.mjs → jupyter_sio/widgets/static/widgets.js).

import { openConnection, statusText } from "./connection.js";
import * as metric from "./widgets/metric.js";
import * as table from "./widgets/table.js";
import * as chart from "./widgets/chart.js";
import * as feed from "./widgets/feed.js";
import * as presence from "./widgets/presence.js";
import * as chat from "./widgets/chat.js";
import * as poll from "./widgets/poll.js";
import * as inspector from "./widgets/inspector.js";

/**
 * @typedef {{setup: (ctx: {model: any, conn: import("./connection.js").Connection}) => any,
 *   view: (ctx: {model: any, el: HTMLElement, state: any, conn: import("./connection.js").Connection}) => () => void}} WidgetKind
 */

/** @type {Record<string, WidgetKind>} */
export const KINDS = { metric, table, chart, feed, presence, chat, poll, inspector };

/**
 * One session (connection + widget state) per model. anywidget gives initialize() and
 * render() different proxy objects for the same model, so the key is the model's `_uid`
 * trait (a random id set in Python), not the object.
 * @type {Map<any, {conn: import("./connection.js").Connection, state: any, kind: WidgetKind | undefined}>}
 */
const sessions = new Map();

/** @param {any} model */
export function sessionKey(model) {
  return model.get("_uid") || model;
}

/** @param {any} model */
function start(model) {
  const conn = openConnection(model);
  const publish = (/** @type {import("./connection.js").Status} */ s) => {
    const text = statusText(s);
    if (model.get("status") !== text) {
      model.set("status", text);
      model.save_changes();
    }
  };
  conn.onLocal("status", publish);
  publish(conn.status);
  const followRooms = () => conn.setRooms(model.get("rooms") ?? []);
  model.on("change:rooms", followRooms);
  const kind = KINDS[model.get("_kind")];
  const state = kind ? kind.setup({ model, conn }) : null;
  const session = { conn, state, kind };
  const key = sessionKey(model);
  sessions.set(key, session);
  return () => {
    model.off("change:rooms", followRooms);
    if (state && typeof state.dispose === "function") state.dispose();
    conn.close();
    if (sessions.get(key) === session) sessions.delete(key);
  };
}

export default {
  /** @param {{model: any}} ctx */
  initialize({ model }) {
    return start(model);
  },

  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    // A front end that skipped initialize: this view owns the connection.
    const owned = sessions.has(sessionKey(model)) ? null : start(model);
    const session = /** @type {any} */ (sessions.get(sessionKey(model)));
    let cleanup;
    if (!session.kind) {
      const msg = document.createElement("div");
      msg.className = "jsio-widget jsio-error";
      msg.textContent = `jupyter_sio: unknown widget kind ${JSON.stringify(model.get("_kind"))}`;
      el.appendChild(msg);
      cleanup = () => msg.remove();
    } else {
      cleanup = session.kind.view({ model, el, state: session.state, conn: session.conn });
    }
    return () => {
      cleanup?.();
      owned?.();
    };
  },
};

// For tests and for other front-end code: the connection without a widget.
export { Connection, openConnection, statusText } from "./connection.js";
export { createHubChannel, hubOptions } from "./hub.js";
export { createCommChannel } from "./comm.js";
export { resolveHub, authHeaders, parseCookie, readPage } from "./config.js";
