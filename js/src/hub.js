// The direct channel: the official socket.io-client to the hub served by the Jupyter server.

import { io as defaultIo } from "socket.io-client";
import * as msgpackParser from "socket.io-msgpack-parser";

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
 *   token?: string, transports?: string[], parser?: string}} spec
 *   `parser`: the hub's (page config `jupyterSio.parser`); "msgpack" uses
 *   socket.io-msgpack-parser, anything else the default parser
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
  if (spec.parser === "msgpack") options.parser = msgpackParser;
  return { url: spec.origin + ns, options };
}

/**
 * The offset a hub with connection-state recovery (`recovery_window`) appends to every
 * event it logs (hub/recovery.py): `"<epoch>:<number>"`, numbers increasing per namespace.
 */
const OFFSET = /^([A-Za-z0-9_-]{4,32}):(\d{1,15})$/;

/**
 * What connection-state recovery adds to a socket's events, taken off again: widgets see
 * the arguments the kernel emitted, never the offset. Also drops an event heard twice (an
 * offset not above the last one: a replay overlapping what arrived), and remembers the last
 * real offset for the next recovery. (socket.io-client keeps its own `_lastOffset`, but
 * from any trailing string, e.g. a retained value's, which would make the hub refuse the
 * recovery; ours wins, see `auth` below.)
 */
export class Offsets {
  constructor() {
    /** the last offset heard, as sent */
    /** @type {string | null} */
    this.last = null;
    this.epoch = "";
    this.number = -1;
  }

  /**
   * The event's own arguments, or null if it is a repeat. `recovering`: the hub said it
   * recovers sessions (the socket has a `pid`).
   * @param {boolean} recovering
   * @param {any[]} args
   * @returns {any[] | null}
   */
  strip(recovering, args) {
    if (!recovering || args.length === 0) return args;
    const lastArg = args[args.length - 1];
    if (typeof lastArg !== "string") return args;
    const m = OFFSET.exec(lastArg);
    if (!m) return args;
    const number = Number(m[2]);
    if (m[1] === this.epoch && number <= this.number) return null;
    this.last = lastArg;
    this.epoch = m[1];
    this.number = number;
    return args.slice(0, -1);
  }

  /** A fresh session: its offsets start a new sequence. */
  reset() {
    this.last = null;
    this.epoch = "";
    this.number = -1;
  }
}

/**
 * @param {{url: string, options: Record<string, any>, io?: typeof defaultIo,
 *   headers?: () => Record<string, string>}} spec
 * @param {ChannelHandlers} handlers
 * @returns {Channel & {socket: any}}
 */
export function createHubChannel(spec, handlers) {
  const io = spec.io ?? defaultIo;
  const offsets = new Offsets();
  // socket.io-client sends `{pid, offset: <its last>}` merged with `auth`: our offset wins.
  const options = {
    ...spec.options,
    auth: (/** @type {(data: object) => void} */ cb) => cb(offsets.last ? { offset: offsets.last } : {}),
  };
  const socket = io(spec.url, /** @type {any} */ (options));
  const manager = socket.io;
  const transportName = () => manager.engine?.transport?.name ?? "unknown";

  socket.on("connect", () => {
    const engine = manager.engine;
    if (engine && !engine.__jsioWatched) {
      engine.__jsioWatched = true;
      engine.on("upgrade", (/** @type {any} */ t) => handlers.transport(t?.name ?? transportName()));
    }
    const recovered = !!socket.recovered;
    if (!recovered) offsets.reset();
    handlers.connect(transportName(), recovered);
  });
  socket.on("disconnect", (/** @type {string} */ reason) => handlers.disconnect(reason));
  socket.on("connect_error", (/** @type {Error} */ err) => handlers.error(err));
  socket.onAny((/** @type {string} */ event, /** @type {any[]} */ ...args) => {
    const own = offsets.strip(!!socket._pid, args);
    if (own !== null) handlers.event(event, own);
  });
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
