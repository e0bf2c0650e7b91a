import { test } from "node:test";
import assert from "node:assert/strict";
import { authHeaders, joinPath, pageToken, parseCookie, readPage, resolveHub } from "../src/config.js";

test("socketioPath from the extension's page config wins", () => {
  const hub = resolveHub({
    pageConfig: { baseUrl: "/user/ann/", jupyterSio: { path: "/user/ann/jupyter-sio/", socketioPath: "/user/ann/jupyter-sio/socket.io/" } },
  });
  assert.deepEqual(hub, { path: "/user/ann/jupyter-sio/socket.io/", source: "jupyterSio" });
});

test("jupyterSio.path without socketioPath", () => {
  assert.equal(resolveHub({ pageConfig: { jupyterSio: { path: "/b/jupyter-sio" } } })?.path, "/b/jupyter-sio/socket.io/");
});

test("baseUrl + jupyter-sio/socket.io/ when the hint is missing", () => {
  assert.deepEqual(resolveHub({ pageConfig: { baseUrl: "/base/" } }), { path: "/base/jupyter-sio/socket.io/", source: "baseUrl" });
  assert.equal(resolveHub({ pageConfig: { baseUrl: "/" } })?.path, "/jupyter-sio/socket.io/");
  assert.equal(resolveHub({ pageConfig: { baseUrl: "/no-slash" } })?.path, "/no-slash/jupyter-sio/socket.io/");
});

test("absolute URLs in page config are reduced to paths", () => {
  assert.equal(resolveHub({ pageConfig: { baseUrl: "http://h:8888/x/" } })?.path, "/x/jupyter-sio/socket.io/");
  assert.equal(
    resolveHub({ pageConfig: { jupyterSio: { socketioPath: "https://h/y/jupyter-sio/socket.io/" } } })?.path,
    "/y/jupyter-sio/socket.io/",
  );
});

test("classic notebook body data-base-url", () => {
  assert.deepEqual(resolveHub({ pageConfig: null, bodyBaseUrl: "/nb/" }), { path: "/nb/jupyter-sio/socket.io/", source: "body" });
});

test("no hint at all: null (use the comm)", () => {
  assert.equal(resolveHub({ pageConfig: null }), null);
  assert.equal(resolveHub({ pageConfig: {}, bodyBaseUrl: "" }), null);
  assert.equal(resolveHub({ pageConfig: { jupyterSio: "junk", baseUrl: "" } }), null);
});

test("joinPath keeps one slash between pieces and a trailing slash", () => {
  assert.equal(joinPath("/a/", "/b/", "c"), "/a/b/c/");
  assert.equal(joinPath("a"), "/a/");
  assert.equal(joinPath("/"), "/");
});

test("parseCookie finds _xsrf among other cookies and decodes it", () => {
  const jar = 'username-127-0-0-1-8888="2|1:0|abc"; _xsrf=2|d4e5%7Cf00|99; other=1';
  assert.equal(parseCookie(jar, "_xsrf"), "2|d4e5|f00|99");
  assert.equal(parseCookie(jar, "other"), "1");
  assert.equal(parseCookie(jar, "missing"), undefined);
  assert.equal(parseCookie("", "_xsrf"), undefined);
  assert.equal(parseCookie("not_xsrf=1", "_xsrf"), undefined);
  assert.equal(parseCookie("_xsrf=%E0%A4%A", "_xsrf"), "%E0%A4%A"); // bad escapes: raw
});

test("authHeaders: X-XSRFToken always when the cookie exists, Authorization only with a token", () => {
  assert.deepEqual(authHeaders({ cookie: "_xsrf=abc", pageConfig: { token: "" } }), { "X-XSRFToken": "abc" });
  assert.deepEqual(authHeaders({ cookie: "_xsrf=abc", pageConfig: { token: "t0k" } }), {
    "X-XSRFToken": "abc",
    Authorization: "token t0k",
  });
  assert.deepEqual(authHeaders({ cookie: "", pageConfig: null }), {});
  assert.equal(pageToken({ token: 5 }), "");
});

test("readPage reads a fake document", () => {
  const doc = {
    getElementById: (id) => (id === "jupyter-config-data" ? { textContent: '{"baseUrl": "/b/"}' } : null),
    body: { dataset: { baseUrl: "/c/" } },
    cookie: "_xsrf=x",
  };
  const page = readPage(doc, { origin: "http://h" });
  assert.deepEqual(page, { pageConfig: { baseUrl: "/b/" }, bodyBaseUrl: "/c/", cookie: "_xsrf=x", origin: "http://h" });
  const broken = readPage({ getElementById: () => ({ textContent: "{" }), cookie: "" }, {});
  assert.equal(broken.pageConfig, null);
  assert.deepEqual(readPage(undefined, undefined), { pageConfig: null, bodyBaseUrl: undefined, cookie: "", origin: "" });
});

test("hubParser: msgpack only when page config says so; hubOptions picks the parser", async () => {
  const { hubParser } = await import("../src/config.js");
  const { hubOptions } = await import("../src/hub.js");
  assert.equal(hubParser({ jupyterSio: { parser: "msgpack" } }), "msgpack");
  assert.equal(hubParser({ jupyterSio: { parser: "default" } }), "default");
  assert.equal(hubParser(null), "default");
  const packed = hubOptions({ origin: "", path: "/p/", headers: {}, parser: "msgpack" }).options;
  assert.equal(typeof packed.parser.Encoder, "function");
  assert.equal(hubOptions({ origin: "", path: "/p/", headers: {} }).options.parser, undefined);
});
