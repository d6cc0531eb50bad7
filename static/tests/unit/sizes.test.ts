import assert from "node:assert/strict";
import { test } from "node:test";
import { clampSize, percentOf } from "../../src/lib/sizes";

test("a pane keeps at least its minimum, and leaves the other pane its minimum", () => {
  assert.equal(clampSize(300, 1000, 120), 300);
  assert.equal(clampSize(50, 1000, 120), 120);
  assert.equal(clampSize(950, 1000, 120), 880);
  // Too small to give both their minimum: the pane gets its own.
  assert.equal(clampSize(100, 200, 120), 120);
  assert.equal(clampSize(300.6, 1000, 120), 301);
});

test("the separator says its place as a share of the whole", () => {
  assert.equal(percentOf(250, 1000), 25);
  assert.equal(percentOf(10, 0), 0);
});
