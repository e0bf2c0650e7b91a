// The direct channel: the official socket.io-client to the hub served by the Jupyter server.

import { io as defaultIo } from "socket.io-client";

/**
 * @typedef {import("./channel.js").Channel} Channel
 * @typedef {import("./channel.js").ChannelHandlers} ChannelHandlers
 */

/**
 * Transport order: WebSocket first, polling as fallback (`tryAllTransports`). In JupyterLab
 * the login cookie authenticates the WebSocket handshake and WebSocket needs no XSRF header,
 * so starting there saves the polling handshake round trips, and every polling request
 * through Jupyter's auth stack costs more than a frame on an open WebSocket. Where a proxy
 * blocks WebSocket, the client falls back to polling, which carries `X-XSRFToken` (and
 * `Authorization` when page config has a token) on every request.
 */
export const TRANSPORTS = ["websocket", "polling"];

/**
 * The `io()` URL and options for a hub path.
 * @param {{origin: string, path: string, namespace?: string, headers: Record<string, string>,
 *   token?: string, transports?: string[]}} spec
 */
export function hubOptions(spec) {
  const ns = spec.namespace && spec.namespace !== "/" ? spec.namespace : "";
  /** @type {Record<string, any>} */
  const options = {
    path: spec.path,
    transports: spec.transports ?? TRANSPORTS,
    tryAllTransports: true,
    extraHeaders: { ...spec.headers },
    withCredentials: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    timeout: 10000,
  };
  // Browsers cannot set headers on a WebSocket: like JupyterLab's own WebSocket URLs, put a
  // page-config token (present only in token-only setups) in the query.
  if (spec.token) options.query = { token: spec.token };
  return { url: spec.origin + ns, options };
}

/**
 * @param {{url: string, options: Record<string, any>, io?: typeof defaultIo,
 *   headers?: () => Record<string, string>}} spec
 * @param {ChannelHandlers} handlers
 * @returns {Channel & {socket: any}}
 */
export function createHubChannel(spec, handlers) {
  const io = spec.io ?? defaultIo;
  const socket = io(spec.url, /** @type {any} */ (spec.options));
  const manager = socket.io;
  const transportName = () => manager.engine?.transport?.name ?? "unknown";

  socket.on("connect", () => {
    const engine = manager.engine;
    if (engine && !engine.__jsioWatched) {
      engine.__jsioWatched = true;
      engine.on("upgrade", (/** @type {any} */ t) => handlers.transport(t?.name ?? transportName()));
    }
    handlers.connect(transportName());
  });
  socket.on("disconnect", (/** @type {string} */ reason) => handlers.disconnect(reason));
  socket.on("connect_error", (/** @type {Error} */ err) => handlers.error(err));
  socket.onAny((/** @type {string} */ event, /** @type {any[]} */ ...args) => handlers.event(event, args));
  // The _xsrf cookie can change (new login): read it again before every reconnect.
  if (spec.headers) {
    const refresh = spec.headers;
    manager.on("reconnect_attempt", () => {
      manager.opts.extraHeaders = { ...refresh() };
    });
  }

  return {
    kind: "hub",
    socket,
    emit(event, args) {
      socket.emit(event, ...args);
    },
    call(event, args, timeout) {
      return socket.timeout(timeout).emitWithAck(event, ...args);
    },
    close() {
      socket.offAny();
      socket.removeAllListeners();
      socket.disconnect();
    },
  };
}
