// Where the hub is and how to authenticate to it, read from the page at run time.
// Pure functions take their inputs as arguments so they can be tested without a DOM;
// `readPage` is the only one that touches `document`.

/**
 * @typedef {object} PageInfo
 * @property {Record<string, any> | null} pageConfig  parsed `#jupyter-config-data`, if any
 * @property {string | undefined} bodyBaseUrl          `document.body.dataset.baseUrl` (classic notebook)
 * @property {string} cookie                           `document.cookie`
 * @property {string} origin                           `location.origin`
 */

/**
 * @typedef {object} HubLocation
 * @property {string} path    the Socket.IO path on `origin`, with a trailing slash
 * @property {string} source  where it came from: "jupyterSio" | "baseUrl" | "body"
 */

export const EXTENSION_PATH = "jupyter-sio/";

/** Join URL path pieces with exactly one slash between them and a trailing slash. */
export function joinPath(...parts) {
  const joined = parts
    .filter((p) => p !== undefined && p !== null && p !== "")
    .map((p, i) => {
      let s = String(p);
      if (i > 0) s = s.replace(/^\/+/, "");
      return s.replace(/\/+$/, "");
    })
    .join("/");
  const withLead = joined.startsWith("/") ? joined : "/" + joined;
  return withLead.endsWith("/") ? withLead : withLead + "/";
}

/** Reduce an absolute URL to its path (page config values are usually paths already). */
function pathOf(value) {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      return new URL(value).pathname;
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * The hub's Socket.IO path, from (in order) the extension's page config hint
 * `jupyterSio.socketioPath`, JupyterLab's `baseUrl` + `jupyter-sio/socket.io/`, or the classic
 * notebook's `document.body.dataset.baseUrl`. `null` when the page gives no hint (VS Code,
 * Colab, a static page): then the widget uses the comm.
 * @param {{pageConfig?: Record<string, any> | null, bodyBaseUrl?: string}} page
 * @returns {HubLocation | null}
 */
export function resolveHub(page) {
  const pc = page.pageConfig;
  const sio = pc && typeof pc.jupyterSio === "object" ? pc.jupyterSio : null;
  if (sio && typeof sio.socketioPath === "string" && sio.socketioPath) {
    return { path: joinPath(pathOf(sio.socketioPath)), source: "jupyterSio" };
  }
  if (sio && typeof sio.path === "string" && sio.path) {
    return { path: joinPath(pathOf(sio.path), "socket.io"), source: "jupyterSio" };
  }
  if (pc && typeof pc.baseUrl === "string" && pc.baseUrl) {
    return { path: joinPath(pathOf(pc.baseUrl), EXTENSION_PATH, "socket.io"), source: "baseUrl" };
  }
  if (typeof page.bodyBaseUrl === "string" && page.bodyBaseUrl) {
    return {
      path: joinPath(pathOf(page.bodyBaseUrl), EXTENSION_PATH, "socket.io"),
      source: "body",
    };
  }
  return null;
}

/**
 * One cookie's value (same rule JupyterLab uses for `_xsrf`).
 * @param {string} cookies  a `document.cookie` string
 * @param {string} name
 * @returns {string | undefined}
 */
export function parseCookie(cookies, name) {
  if (!cookies) return undefined;
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return undefined;
}

/**
 * Request headers for the polling transport: `X-XSRFToken` from the `_xsrf` cookie, and
 * `Authorization: token ...` only when page config carries a non-empty token.
 * @param {{cookie?: string, pageConfig?: Record<string, any> | null}} page
 * @returns {Record<string, string>}
 */
export function authHeaders(page) {
  /** @type {Record<string, string>} */
  const headers = {};
  const xsrf = parseCookie(page.cookie || "", "_xsrf");
  if (xsrf) headers["X-XSRFToken"] = xsrf;
  const token = pageToken(page.pageConfig);
  if (token) headers["Authorization"] = `token ${token}`;
  return headers;
}

/**
 * The hub's Socket.IO parser, from page config (`c.JupyterSioApp.parser`): "default" or
 * "msgpack".
 * @param {Record<string, any> | null | undefined} pageConfig
 */
export function hubParser(pageConfig) {
  const sio = pageConfig && typeof pageConfig.jupyterSio === "object" ? pageConfig.jupyterSio : null;
  return sio && sio.parser === "msgpack" ? "msgpack" : "default";
}

/** @param {Record<string, any> | null | undefined} pageConfig */
export function pageToken(pageConfig) {
  const token = pageConfig && pageConfig.token;
  return typeof token === "string" && token ? token : "";
}

/**
 * Read the page (only place that touches the DOM).
 * @param {any} [doc]
 * @param {any} [loc]
 * @returns {PageInfo}
 */
export function readPage(doc = globalThis.document, loc = globalThis.location) {
  /** @type {Record<string, any> | null} */
  let pageConfig = null;
  const node = doc && doc.getElementById ? doc.getElementById("jupyter-config-data") : null;
  if (node && node.textContent) {
    try {
      pageConfig = JSON.parse(node.textContent);
    } catch {
      pageConfig = null;
    }
  }
  return {
    pageConfig,
    bodyBaseUrl: doc && doc.body && doc.body.dataset ? doc.body.dataset.baseUrl : undefined,
    cookie: (doc && typeof doc.cookie === "string" && doc.cookie) || "",
    origin: (loc && loc.origin) || "",
  };
}

export const PAGE_ID_KEY = "__jupyterSioPageId";

/**
 * This page's id: random, made once per page load and shared by every widget on the page
 * (anywidget imports this bundle once per model, so it lives on the global object, not in a
 * module variable). Sent in `sio:subscribe` so that presence counts a person once per page.
 * Not a secret: it only tells two sockets of one page apart from those of another page.
 * @param {Record<string, any>} [scope]
 * @returns {string}
 */
export function pageId(scope = globalThis) {
  if (typeof scope[PAGE_ID_KEY] !== "string" || !scope[PAGE_ID_KEY]) {
    const c = scope.crypto;
    scope[PAGE_ID_KEY] =
      c && typeof c.randomUUID === "function"
        ? c.randomUUID()
        : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
  }
  return scope[PAGE_ID_KEY];
}
