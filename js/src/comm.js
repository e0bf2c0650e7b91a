// The fallback channel: the widget comm to the kernel, where a relay (Python,
// jupyter_sio/widgets/relay.py) holds a client connection to the hub. Used when the page
// has no reachable hub (VS Code, Colab, a kernel with an embedded hub) or when the Python
// side sets `_transport = "comm"`.
//
// Front end → kernel: {type: "hello", mode: "comm", namespace, id} | {type: "emit", event, args}
//   | {type: "call", id, event, args, timeout} | {type: "bye", id}
// `id` in hello/bye names this channel: the relay keeps its hub connection while at least one
// front end that said hello has not said bye (a widget's views come and go, see session.js).
// Kernel → front end: {type: "batch", items: [item, ...], dropped} with items
//   {type: "event", event, args} | {type: "reply", id, ok, args?, error?}
//   | {type: "status", connected, reason?}
// The relay batches (≤ ~30 messages/s) to stay far below Jupyter's IOPub rate limit.

import { TimeoutError } from "./channel.js";

/**
 * @typedef {import("./channel.js").Channel} Channel
 * @typedef {import("./channel.js").ChannelHandlers} ChannelHandlers
 * @typedef {{send: (content: any, callbacks?: any, buffers?: any) => void,
 *   on: (name: string, cb: (...args: any[]) => void) => void,
 *   off: (name: string, cb?: (...args: any[]) => void) => void,
 *   get: (name: string) => any}} CommModel
 */

/**
 * @param {CommModel} model
 * @param {ChannelHandlers} handlers
 * @param {{namespace?: string, retry?: number, setTimer?: (cb: () => void, ms: number) => any,
 *   clearTimer?: (h: any) => void}} [options]  `retry`: ms before saying hello again after the
 *   relay failed to connect (doubling up to 30 s)
 * @returns {Channel & {pending: number, dropped: number}}
 */
export function createCommChannel(model, handlers, options = {}) {
  const setTimer = options.setTimer ?? ((cb, ms) => setTimeout(cb, ms));
  const clearTimer = options.clearTimer ?? ((h) => clearTimeout(h));
  /** @type {Map<string, {resolve: (v: any) => void, reject: (e: Error) => void, timer: any}>} */
  const pending = new Map();
  // Ids carry a per-channel prefix: with several front ends on one kernel (two tabs), every
  // front end receives every reply and must only take its own.
  const prefix = Math.random().toString(36).slice(2, 10);
  let nextId = 1;
  let closed = false;
  let connected = false;
  let dropped = 0;

  const hello = () =>
    model.send({ type: "hello", mode: "comm", namespace: options.namespace ?? "/", id: prefix });
  /** @type {any} */
  let helloTimer = null;
  let helloDelay = options.retry ?? 3000;
  // The relay could not reach the hub (yet): ask again, backing off to 30 s.
  const retryHello = () => {
    if (closed || helloTimer !== null) return;
    helloTimer = setTimer(() => {
      helloTimer = null;
      if (!closed && !connected) hello();
    }, helloDelay);
    helloDelay = Math.min(helloDelay * 2, 30000);
  };

  /** @param {Error} error */
  const failAll = (error) => {
    for (const [id, p] of pending) {
      clearTimer(p.timer);
      pending.delete(id);
      p.reject(error);
    }
  };

  /** @param {any} item */
  const handle = (item) => {
    if (!item || typeof item !== "object") return;
    switch (item.type) {
      case "event":
        handlers.event(String(item.event), Array.isArray(item.args) ? item.args : []);
        break;
      case "reply": {
        const p = pending.get(item.id);
        if (!p) return;
        pending.delete(item.id);
        clearTimer(p.timer);
        if (item.ok) p.resolve(Array.isArray(item.args) ? item.args[0] : undefined);
        else p.reject(new Error(String(item.error ?? "call failed")));
        break;
      }
      case "status":
        if (item.connected) {
          connected = true;
          handlers.connect("comm");
        } else {
          const wasConnected = connected;
          connected = false;
          failAll(new Error(`relay disconnected: ${item.reason ?? "unknown"}`));
          if (wasConnected) {
            // the relay's connection reconnects by itself
            handlers.disconnect(String(item.reason ?? "relay disconnected"));
          } else {
            handlers.error(new Error(String(item.reason ?? "relay could not connect")));
            retryHello();
          }
        }
        break;
      default:
        break;
    }
  };

  /** @param {any} msg */
  const onMessage = (msg) => {
    if (closed || !msg || typeof msg !== "object") return;
    if (msg.type === "batch" && Array.isArray(msg.items)) {
      if (typeof msg.dropped === "number") dropped += msg.dropped;
      for (const item of msg.items) handle(item);
    } else {
      handle(msg);
    }
  };

  model.on("msg:custom", onMessage);
  hello();

  return {
    kind: "comm",
    get pending() {
      return pending.size;
    },
    get dropped() {
      return dropped;
    },
    emit(event, args) {
      if (!closed) model.send({ type: "emit", event, args });
    },
    call(event, args, timeout) {
      if (closed) return Promise.reject(new Error("channel closed"));
      const id = `${prefix}:${nextId++}`;
      return new Promise((resolve, reject) => {
        const timer = setTimer(() => {
          pending.delete(id);
          reject(new TimeoutError(`no answer to ${event} within ${timeout} ms`));
        }, timeout);
        pending.set(id, { resolve, reject, timer });
        model.send({ type: "call", id, event, args, timeout: timeout / 1000 });
      });
    },
    close() {
      if (closed) return;
      closed = true;
      if (helloTimer !== null) clearTimer(helloTimer);
      model.off("msg:custom", onMessage);
      failAll(new Error("channel closed"));
      try {
        model.send({ type: "bye", id: prefix });
      } catch {
        /* the model may be gone already */
      }
    },
  };
}
