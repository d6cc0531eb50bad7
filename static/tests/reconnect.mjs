// The connection drops under a person using a terminal: the page says it is reconnecting, comes
// back by itself with a fresh ticket, and takes the same shell back (`reattach`): what it had
// on screen, its process, its variables and its background job are still there. Then the
// page is reloaded, and the same shell is taken back again, its screen intact. The drop is made by a TCP proxy between Chromium and the server, which cuts every
// connection through it. Run by tests/api/browser.rs.
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
  await page.keyboard.type("sleep 4242 & KEPT=kept-$((3*3)); echo before-$((1+1))\n");
  await lineMatching(page, (line) => line === "before-2", "before-2");
  // The shell's process id, to compare after the drop.
  await page.keyboard.type("echo pid-$$\n");
  const pidBefore = await lineMatching(page, (line) => /^pid-\d+$/.test(line), "the shell's pid");

  const dropped = Date.now();
  cut();
  const banner = page.getByRole("status").filter({ hasText: "Connection lost; reconnecting…" });
  await banner.waitFor();
  await page.screenshot({ path: `${SHOTS}/reconnecting.png` });
  await banner.waitFor({ state: "hidden" });
  const back = Date.now() - dropped;

  // The same shell, taken back: its screen, its variable, its job; and no second shell.
  await lineMatching(page, (line) => line === "before-2", "before-2 still on screen");
  await page.keyboard.type("clear; echo after-$((2+2)) $KEPT; echo jobs-$(ps | grep -c '[s]leep 4242')\n");
  await lineMatching(page, (line) => line === "after-4 kept-9", "after-4 kept-9 (the same shell)");
  const jobs = await lineMatching(page, (line) => line.startsWith("jobs-"), "the count of jobs");
  if (jobs !== "jobs-1") throw new Error(`the shell's job is gone: ${jobs}`);
  await page.keyboard.type("echo pid-$$\n");
  const pidAfter = await lineMatching(page, (line) => /^pid-\d+$/.test(line), "the shell's pid");
  if (pidAfter !== pidBefore) throw new Error(`another shell: ${pidBefore} before, ${pidAfter} after`);
  await page.screenshot({ path: `${SHOTS}/reconnected.png` });

  // A reload of the page takes the same shell back too, its screen drawn again.
  await page.reload();
  await page.locator(".xterm-rows").waitFor();
  await lineMatching(page, (line) => line === "after-4 kept-9", "after-4 kept-9 after the reload");
  await page.locator(".xterm").click();
  await page.keyboard.type("echo pid-$$ again\n");
  const pidReloaded = await lineMatching(page, (line) => /^pid-\d+ again$/.test(line), "the shell's pid after the reload");
  if (pidReloaded !== `${pidBefore} again`) throw new Error(`another shell after the reload: ${pidReloaded}`);
  await page.screenshot({ path: `${SHOTS}/reloaded.png` });
  console.log(`browser: reconnected ${back} ms after the drop; the shell was taken back, and again after a reload`);
});
proxy.close();
