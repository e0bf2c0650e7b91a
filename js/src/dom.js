// Small DOM helpers shared by the widgets.

import { coalesce } from "./schedule.js";
import { goneNotice, watchModel } from "./liveness.js";

/**
 * Create an element: `h("div", {class: "x", dataset: {key: "a"}}, child, "text")`.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

/** @param {string} tag @param {Record<string, any>} [attrs] */
export function svg(tag, attrs = {}) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** Set text only when it changed (cheap to call every frame). @param {Element} el @param {string} text */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** @param {HTMLElement} el @param {string} key @param {unknown} value */
export function setData(el, key, value) {
  const s = value === undefined || value === null ? "" : String(value);
  if (el.dataset[key] !== s) el.dataset[key] = s;
}

/** The `status` value as a short state word for CSS and tests. @param {string} status */
export function statusState(status) {
  if (!status) return "connecting";
  if (status === "comm" || status.startsWith("connected")) return "connected";
  return status.split(" ")[0];
}

/**
 * The common frame of a widget view: root with its stable class, a header with a title and a
 * status badge bound to the model's `status` trait, a notice shown once the model's kernel
 * side is gone (liveness.js: a kernel restart), and a body.
 * @param {any} model
 * @param {HTMLElement} el
 * @param {string} cls   e.g. "jsio-metric"
 * @param {string} title
 */
export function frame(model, el, cls, title) {
  const badge = h("span", { class: "jsio-status" });
  const titleEl = h("span", { class: "jsio-title", text: title });
  const header = h("div", { class: "jsio-header" }, titleEl, badge);
  const notice = h("div", { class: "jsio-kernel-notice", role: "status" });
  notice.hidden = true;
  const body = h("div", { class: "jsio-body" });
  const root = h("div", { class: `jsio-widget ${cls}` }, header, notice, body);
  // our notice replaces ipywidgets' bare broken-link icon (widgets.css hides it in hosts)
  el.classList?.add("jsio-host");
  const stopWatching = watchModel(el, model, (gone) => {
    setData(root, "kernel", gone ? "gone" : "live");
    notice.hidden = !gone;
    if (!gone) return;
    const comm = /\bcomm\b/.test(model.get("status") || ""); // "comm", "connecting · comm"
    const { title: head, text, detail } = goneNotice(model.get("_kind") || "", model.get("rooms") || [], { comm });
    notice.replaceChildren(h("strong", { class: "jsio-kernel-notice-title", text: `${head}.` }), " ", text);
    notice.title = detail;
  });
  const theme = model.get("theme");
  if (theme && theme !== "auto") root.dataset.theme = theme;
  const showStatus = () => {
    const status = model.get("status") || "connecting";
    setText(badge, status);
    setData(badge, "status", statusState(status));
    badge.title = `jupyter_sio: ${status}`;
  };
  showStatus();
  model.on("change:status", showStatus);
  el.appendChild(root);
  return {
    root,
    header,
    titleEl,
    body,
    dispose() {
      model.off("change:status", showStatus);
      stopWatching();
      el.classList?.remove("jsio-host");
      root.remove();
    },
  };
}

/**
 * Re-render a view from a store at most once per animation frame.
 * @param {{subscribe: (cb: (v: any) => void) => () => void}} store
 * @param {(time: number) => void} draw
 */
export function drawOnChange(store, draw) {
  const job = coalesce(draw);
  const off = store.subscribe(() => job.request());
  draw(Date.now());
  return {
    /** ask for a redraw in the next frame */
    request: () => job.request(),
    stop() {
      off();
      job.cancel();
    },
  };
}

/**
 * Listen to trait changes; returns `off`.
 * @param {any} model
 * @param {string[]} traits
 * @param {() => void} cb
 */
export function onChange(model, traits, cb) {
  for (const t of traits) model.on(`change:${t}`, cb);
  return () => {
    for (const t of traits) model.off(`change:${t}`, cb);
  };
}
