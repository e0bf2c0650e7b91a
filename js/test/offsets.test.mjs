import { test } from "node:test";
import assert from "node:assert/strict";
import { Offsets } from "../src/hub.js";

test("Offsets: the recovery offset is taken off the arguments and remembered", () => {
  const o = new Offsets();
  assert.deepEqual(o.strip(true, [{ v: 1 }, "Ab3_-xyz:0"]), [{ v: 1 }]);
  assert.equal(o.last, "Ab3_-xyz:0");
  assert.deepEqual(o.strip(true, ["text", "Ab3_-xyz:4"]), ["text"]);
  assert.equal(o.last, "Ab3_-xyz:4");
});

test("Offsets: an event heard again (offset not above the last) is dropped", () => {
  const o = new Offsets();
  assert.deepEqual(o.strip(true, [1, "epochAAA:5"]), [1]);
  assert.equal(o.strip(true, [1, "epochAAA:5"]), null);
  assert.equal(o.strip(true, [0, "epochAAA:3"]), null);
  assert.deepEqual(o.strip(true, [2, "epochBBB:1"]), [2]); // another hub process: new epoch
});

test("Offsets: without recovery, or without an offset, arguments pass unchanged", () => {
  const o = new Offsets();
  assert.deepEqual(o.strip(false, [1, "epochAAA:5"]), [1, "epochAAA:5"]);
  assert.deepEqual(o.strip(true, [{ k: 1 }]), [{ k: 1 }]); // a retained value: no offset
  assert.deepEqual(o.strip(true, ["a plain string"]), ["a plain string"]);
  assert.equal(o.last, null);
  o.strip(true, [1, "epochAAA:5"]);
  o.reset();
  assert.equal(o.last, null);
  assert.deepEqual(o.strip(true, [1, "epochAAA:2"]), [1]); // a fresh session's numbers
});
