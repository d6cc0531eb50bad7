// Bundles the UI into dist/ (app.js, app.css, index.html), which berth embeds in its binary.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

await rm("dist", { recursive: true, force: true });
await mkdir("dist", { recursive: true });
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ["chrome110", "firefox110", "safari16"],
  outfile: "dist/app.js",
  logLevel: "warning",
});
await copyFile("index.html", "dist/index.html");
console.log("ui: built dist/");
