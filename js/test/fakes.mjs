// Test doubles: an anywidget model and manual timers.

export class FakeModel {
  constructor(state = {}) {
    this.state = { rooms: [], namespace: "/", _transport: "auto", status: "", ...state };
    this.sent = [];
    this.handlers = new Map();
    this.saves = 0;
  }
  get(name) {
    return this.state[name];
  }
  set(name, value) {
    const old = this.state[name];
    this.state[name] = value;
    if (old !== value) this.trigger(`change:${name}`, value);
  }
  save_changes() {
    this.saves += 1;
  }
  send(content) {
    this.sent.push(structuredClone(content));
  }
  on(name, cb) {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name).add(cb);
  }
  off(name, cb) {
    if (cb) this.handlers.get(name)?.delete(cb);
    else this.handlers.delete(name);
  }
  trigger(name, ...args) {
    for (const cb of [...(this.handlers.get(name) ?? [])]) cb(...args);
  }
  /** the kernel side sends a custom message */
  receive(msg) {
    this.trigger("msg:custom", msg, []);
  }
  listeners(name) {
    return this.handlers.get(name)?.size ?? 0;
  }
}

export function manualTimers() {
  const timers = new Set();
  return {
    setTimer: (cb, ms) => {
      const t = { cb, ms };
      timers.add(t);
      return t;
    },
    clearTimer: (t) => timers.delete(t),
    fireAll() {
      const all = [...timers];
      timers.clear();
      all.forEach((t) => t.cb());
    },
    get size() {
      return timers.size;
    },
  };
}

export const tick = () => new Promise((r) => setImmediate(r));

/**
 * A stand-in for socket.io-client's io(): records each socket it makes (its URL, options and
 * acked calls), lets the test fire the socket's events. `live()`: the sockets still open.
 */
export function fakeIo() {
  const made = [];
  let sids = 0;
  const io = (url, options) => {
    const listeners = new Map();
    const managerListeners = new Map();
    const sid = `sid${++sids}`;
    const socket = {
      url,
      options,
      sid,
      calls: [],
      disconnected: false,
      on: (e, cb) => listeners.set(e, cb),
      onAny: (cb) => listeners.set("*", cb),
      offAny: () => listeners.delete("*"),
      removeAllListeners: () => listeners.clear(),
      disconnect: () => (socket.disconnected = true),
      fire: (e, ...a) => listeners.get(e)?.(...a),
      io: {
        opts: { extraHeaders: options.extraHeaders },
        engine: { transport: { name: "websocket" }, on() {} },
        on: (e, cb) => managerListeners.set(e, cb),
        fire: (e) => managerListeners.get(e)?.(),
      },
      timeout: () => ({
        emitWithAck: async (event, ...args) => {
          socket.calls.push([event, args]);
          const rooms = args[0]?.rooms ?? [];
          return { ok: true, rooms, me: { sid } };
        },
      }),
    };
    made.push(socket);
    return socket;
  };
  return { io, made, live: () => made.filter((s) => !s.disconnected) };
}
