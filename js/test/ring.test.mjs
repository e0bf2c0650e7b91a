import { test } from "node:test";
import assert from "node:assert/strict";
import { Ring } from "../src/ring.js";

test("ring keeps the newest points in order", () => {
  const r = new Ring(3);
  for (let i = 0; i < 5; i++) r.push(i, i * 10);
  assert.equal(r.length, 3);
  assert.equal(r.total, 5);
  assert.deepEqual(r.toArray(), [[2, 20], [3, 30], [4, 40]]);
  assert.deepEqual(r.last(), [4, 40]);
  assert.deepEqual(r.yExtent(), [20, 40]);
});

test("empty ring", () => {
  const r = new Ring(0);
  assert.equal(r.capacity, 1);
  assert.equal(r.last(), undefined);
  assert.equal(r.yExtent(), undefined);
});

test("resize keeps the newest points", () => {
  const r = new Ring(5);
  for (let i = 0; i < 5; i++) r.push(i, i);
  r.resize(2);
  assert.deepEqual(r.toArray(), [[3, 3], [4, 4]]);
  assert.equal(r.total, 5);
  r.resize(4);
  r.push(5, 5);
  assert.deepEqual(r.toArray(), [[3, 3], [4, 4], [5, 5]]);
  r.clear();
  assert.equal(r.length, 0);
});

test("thousands of points without growth", () => {
  const r = new Ring(2000);
  for (let i = 0; i < 100000; i++) r.push(i, Math.sin(i));
  assert.equal(r.length, 2000);
  assert.equal(r.x(0), 98000);
  assert.equal(r.xs.length, 2000);
});
