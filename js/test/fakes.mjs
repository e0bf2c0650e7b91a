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
