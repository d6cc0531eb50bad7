// The connection drops under a person using a terminal: the page says it is reconnecting, comes
// back by itself with a fresh ticket, and the shell that was cut off is gone from the container
// (no orphaned process). The drop is made by a TCP proxy between Chromium and the server, which
// cuts every connection through it. Run by tests/api/browser.rs.
import { cuttableProxy, launch, lineMatching, run, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, BERTH_CONTAINER, SHOTS } = process.env;

const proxy = await cuttableProxy(BERTH_URL);
const { cut } = proxy;
const url = proxy.url;

const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1000, height: 700 }, locale: "en-US" });
page.setDefaultTimeout(15_000);

await run(browser, SHOTS, { page }, async () => {
  await signIn(page, url, BERTH_USER, BERTH_PASSWORD);
  // A signed-in person lands on their courses; containers are a click away.
  await page.getByRole("link", { name: "Containers" }).click();
  await page.getByRole("link", { name: `Terminal ${BERTH_CONTAINER}` }).click();
  await page.locator(".xterm-rows").waitFor();
  await page.keyboard.type("sleep 4242 & echo before-$((1+1))\n");
  await lineMatching(page, (line) => line === "before-2", "before-2");

  const dropped = Date.now();
  cut();
  const banner = page.getByRole("status").filter({ hasText: "Connection lost; reconnecting…" });
  await banner.waitFor();
  await page.screenshot({ path: `${SHOTS}/reconnecting.png` });
  await banner.waitFor({ state: "hidden" });
  const back = Date.now() - dropped;

  // A new shell on the new connection; the old one, and what it started, were killed.
  await page.locator(".xterm-rows").waitFor();
  await page.keyboard.type("echo after-$((2+2)); echo orphans-$(ps | grep -c '[s]leep 4242')\n");
  await lineMatching(page, (line) => line === "after-4", "after-4");
  const orphans = await lineMatching(page, (line) => line.startsWith("orphans-"), "the count of orphans");
  if (orphans !== "orphans-0") throw new Error(`the cut-off shell's sleep is still running (${orphans})`);
  await page.screenshot({ path: `${SHOTS}/reconnected.png` });
  console.log(`browser: reconnected ${back} ms after the drop; no orphaned process`);
});
proxy.close();
