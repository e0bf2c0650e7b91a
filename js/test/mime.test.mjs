import { test } from "node:test";
import assert from "node:assert/strict";
import { mimePlan } from "../src/mime.js";

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

test("html wins over png and plain text (JupyterLab's ranking)", () => {
  const plan = mimePlan({ data: { "text/plain": "<df>", "text/html": "<table></table>", "image/png": PNG }, metadata: {} });
  assert.deepEqual(plan, { kind: "html", html: "<table></table>" });
});

test("png becomes a data URL with size metadata", () => {
  const plan = mimePlan({
    data: { "image/png": PNG + "\n", "text/plain": "<Figure size 640x480>" },
    metadata: { "image/png": { width: 320, height: 240 } },
  });
  assert.equal(plan.kind, "image");
  assert.equal(plan.src, `data:image/png;base64,${PNG}`);
  assert.equal(plan.width, 320);
  assert.equal(plan.height, 240);
  assert.equal(plan.alt, "<Figure size 640x480>");
});

test("jpeg, and invalid base64 falls through to text", () => {
  assert.equal(mimePlan({ data: { "image/jpeg": "/9j/4AAQ" } }).src, "data:image/jpeg;base64,/9j/4AAQ");
  assert.deepEqual(mimePlan({ data: { "image/png": "<script>", "text/plain": "x" } }), { kind: "text", text: "x", mime: "text/plain" });
});

test("svg is an image (scripts in <img> never run)", () => {
  const plan = mimePlan({ data: { "image/svg+xml": ["<svg>", "</svg>"] } });
  assert.equal(plan.kind, "image");
  assert.equal(plan.src, "data:image/svg+xml;charset=utf-8," + encodeURIComponent("<svg></svg>"));
});

test("plain text, markdown and json", () => {
  assert.deepEqual(mimePlan({ data: { "text/plain": ["a", "b"] } }), { kind: "text", text: "ab", mime: "text/plain" });
  assert.deepEqual(mimePlan({ data: { "text/markdown": "# hi" } }), { kind: "text", text: "# hi", mime: "text/markdown" });
  assert.deepEqual(mimePlan({ data: { "application/json": { a: 1 } } }), { kind: "text", text: '{\n  "a": 1\n}', mime: "application/json" });
});

test("bare mime maps, strings, empties and unknown types", () => {
  assert.equal(mimePlan({ "text/html": "<b>x</b>" }).kind, "html");
  assert.deepEqual(mimePlan("hello"), { kind: "text", text: "hello", mime: "text/plain" });
  assert.deepEqual(mimePlan(null), { kind: "empty" });
  assert.deepEqual(mimePlan({ data: { "application/x-unknown": "?" } }), { kind: "empty" });
  assert.deepEqual(mimePlan({ x: 1 }), { kind: "text", text: '{"x":1}', mime: "application/json" });
});
