// One session per widget model: its widget state and its Connection, with the hub socket
// held only while the model has a live view on this page.
//
// Why (issue: "each re-run of a widget cell leaves another live hub socket for that page"):
// re-running a cell replaces its output, so the old widget's views go, but the old model stays
// alive (the kernel still references it, e.g. in `Out`). A socket per model would outlive
// every view of it. So the socket follows the views:
//
// - `initialize` (once per model) sets up the session: the kind's state (ring buffers,
//   messages, ...) and a Connection object with no channel. A model never rendered holds no
//   socket.
// - `render` (each view) acquires: the first view dials the hub (or the comm).
// - a view's cleanup releases: when the last one goes, the channel closes after
//   `RELEASE_GRACE_MS`, unless a view arrives meanwhile (JupyterLab re-attaching an output).
// - `pagehide` (reload, navigation, tab closed) closes every channel at once; a page restored
//   from the back/forward cache (`pageshow` with `persisted`) dials again.
// - the model's destruction (`initialize`'s cleanup) disposes of the state and the connection.
//
// The state and the Connection (with the state's listeners) survive a release, so a view
// rendered later shows what the session gathered, and the connection subscribes again.

import { Connection, connectionOptions, dial, statusText } from "./connection.js";

export const RELEASE_GRACE_MS = 250;

/**
 * @typedef {import("./connection.js").DialEnv} DialEnv
 * @typedef {{setup: (ctx: {model: any, conn: Connection}) => any,
 *   view: (ctx: {model: any, el: HTMLElement, state: any, conn: Connection}) => () => void}} WidgetKind
 * @typedef {{kinds: Record<string, WidgetKind>,
 *   unknown: (ctx: {model: any, el: HTMLElement}) => () => void,
 *   env?: DialEnv, grace?: number, setTimer?: (cb: () => void, ms: number) => any,
 *   clearTimer?: (handle: any) => void, window?: EventTarget | null}} SessionsOptions
 */

/**
 * A model's key: its `_uid` trait (a random id set in Python). anywidget hands initialize()
 * and render() different proxy objects for the same model, so the object cannot be the key.
 * @param {any} model
 */
export function sessionKey(model) {
  return model.get("_uid") || model;
}

export class Session {
  /**
   * @param {any} model  a model proxy that outlives the views (initialize's)
   * @param {WidgetKind} kind
   * @param {{env: DialEnv, grace: number, setTimer: (cb: () => void, ms: number) => any,
   *   clearTimer: (handle: any) => void, idle: (session: Session) => void}} options
   *   `idle`: what to do once the last view is gone (after the grace period)
   */
  constructor(model, kind, options) {
    this.model = model;
    this.kind = kind;
    this.options = options;
    this.views = 0;
    /** @type {any} */
    this.releaseTimer = null;
    this.disposed = false;
    this.conn = new Connection(connectionOptions(model, options.env));
    const publish = (/** @type {import("./connection.js").Status} */ s) => {
      const text = statusText(s);
      if (model.get("status") === text) return;
      try {
        model.set("status", text);
        model.save_changes();
      } catch {
        /* the model's comm is closing (page unload, model destroyed) */
      }
    };
    this.conn.onLocal("status", publish);
    this.followRooms = () => this.conn.setRooms(model.get("rooms") ?? []);
    model.on("change:rooms", this.followRooms);
    this.state = kind.setup({ model, conn: this.conn });
  }

  /** True while a channel (hub socket or comm relay) is open or opening. */
  get open() {
    return this.conn.channel !== null;
  }

  /** A view appeared: cancel a pending release; the first view opens the channel. */
  acquire() {
    if (this.disposed) return;
    this.views += 1;
    this._cancelRelease();
    this.resume();
  }

  /** A view's cleanup ran: the last one closes the channel after the grace period. */
  release() {
    if (this.disposed || this.views === 0) return;
    this.views -= 1;
    if (this.views > 0 || this.releaseTimer !== null) return;
    this.releaseTimer = this.options.setTimer(() => {
      this.releaseTimer = null;
      if (this.views === 0 && !this.disposed) this.options.idle(this);
    }, this.options.grace);
  }

  /** Open the channel if views want one and none is open. */
  resume() {
    if (this.disposed || this.views === 0 || this.open) return;
    this.conn.configure(connectionOptions(this.model, this.options.env));
    dial(this.conn, this.model, this.options.env);
  }

  /** Close the channel now, keeping the state and the view count (page hidden, idle). */
  suspend() {
    this._cancelRelease();
    this.conn.detach();
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this._cancelRelease();
    this.model.off("change:rooms", this.followRooms);
    if (this.state && typeof this.state.dispose === "function") this.state.dispose();
    this.conn.close();
  }

  _cancelRelease() {
    if (this.releaseTimer !== null) {
      this.options.clearTimer(this.releaseTimer);
      this.releaseTimer = null;
    }
  }
}

/** The sessions of one instance of this module (anywidget imports it once per model). */
export class Sessions {
  /** @param {SessionsOptions} options */
  constructor(options) {
    this.kinds = options.kinds;
    this.unknown = options.unknown;
    this.env = options.env ?? {};
    this.grace = options.grace ?? RELEASE_GRACE_MS;
    this.setTimer = options.setTimer ?? ((cb, ms) => setTimeout(cb, ms));
    this.clearTimer = options.clearTimer ?? ((h) => clearTimeout(h));
    this.window = options.window === undefined ? globalThis.window ?? null : options.window;
    /** @type {Map<any, Session>} */
    this.sessions = new Map();
    this.onPageHide = () => this.sessions.forEach((s) => s.suspend());
    this.onPageShow = (/** @type {any} */ ev) => {
      if (ev && ev.persisted) this.sessions.forEach((s) => s.resume());
    };
    this.listening = false;
  }

  /**
   * @param {any} model
   * @param {(session: Session) => void} idle
   * @returns {Session | null}  null for an unknown `_kind`
   */
  _create(model, idle) {
    const kind = this.kinds[model.get("_kind")];
    if (!kind) return null;
    const key = sessionKey(model);
    this.sessions.get(key)?.dispose();
    const session = new Session(model, kind, {
      env: this.env,
      grace: this.grace,
      setTimer: this.setTimer,
      clearTimer: this.clearTimer,
      idle,
    });
    this.sessions.set(key, session);
    this._listen();
    return session;
  }

  /** @param {Session} session */
  _drop(session) {
    session.dispose();
    const key = sessionKey(session.model);
    if (this.sessions.get(key) === session) this.sessions.delete(key);
    if (this.sessions.size === 0) this._unlisten();
  }

  /**
   * anywidget's `initialize`: the model's session, no socket yet. Returns the cleanup that
   * runs when the model is destroyed.
   * @param {any} model
   */
  initialize(model) {
    const session = this._create(model, (s) => s.suspend());
    return () => {
      if (session) this._drop(session);
    };
  }

  /**
   * anywidget's `render`: a view holds the session's connection open. Returns the view's
   * cleanup.
   * @param {any} model
   * @param {HTMLElement} el
   */
  render(model, el) {
    let session = this.sessions.get(sessionKey(model)) ?? null;
    if (!session && this.kinds[model.get("_kind")]) {
      // A front end that skipped initialize: the session lives as long as its views.
      session = this._create(model, (s) => this._drop(s));
    }
    if (!session) return this.unknown({ model, el });
    session.acquire();
    const s = session;
    let cleanup;
    try {
      cleanup = s.kind.view({ model, el, state: s.state, conn: s.conn });
    } catch (err) {
      s.release();
      throw err;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      try {
        cleanup?.();
      } finally {
        s.release();
      }
    };
  }

  _listen() {
    if (this.listening || !this.window) return;
    this.listening = true;
    this.window.addEventListener("pagehide", this.onPageHide);
    this.window.addEventListener("pageshow", this.onPageShow);
  }

  _unlisten() {
    if (!this.listening || !this.window) return;
    this.listening = false;
    this.window.removeEventListener("pagehide", this.onPageHide);
    this.window.removeEventListener("pageshow", this.onPageShow);
  }
}
