import { test } from "node:test";
import assert from "node:assert/strict";
import { age, formatValue, sparkPoints, trend } from "../src/format.js";

test("formatValue matches Python's format() for the specs widgets use", () => {
  // expected values produced by CPython's format(value, spec)
  const cases = [
    [1234.5, ".3g", "1.23e+03"],
    [0.5, ".3g", "0.5"],
    [0.000012345, ".3g", "1.23e-05"],
    [123456789, ".3g", "1.23e+08"],
    [42, ".3g", "42"],
    [1.0, ".3g", "1"],
    [-3.14159, ".2f", "-3.14"],
    [1234567, ",d", "1,234,567"],
    [1234567.891, ",.2f", "1,234,567.89"],
    [0.256, ".1%", "25.6%"],
    [12345.678, ".2e", "1.23e+04"],
    [100, ".3g", "100"],
    [999.96, ".4g", "1000"],
    [-0.0001234, ".2g", "-0.00012"],
    [0, ".3g", "0"],
    [1e21, ".3g", "1e+21"],
    [123.456, ".0f", "123"],
  ];
  for (const [v, spec, want] of cases) assert.equal(formatValue(v, spec), want, `${v} ${spec}`);
});

test("formatValue: units, strings, missing values, odd specs", () => {
  assert.equal(formatValue(42.123, ".3g", "ms"), "42.1 ms");
  assert.equal(formatValue(12, ".3g", "%"), "12%");
  assert.equal(formatValue("ok", ".3g"), "ok");
  assert.equal(formatValue(undefined), "–");
  assert.equal(formatValue(null), "–");
  assert.equal(formatValue(NaN), "nan");
  assert.equal(formatValue(-Infinity), "-inf");
  assert.equal(formatValue(1.5, "not a spec"), "1.5");
  assert.equal(formatValue(1.5, ""), "1.5");
  assert.equal(formatValue({ a: 1 }), '{"a":1}');
  assert.equal(formatValue(-0.0001, ".1f"), "0.0");
});

test("trend compares the last two values", () => {
  assert.equal(trend([]), "none");
  assert.equal(trend([1]), "none");
  assert.equal(trend([1, 2]), "up");
  assert.equal(trend([3, 2]), "down");
  assert.equal(trend([2, 2]), "flat");
});

test("sparkPoints scales values into the box", () => {
  assert.equal(sparkPoints([], 100, 20), "");
  assert.equal(sparkPoints([0, 10], 100, 20), "0,19 100,1");
  assert.equal(sparkPoints([5, 5, 5], 100, 20), "0,10 50,10 100,10");
  assert.equal(sparkPoints([7], 100, 20), "50,10");
  assert.equal(sparkPoints([1, NaN, 3], 10, 20).split(" ").length, 2);
});

test("age of a timestamp", () => {
  assert.equal(age(undefined, 100), "");
  assert.equal(age(99.5, 100), "now");
  assert.equal(age(70, 100), "30 s ago");
  assert.equal(age(100 - 125, 100), "2 min ago");
  assert.equal(age(100 - 7300, 100), "2 h ago");
});
