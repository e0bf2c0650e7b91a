// The anywidget module of jupyter_sio: one session per widget model (widget state and its
// connection, session.js), whose hub socket is open while the model has a live view on this
// page; rendering dispatches on the `_kind` trait.
//
// Loaded by anywidget from a blob: URL, so this file is bundled into one self-contained ESM
// file (esbuild, js/build.mjs → jupyter_sio/widgets/static/widgets.js).

import { Sessions } from "./session.js";
import * as metric from "./widgets/metric.js";
import * as table from "./widgets/table.js";
import * as chart from "./widgets/chart.js";
import * as feed from "./widgets/feed.js";
import * as presence from "./widgets/presence.js";
import * as chat from "./widgets/chat.js";
import * as poll from "./widgets/poll.js";
import * as inspector from "./widgets/inspector.js";

/** @typedef {import("./session.js").WidgetKind} WidgetKind */

/** @type {Record<string, WidgetKind>} */
export const KINDS = { metric, table, chart, feed, presence, chat, poll, inspector };

/**
 * A model whose `_kind` this bundle does not know: say so, and open no connection.
 * @param {{model: any, el: HTMLElement}} ctx
 */
function unknownKind({ model, el }) {
  const msg = document.createElement("div");
  msg.className = "jsio-widget jsio-error";
  msg.textContent = `jupyter_sio: unknown widget kind ${JSON.stringify(model.get("_kind"))}`;
  el.appendChild(msg);
  return () => msg.remove();
}

const sessions = new Sessions({ kinds: KINDS, unknown: unknownKind });

export default {
  /** @param {{model: any}} ctx */
  initialize({ model }) {
    return sessions.initialize(model);
  },

  /** @param {{model: any, el: HTMLElement}} ctx */
  render({ model, el }) {
    return sessions.render(model, el);
  },
};

// For tests and for other front-end code: the connection without a widget.
export { Connection, connectionOptions, dial, openConnection, statusText } from "./connection.js";
export { Session, Sessions, sessionKey, RELEASE_GRACE_MS } from "./session.js";
export { createHubChannel, hubOptions } from "./hub.js";
export { createCommChannel } from "./comm.js";
export { resolveHub, authHeaders, parseCookie, readPage, pageId } from "./config.js";
