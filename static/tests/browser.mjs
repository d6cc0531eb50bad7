// What every browser test shares: Debian's Chromium started as the machine allows (never a
// downloaded browser), a clean screenshot folder, and signing in as a person does.
import { chromium } from "playwright-core";
import { mkdir, rm } from "node:fs/promises";
import net from "node:net";

/** Starts Chromium and empties the screenshot folder `shots`. */
export async function launch(shots) {
  await rm(shots, { recursive: true, force: true });
  await mkdir(shots, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Signs in through the form, finding its fields by their labels. */
export async function signIn(page, url, username, password) {
  await page.goto(url);
  // Under a loaded test run the first page through a test proxy has come up blank (its script
  // not run) now and then; a person reloads, and so does the test, once. (Likely Chromium's
  // ERR_NETWORK_CHANGED as containers came and went: see ensure_chromium in scripts/setup.sh.)
  const form = page.getByLabel("Username");
  if (!(await form.waitFor({ timeout: 7_000 }).then(() => true, () => false))) await page.reload();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** The lines of the terminal(s) on the page, as shown on screen. */
export const screenLines = (page) =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll(".xterm-rows > div")).map((row) => row.textContent.trimEnd()),
  );

/** Waits until a terminal line satisfies `test` (polling the screen); returns it. */
export async function lineMatching(page, test, what, within = 15_000) {
  const deadline = Date.now() + within;
  while (Date.now() < deadline) {
    const found = (await screenLines(page)).find(test);
    if (found) return found;
    await page.waitForTimeout(50);
  }
  throw new Error(`the terminal never showed ${what}; it shows:\n${(await screenLines(page)).join("\n")}`);
}

/** Runs a test's `steps`; when one fails, keeps a screenshot of each of `pages` (named by the
 * key) in `shots`, says where, and fails the script. Closes the browser either way. */
export async function run(browser, shots, pages, steps) {
  // Requests that failed below HTTP (a dropped connection, ERR_NETWORK_CHANGED) are said on
  // failure: a screenshot does not show them.
  const failed = [];
  for (const page of Object.values(pages)) {
    page.on("requestfailed", (r) => failed.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  }
  try {
    await steps();
  } catch (error) {
    if (failed.length) console.error(`requests that failed:\n  ${failed.join("\n  ")}`);
    for (const [name, page] of Object.entries(pages)) {
      await page.screenshot({ path: `${shots}/failed-${name}.png`, fullPage: true }).catch(() => {});
    }
    console.error(`browser test failed (screenshots: ${shots}/failed-*.png):`, error);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

/** A TCP proxy in front of the server at `target` (a URL): `url` goes through it, and `cut()`
 * destroys every connection it holds (new ones are accepted), as a network drop would. */
export async function cuttableProxy(target) {
  const upstream = new URL(target);
  const sockets = new Set();
  const server = net.createServer((client) => {
    const toServer = net.connect(Number(upstream.port), upstream.hostname);
    for (const socket of [client, toServer]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    client.pipe(toServer);
    toServer.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const cut = () => sockets.forEach((socket) => socket.destroy());
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    cut,
    close: () => {
      server.close();
      cut();
    },
  };
}
