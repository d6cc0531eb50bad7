import assert from "node:assert/strict";
import { test } from "node:test";
import { formatRunCommands, parseRunCommands } from "../../src/lib/run-commands";

test("run commands are read one kind of file per line", () => {
  assert.deepEqual(parseRunCommands(".py: python3 {file}\n\n  .c:  tcc  -run {file}  \n"), {
    run: { ".py": ["python3", "{file}"], ".c": ["tcc", "-run", "{file}"] },
  });
  assert.deepEqual(parseRunCommands(""), { run: {} });
});

test("a line that is not an extension and a command is named", () => {
  assert.deepEqual(parseRunCommands(".py: python3\npython3 {file}"), { bad: "python3 {file}" });
  assert.deepEqual(parseRunCommands("py: python3"), { bad: "py: python3" });
  assert.deepEqual(parseRunCommands(".sh:"), { bad: ".sh:" });
});

test("the map goes back to the same lines", () => {
  const text = ".py: python3 {file}\n.sh: sh {file}";
  const parsed = parseRunCommands(text);
  assert.ok("run" in parsed);
  assert.equal(formatRunCommands(parsed.run), text);
});
