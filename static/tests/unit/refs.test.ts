import assert from "node:assert/strict";
import { test } from "node:test";
import { splitRef } from "../../src/lib/refs";

test("a reference splits into its repository and tag", () => {
  assert.deepEqual(splitRef("python:3.12-slim"), ["python", "3.12-slim"]);
  assert.deepEqual(splitRef("lab/python"), ["lab/python", undefined]);
});

test("the colon of a registry's port is not a tag's", () => {
  assert.deepEqual(splitRef("registry.school:5000/lab/python"), ["registry.school:5000/lab/python", undefined]);
  assert.deepEqual(splitRef("registry.school:5000/lab/python:1"), ["registry.school:5000/lab/python", "1"]);
});
