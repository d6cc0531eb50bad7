import assert from "node:assert/strict";
import { test } from "node:test";
import { LineSplitter, olderThan, type Line } from "../../src/lib/lines";

const bytes = (text: string) => new TextEncoder().encode(text);
const line = (stamp: string, text: string): Line => ({ stamp, text, stderr: false });

test("lines are split per channel, a line's start kept until its end comes", () => {
  const splitter = new LineSplitter();
  const out: Line[] = [];
  splitter.push(1, bytes("2026-01-01T00:00:01Z one\n2026-01-01T00:00:02Z tw"), out);
  splitter.push(2, bytes("2026-01-01T00:00:03Z oops\n"), out);
  splitter.push(1, bytes("o\n2026-01-01T00:00:04Z three"), out);
  assert.deepEqual(
    out.map((l) => [l.text, l.stderr]),
    [
      ["one", false],
      ["oops", true],
      ["two", false],
    ],
  );
  splitter.flush(out);
  assert.equal(out.at(-1)?.text, "three");
});

test("a character cut between chunks is whole", () => {
  const splitter = new LineSplitter();
  const out: Line[] = [];
  const encoded = bytes("2026-01-01T00:00:01Z héllo\n");
  const cut = encoded.indexOf(0xc3) + 1;
  splitter.push(1, encoded.slice(0, cut), out);
  splitter.push(1, encoded.slice(cut), out);
  assert.equal(out[0].text, "héllo");
});

test("the earlier lines are those before the held ones, matched by count at a shared stamp", () => {
  const held = [line("t3", "c"), line("t3", "d"), line("t4", "e")];
  // The history read again: the two lines at t3 are the held ones, one more at t3 is older.
  const history = [line("t1", "a"), line("t2", "b"), line("t3", "x"), line("t3", "c"), line("t3", "d")];
  assert.deepEqual(
    olderThan(history, held).map((l) => l.text),
    ["a", "b", "x"],
  );
  assert.deepEqual(olderThan(history, []), history);
  assert.deepEqual(olderThan([line("t5", "late")], held), []);
});
