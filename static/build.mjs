// Bundles the UI into dist/ (app.js, app.css, index.html, and chunks/ that pages load when
// first opened), and the API reader (docs.js, docs.css, docs.html), which berth embeds in its
// binary.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

await rm("dist", { recursive: true, force: true });
await mkdir("dist", { recursive: true });
await build({
  entryPoints: { app: "src/main.ts", docs: "src/docs/main.ts" },
  bundle: true,
  // Pages import their large libraries on demand: those become chunks of their own.
  splitting: true,
  format: "esm",
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  sourcemap: false,
  target: ["chrome110", "firefox110", "safari16"],
  outdir: "dist",
  logLevel: "warning",
});
await copyFile("index.html", "dist/index.html");
await copyFile("docs.html", "dist/docs.html");
console.log("ui: built dist/");
