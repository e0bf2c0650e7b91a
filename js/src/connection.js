// A widget model's connection: picks the hub (socket.io-client) or the comm, subscribes to the
// model's rooms on every (re)connect, and gives widgets on/emit/call. Its channel comes and
// goes with the model's live views (session.js: `dial` on the first view, `detach` after the
// last); the Connection object, with the widget state's listeners, stays.

import { authHeaders, hubParser, pageId, pageToken, readPage, resolveHub } from "./config.js";
import { Emitter } from "./emitter.js";
import { createCommChannel } from "./comm.js";
import { createHubChannel, hubOptions } from "./hub.js";

/**
 * @typedef {import("./channel.js").Channel} Channel
 * @typedef {import("./channel.js").ChannelHandlers} ChannelHandlers
 * @typedef {{state: "connecting" | "connected" | "disconnected" | "closed",
 *   transport: string, channel: string, error: string, recovered?: boolean}} Status
 *   `recovered`: the last connect restored the hub session (connection-state recovery)
 * @typedef {{rooms: string[], announce?: boolean, name?: string, namespace?: string,
 *   kernel?: string, page?: string, timeout?: number}} ConnectionOptions
 *   `kernel`: the id of the kernel that owns the widget (the hub sends the socket's events
 *   there); `page`: this page's id, so presence can count a person once per page
 */

export const DEFAULT_TIMEOUT = 10000;

/**
 * The `status` trait's text; it never holds anything secret.
 * @param {Status} s
 */
export function statusText(s) {
  if (s.state === "connected") {
    if (s.channel === "comm") return "comm";
    return `connected · ${s.transport}${s.recovered ? " · recovered" : ""}`;
  }
  if (s.state === "connecting") return s.channel === "comm" ? "connecting · comm" : "connecting";
  if (s.state === "closed") return "closed";
  return "disconnected";
}

export class Connection {
  /** @param {ConnectionOptions} options */
  constructor(options) {
    this.rooms = [];
    this.announce = false;
    this.name = "";
    this.namespace = "/";
    this.kernel = "";
    this.page = "";
    this.configure(options);
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT;
    /** @type {Channel | null} */
    this.channel = null;
    /** @type {object | null} */
    this.current = null;
    /** what `sio:subscribe` said about this socket: {sid, user, display_name, name, ...} */
    /** @type {Record<string, any> | null} */
    this.me = null;
    /** @type {Status} */
    this.status = { state: "connecting", transport: "", channel: "", error: "" };
    this.events = new Emitter();
    this.local = new Emitter();
    this.closed = false;
    this.connects = 0;
    /** `sio:subscribe` calls in flight, each with the channel token it was sent on */
    /** @type {Set<{channel: object | null}>} */
    this.subscribing = new Set();
  }

  /**
   * True while the hub replays retained values and history to this socket: between sending
   * `sio:subscribe` and its answer. The hub writes a room's retained packets when the socket
   * joins, before the answer, and packets to one socket arrive in order (README, Delivery
   * semantics), so events heard now are that replay (or live events sent meanwhile).
   */
  get replaying() {
    for (const call of this.subscribing) if (call.channel === this.current) return true;
    return false;
  }

  /**
   * Take the model's current options (before a `dial`: traits may have changed meanwhile).
   * @param {ConnectionOptions} options
   */
  configure(options) {
    this.rooms = [...(options.rooms ?? [])];
    this.announce = !!options.announce;
    this.name = options.name ?? "";
    this.namespace = options.namespace ?? "/";
    this.kernel = options.kernel ?? "";
    this.page = options.page ?? "";
  }

  /**
   * Use a channel (replacing any previous one, e.g. hub → comm fallback). Callbacks of a
   * replaced channel are ignored.
   * @param {string} kind  "hub" | "comm"
   * @param {(handlers: ChannelHandlers) => Channel} factory
   */
  attach(kind, factory) {
    if (this.channel) this.channel.close();
    this.channel = null;
    const token = {};
    this.current = token;
    const live = () => this.current === token && !this.closed;
    this._setStatus({ state: "connecting", channel: kind, transport: "", error: "" });
    this.channel = factory({
      event: (event, args) => {
        if (live()) this.events.fire(event, args);
      },
      connect: (transport, recovered) => {
        if (live()) this._connected(transport, live, !!recovered);
      },
      disconnect: (reason) => {
        if (!live()) return;
        this._setStatus({ state: "disconnected", error: reason });
        this.local.fire("disconnect", [reason]);
      },
      error: (err) => {
        if (!live()) return;
        this._setStatus({ state: "disconnected", error: err?.message ?? String(err) });
        this.local.fire("connect_error", [err]);
      },
      transport: (transport) => {
        if (live()) this._setStatus({ transport });
      },
    });
    return this.channel;
  }

  /**
   * Drop the channel (its socket closes) but keep every listener: the widget has no live view
   * on this page. Listeners hear "disconnect" ("released"); a later `dial` connects again.
   */
  detach() {
    if (!this.channel) return;
    const channel = this.channel;
    this.channel = null;
    this.current = null;
    channel.close();
    this._setStatus({ state: "closed", transport: "", error: "" });
    this.local.fire("disconnect", ["released"]);
  }

  /**
   * @param {string} transport
   * @param {() => boolean} live  false once this channel was replaced or detached
   * @param {boolean} [recovered]  the hub restored the session (see `subscribe`)
   */
  async _connected(transport, live, recovered = false) {
    await Promise.resolve(); // a channel may report "connect" from inside its factory
    if (!live()) return;
    this.connects += 1;
    this._setStatus({ state: "connected", transport, error: "", recovered });
    if (this.rooms.length) await this.subscribe(this.rooms, { recovered });
    if (live()) this.local.fire("connect", [this.connects, { recovered }]);
  }

  /**
   * Join `rooms`. Listeners hear "replay" `{rooms}` first: after a reconnect (or a channel
   * dialled again) the replay that follows repeats values the widget state may hold already.
   *
   * `recovered`: the hub restored this socket's session (connection-state recovery,
   * `recovery_window`): it is still in its rooms and the hub is sending exactly what it
   * missed, in order (keyed values as their newest), so there is no replay to filter.
   * Events heard now are new: no "replay", and `replaying` stays false (a Feed would
   * otherwise take a missed event equal to one it holds for a repeat). The subscribe is
   * still sent, for what lives beside the rooms (the widget's kernel, presence); joining
   * rooms the socket is in sends no retained values again.
   * @param {string[]} rooms
   * @param {{recovered?: boolean}} [options]
   */
  async subscribe(rooms, options = {}) {
    /** @type {Record<string, any>} */
    const spec = { rooms };
    if (this.announce) spec.announce = true;
    if (this.name) spec.name = this.name;
    if (this.kernel) spec.kernel = this.kernel;
    if (this.page) spec.page = this.page;
    const pending = options.recovered ? null : { channel: this.current };
    if (pending) {
      this.subscribing.add(pending);
      this.local.fire("replay", [{ rooms: [...rooms] }]);
    }
    try {
      const reply = await this.call("sio:subscribe", [spec]).finally(() => {
        if (pending) this.subscribing.delete(pending);
      });
      if (reply && reply.ok) {
        if (reply.me) this.me = reply.me;
        this.local.fire("subscribed", [reply]);
      } else {
        const error = reply?.error ?? reply?.message ?? "subscribe refused";
        this._setStatus({ error: String(error) });
        this.local.fire("subscribe_error", [error]);
      }
      return reply;
    } catch (err) {
      this._setStatus({ error: /** @type {Error} */ (err).message });
      this.local.fire("subscribe_error", [err]);
      return null;
    }
  }

  /**
   * Follow a change of the rooms trait.
   * @param {string[]} rooms
   */
  async setRooms(rooms) {
    const before = new Set(this.rooms);
    const after = new Set(rooms);
    this.rooms = [...rooms];
    if (this.status.state !== "connected") return;
    const gone = [...before].filter((r) => !after.has(r));
    const added = [...after].filter((r) => !before.has(r));
    if (gone.length) await this.call("sio:unsubscribe", [{ rooms: gone }]).catch(() => null);
    if (added.length) await this.subscribe(added);
  }

  /** @param {Partial<Status>} patch */
  _setStatus(patch) {
    const next = { ...this.status, ...patch };
    const changed = Object.keys(next).some(
      (k) => next[/** @type {keyof Status} */ (k)] !== this.status[/** @type {keyof Status} */ (k)],
    );
    this.status = next;
    if (changed) this.local.fire("status", [next]);
  }

  /**
   * Listen to a server event; returns `off`.
   * @param {string} event
   * @param {(...args: any[]) => void} cb
   */
  on(event, cb) {
    return this.events.on(event, cb);
  }

  /**
   * Listen to connection life: "status", "connect", "subscribed", "disconnect", ...
   * @param {string} what
   * @param {(...args: any[]) => void} cb
   */
  onLocal(what, cb) {
    return this.local.on(what, cb);
  }

  /** @param {string} event @param {...any} args */
  emit(event, ...args) {
    if (this.channel && !this.closed) this.channel.emit(event, args);
  }

  /**
   * Emit with an ack; resolves with the ack's first argument, rejects on timeout.
   * @param {string} event
   * @param {any[]} [args]
   * @param {{timeout?: number}} [options]
   */
  call(event, args = [], options = {}) {
    if (!this.channel || this.closed) return Promise.reject(new Error("not connected"));
    return this.channel.call(event, args, options.timeout ?? this.timeout);
  }

  close() {
    this.closed = true;
    if (this.channel) this.channel.close();
    this.channel = null;
    this.current = null;
    this._setStatus({ state: "closed" });
    this.events.clear();
    this.local.clear();
  }
}

/**
 * What the model's traits say about its connection.
 * @param {any} model  the anywidget model
 * @param {DialEnv} [env]
 * @returns {ConnectionOptions}
 */
export function connectionOptions(model, env = {}) {
  return {
    rooms: model.get("rooms") ?? [],
    announce: !!model.get("_announce"),
    name: model.get("name") ?? "",
    namespace: model.get("namespace") || "/",
    kernel: model.get("_kernel") || "",
    page: env.pageId ?? pageId(),
  };
}

/**
 * @typedef {{page?: import("./config.js").PageInfo, pageId?: string, io?: any,
 *   transports?: string[], fallbackAfter?: number}} DialEnv
 */

/**
 * Open the connection of a widget model (a Connection with its channel dialled).
 * @param {any} model  the anywidget model
 * @param {DialEnv} [env]
 * @returns {Connection}
 */
export function openConnection(model, env = {}) {
  return dial(new Connection(connectionOptions(model, env)), model, env);
}

/**
 * Give `conn` a channel: the hub when the page tells where it is (unless the Python side
 * forces `_transport = "comm"`), else the comm; falls back to the comm when the hub refuses
 * or is unreachable before the first connect.
 * @param {Connection} conn
 * @param {any} model  the anywidget model
 * @param {DialEnv} [env]
 * @returns {Connection}
 */
export function dial(conn, model, env = {}) {
  const page = env.page ?? readPage();
  const useComm = () =>
    conn.attach("comm", (h) => createCommChannel(model, h, { namespace: conn.namespace }));
  const hub = model.get("_transport") === "comm" ? null : resolveHub(page);
  if (!hub) {
    useComm();
    return conn;
  }
  let everConnected = false;
  let failures = 0;
  const fallbackAfter = env.fallbackAfter ?? 1;
  const { url, options } = hubOptions({
    origin: page.origin,
    path: hub.path,
    namespace: conn.namespace,
    headers: authHeaders(page),
    token: pageToken(page.pageConfig),
    transports: env.transports,
    parser: hubParser(page.pageConfig),
  });
  const channel = conn.attach("hub", (h) =>
    createHubChannel(
      { url, options, io: env.io, headers: () => authHeaders(env.page ?? readPage()) },
      {
        ...h,
        connect(transport, recovered) {
          everConnected = true;
          h.connect(transport, recovered);
        },
        error(err) {
          h.error(err);
          if (conn.channel !== channel) return; // detached or replaced meanwhile
          if (!everConnected && ++failures >= fallbackAfter) {
            console.info(`jupyter_sio: no hub at ${hub.path} (${err?.message}); using the comm`);
            useComm();
          }
        },
      },
    ),
  );
  return conn;
}
