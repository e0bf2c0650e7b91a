// A tiny listener registry: `on` returns its own `off`.

/** @template {any[]} A */
export class Emitter {
  constructor() {
    /** @type {Map<string, Set<(...args: any[]) => void>>} */
    this.listeners = new Map();
  }

  /**
   * @param {string} event
   * @param {(...args: any[]) => void} cb
   * @returns {() => void} removes the listener
   */
  on(event, cb) {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(cb);
    return () => {
      set.delete(cb);
      if (set.size === 0 && this.listeners.get(event) === set) this.listeners.delete(event);
    };
  }

  /**
   * Call every listener of `event`; a failing listener is logged, not propagated.
   * @param {string} event
   * @param {any[]} args
   */
  fire(event, args) {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const cb of [...set]) {
      try {
        cb(...args);
      } catch (err) {
        console.error(`jupyter_sio: listener for ${event} failed`, err);
      }
    }
  }

  clear() {
    this.listeners.clear();
  }
}

/**
 * A value holder that tells subscribers when it changes (one store per widget model, shared
 * by all its views).
 * @template T
 */
export class Store {
  /** @param {T} value */
  constructor(value) {
    this.value = value;
    /** @type {Set<(value: T) => void>} */
    this.subscribers = new Set();
  }

  /** @returns {T} */
  get() {
    return this.value;
  }

  /** @param {T} value */
  set(value) {
    this.value = value;
    this.changed();
  }

  /** Mutate in place, then notify. @param {(value: T) => void} fn */
  update(fn) {
    fn(this.value);
    this.changed();
  }

  changed() {
    for (const cb of [...this.subscribers]) {
      try {
        cb(this.value);
      } catch (err) {
        console.error("jupyter_sio: store subscriber failed", err);
      }
    }
  }

  /** @param {(value: T) => void} cb @returns {() => void} */
  subscribe(cb) {
    this.subscribers.add(cb);
    return () => this.subscribers.delete(cb);
  }
}
