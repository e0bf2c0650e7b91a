// Jupyter mime bundles → a render plan (pure, testable) → DOM nodes.

/**
 * @typedef {{kind: "html", html: string}
 *   | {kind: "image", src: string, mime: string, width?: number, height?: number, alt: string}
 *   | {kind: "text", text: string, mime: string}
 *   | {kind: "empty"}} RenderPlan
 */

/** Preference order, as JupyterLab ranks its renderers. */
export const MIME_ORDER = [
  "text/html",
  "image/svg+xml",
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "text/markdown",
  "text/latex",
  "application/json",
  "text/plain",
];

const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

/** @param {unknown} v @returns {string} */
function joined(v) {
  if (Array.isArray(v)) return v.join("");
  return typeof v === "string" ? v : "";
}

/**
 * Choose how to show a bundle `{data: {mime: value}, metadata: {...}}`. A bare mime map, a
 * string or any JSON value are accepted too (text).
 * @param {unknown} bundle
 * @returns {RenderPlan}
 */
export function mimePlan(bundle) {
  if (bundle === null || bundle === undefined) return { kind: "empty" };
  if (typeof bundle !== "object") return { kind: "text", text: String(bundle), mime: "text/plain" };
  const b = /** @type {Record<string, any>} */ (bundle);
  const data = b.data && typeof b.data === "object" ? b.data : b;
  const metadata = b.metadata && typeof b.metadata === "object" ? b.metadata : {};
  const alt = joined(data["text/plain"]).slice(0, 200);
  for (const mime of MIME_ORDER) {
    if (!(mime in data)) continue;
    const value = data[mime];
    const meta = metadata[mime] && typeof metadata[mime] === "object" ? metadata[mime] : {};
    if (mime === "text/html") {
      const html = joined(value);
      if (html) return { kind: "html", html };
    } else if (mime === "image/svg+xml") {
      const svg = joined(value);
      if (svg) {
        const src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
        return { kind: "image", src, mime, alt, ...size(meta) };
      }
    } else if (mime.startsWith("image/")) {
      const b64 = joined(value);
      if (b64 && BASE64.test(b64)) {
        const src = `data:${mime};base64,${b64.replace(/\s+/g, "")}`;
        return { kind: "image", src, mime, alt, ...size(meta) };
      }
    } else if (mime === "application/json") {
      return { kind: "text", text: JSON.stringify(value, null, 2), mime };
    } else {
      const text = joined(value);
      if (text || mime === "text/plain") return { kind: "text", text, mime };
    }
  }
  if (b.data === undefined) return { kind: "text", text: JSON.stringify(bundle), mime: "application/json" };
  return { kind: "empty" };
}

/** @param {Record<string, any>} meta */
function size(meta) {
  /** @type {{width?: number, height?: number}} */
  const out = {};
  if (typeof meta.width === "number") out.width = meta.width;
  if (typeof meta.height === "number") out.height = meta.height;
  return out;
}

/**
 * Build the DOM for a plan. HTML goes into a sandboxed iframe without scripts: any socket that
 * may publish to the room could have sent it, so it must not run in the notebook's page.
 * @param {RenderPlan} plan
 * @param {Document} doc
 * @returns {HTMLElement}
 */
export function renderPlan(plan, doc) {
  const box = doc.createElement("div");
  box.className = "jsio-mime";
  box.dataset.kind = plan.kind;
  if (plan.kind === "html") {
    const frame = doc.createElement("iframe");
    frame.className = "jsio-mime-html";
    frame.setAttribute("sandbox", "allow-same-origin");
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.srcdoc =
      '<!doctype html><meta charset="utf-8"><base target="_blank">' +
      "<style>body{margin:0;font:13px system-ui,sans-serif}table{border-collapse:collapse}" +
      "td,th{padding:2px 6px;border-bottom:1px solid #ddd}</style>" +
      plan.html;
    frame.addEventListener("load", () => {
      try {
        const h = frame.contentDocument?.body?.scrollHeight;
        if (h) frame.style.height = `${Math.min(h + 4, 800)}px`;
      } catch {
        /* cross-origin: keep the default height */
      }
    });
    box.appendChild(frame);
  } else if (plan.kind === "image") {
    const img = doc.createElement("img");
    img.className = "jsio-mime-image";
    img.src = plan.src;
    img.alt = plan.alt;
    img.dataset.mime = plan.mime;
    if (plan.width) img.width = plan.width;
    if (plan.height) img.height = plan.height;
    box.appendChild(img);
  } else if (plan.kind === "text") {
    const pre = doc.createElement("pre");
    pre.className = "jsio-mime-text";
    pre.textContent = plan.text;
    box.appendChild(pre);
  }
  return box;
}
