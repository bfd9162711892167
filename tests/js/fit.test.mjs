import { test } from "node:test";
import assert from "node:assert/strict";

import { fitLines } from "../../static/archviz/fit.js";

// Every character 10 px wide.
const measure = (text) => text.length * 10;

test("a text that fits stays one line", () => {
  assert.deepEqual(fitLines("200 OK", 100, 2, measure), ["200 OK"]);
});

test("a longer text wraps at a space, and every line fits", () => {
  const lines = fitLines("create container relaxed_carson", 180, 2, measure);
  assert.deepEqual(lines, ["create container", "relaxed_carson"]);
  assert.ok(lines.every((line) => measure(line) <= 180));
});

test("what does not fit in the last line is cut with an ellipsis", () => {
  const lines = fitLines("download manifest lab/app@sha256:5c0dbf1515dd6264b6834d9a0787fcbf", 200, 2, measure);
  assert.equal(lines.length, 2);
  assert.equal(lines[0], "download manifest");
  assert.ok(lines[1].endsWith("…") && measure(lines[1]) <= 200);
});

test("a line ends at its last space, even early, rather than in a word", () => {
  assert.deepEqual(fitLines("101 switched to a raw stream", 100, 2, measure), ["101", "switched…"]);
});

test("a word longer than a line breaks after a slash or a colon, else anywhere", () => {
  assert.deepEqual(fitLines("127.0.0.1:5000/lab/busybox:1", 160, 2, measure), ["127.0.0.1:5000/", "lab/busybox:1"]);
  assert.deepEqual(fitLines("abcdefghijklmnopq", 80, 2, measure), ["abcdefgh", "ijklmno…"]);
});

test("one line only: cut with an ellipsis", () => {
  assert.deepEqual(fitLines("docker run --rm 127.0.0.1:5000/lab/app:1", 100, 1, measure), ["docker ru…"]);
  assert.deepEqual(fitLines("", 100, 1, measure), [""]);
});
