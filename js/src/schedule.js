// Coalescing: many updates per frame become one DOM write per frame.

/**
 * @typedef {(cb: (time: number) => void) => any} RequestFrame
 * @typedef {(handle: any) => void} CancelFrame
 */

/** @returns {{raf: RequestFrame, caf: CancelFrame}} */
export function frameFunctions() {
  const g = /** @type {any} */ (globalThis);
  if (typeof g.requestAnimationFrame === "function") {
    return {
      raf: (cb) => g.requestAnimationFrame(cb),
      caf: (h) => g.cancelAnimationFrame(h),
    };
  }
  return { raf: (cb) => setTimeout(() => cb(Date.now()), 16), caf: (h) => clearTimeout(h) };
}

/**
 * Run `fn` at most once per animation frame, however often `request()` is called.
 * @param {(time: number) => void} fn
 * @param {{raf: RequestFrame, caf: CancelFrame}} [frames]
 */
export function coalesce(fn, frames = frameFunctions()) {
  /** @type {any} */
  let handle = null;
  let closed = false;
  const run = (/** @type {number} */ time) => {
    handle = null;
    if (!closed) fn(time);
  };
  return {
    /** Ask for a run in the next frame (no-op if one is already asked for). */
    request() {
      if (handle === null && !closed) handle = frames.raf(run);
    },
    get pending() {
      return handle !== null;
    },
    /** Run now if a frame was pending (used by tests and by cleanup). */
    flush() {
      if (handle !== null) {
        frames.caf(handle);
        run(Date.now());
      }
    },
    cancel() {
      closed = true;
      if (handle !== null) frames.caf(handle);
      handle = null;
    },
  };
}

/**
 * Collect items and hand them over in batches: at most one batch per `interval` ms, and at
 * most `maxItems` waiting (oldest dropped, counted). Timers are injectable for tests.
 * @template T
 * @param {(items: T[], dropped: number) => void} send
 * @param {{interval?: number, maxItems?: number, setTimer?: (cb: () => void, ms: number) => any,
 *   clearTimer?: (h: any) => void, now?: () => number}} [options]
 */
export function batcher(send, options = {}) {
  const interval = options.interval ?? 33;
  const maxItems = options.maxItems ?? 5000;
  const setTimer = options.setTimer ?? ((cb, ms) => setTimeout(cb, ms));
  const clearTimer = options.clearTimer ?? ((h) => clearTimeout(h));
  const now = options.now ?? (() => Date.now());
  /** @type {T[]} */
  let items = [];
  let dropped = 0;
  let last = -Infinity;
  /** @type {any} */
  let timer = null;

  const flush = () => {
    timer = null;
    if (items.length === 0) return;
    const out = items;
    const lost = dropped;
    items = [];
    dropped = 0;
    last = now();
    send(out, lost);
  };

  return {
    /** @param {T} item */
    add(item) {
      items.push(item);
      if (items.length > maxItems) {
        items.shift();
        dropped += 1;
      }
      if (timer !== null) return;
      const wait = Math.max(0, last + interval - now());
      timer = setTimer(flush, wait);
    },
    flush() {
      if (timer !== null) clearTimer(timer);
      flush();
    },
    get size() {
      return items.length;
    },
    close() {
      if (timer !== null) clearTimer(timer);
      timer = null;
      items = [];
    },
  };
}
