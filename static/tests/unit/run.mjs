// Runs the UI's unit tests (tests/unit/*.test.ts, for the pure helpers in src/lib) with node's
// own test runner: esbuild turns each into plain JavaScript first, as it does the UI.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const tests = (await readdir(here)).filter((name) => name.endsWith(".test.ts"));
const out = await mkdtemp(join(tmpdir(), "berth-ui-tests-"));
try {
  await build({
    entryPoints: tests.map((name) => join(here, name)),
    bundle: true,
    platform: "node",
    format: "esm",
    outdir: out,
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
  const files = tests.map((name) => join(out, name.replace(/\.ts$/, ".mjs")));
  const run = spawnSync(process.execPath, ["--test", ...files], { stdio: "inherit" });
  process.exitCode = run.status ?? 1;
} finally {
  await rm(out, { recursive: true, force: true });
}
