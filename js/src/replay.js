// Retained values and history, heard again: when a widget's socket joins a room, the hub
// replays the room's retained packets (each key's history, oldest first, then its current
// value). A fresh widget wants all of it (a reloaded LiveChart rebuilds its recent past);
// a widget that reconnects (network blip, hub restart, a view shown again after the page
// hid it) holds most of it already and must not show it twice.
//
// The Connection says when a replay may be arriving (`conn.replaying`: between
// `sio:subscribe` and its answer) and announces each one ("replay" local event). Two rules:
// - time series (metric values carry `t`): a replayed value not newer than the newest one
//   of its key is a repeat;
// - event lists (Feed): a replayed event equal to one the list held when the replay began
//   is a repeat (each held item absorbs one repeat).

/**
 * A replayed time-series value the widget holds already: `t` not newer than `lastT`.
 * Live values always count (a producer restarted with its own clock may go back in time).
 * @param {boolean} replaying  `conn.replaying`
 * @param {unknown} t          the value's time
 * @param {number | undefined | null} lastT  the newest time of its key so far
 */
export function isRepeat(replaying, t, lastT) {
  return replaying && typeof t === "number" && typeof lastT === "number" && t <= lastT;
}

/**
 * A comparable form of one event (its name and arguments).
 * @param {string} event
 * @param {any[]} args
 */
export function signature(event, args) {
  try {
    return JSON.stringify([event, args]);
  } catch {
    return `${event}\u0000${String(args)}`;
  }
}

/** The events a list held when a replay began; each absorbs one equal replayed event. */
export class ReplayFilter {
  constructor() {
    /** @type {Map<string, number>} */
    this.held = new Map();
  }

  /**
   * A replay begins: remember what the list holds now.
   * @param {Iterable<{event: string, args: any[]}>} items
   */
  begin(items) {
    this.held.clear();
    for (const item of items) {
      const sig = signature(item.event, item.args);
      this.held.set(sig, (this.held.get(sig) ?? 0) + 1);
    }
  }

  /**
   * Is this event, heard while `replaying`, one the list holds already? (Consumes it.)
   * @param {boolean} replaying
   * @param {string} event
   * @param {any[]} args
   */
  repeat(replaying, event, args) {
    if (!replaying || this.held.size === 0) return false;
    const sig = signature(event, args);
    const n = this.held.get(sig) ?? 0;
    if (n === 0) return false;
    if (n === 1) this.held.delete(sig);
    else this.held.set(sig, n - 1);
    return true;
  }
}
