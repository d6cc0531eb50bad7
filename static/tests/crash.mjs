// berth is killed with SIGKILL under a person using a terminal, and started again (or, behind a
// load balancer, another replica takes over): the page says it is reconnecting, comes back by
// itself (its token still holds), and the shell the crash cut off, with what it started, is gone
// from the container. The crash (and the restart) are made by tests/api/browser.rs or
// tests/api/replicas.rs when this script says "crash now".
import { launch, lineMatching, run, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, BERTH_CONTAINER, SHOTS } = process.env;

const browser = await launch(SHOTS);
// Behind the replicas test's nginx, the certificate is the test CA's, which Chromium does not know.
const page = await browser.newPage({ viewport: { width: 1000, height: 700 }, locale: "en-US", ignoreHTTPSErrors: true });
page.setDefaultTimeout(30_000);

await run(browser, SHOTS, { page }, async () => {
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  // A signed-in person lands on their courses; containers are a click away.
  await page.getByRole("link", { name: "Containers" }).click();
  await page.getByRole("link", { name: `Terminal ${BERTH_CONTAINER}` }).click();
  await page.locator(".xterm-rows").waitFor();
  await page.keyboard.type("sleep 4343 & echo before-$((1+1))\n");
  await lineMatching(page, (line) => line === "before-2", "before-2");

  const banner = page.getByRole("status").filter({ hasText: "Connection lost; reconnecting…" });
  const crashed = Date.now();
  console.log("browser: crash now");
  await banner.waitFor();
  await banner.waitFor({ state: "hidden" });
  const back = Date.now() - crashed;

  // A new shell from the restarted server; the cut-off one's sleep was swept away.
  await page.locator(".xterm-rows").waitFor();
  let orphans = "";
  // (Behind several replicas, the survivors kill a dead one's processes within 10 s.)
  for (let attempt = 0; attempt < 60 && orphans !== "orphans-0"; attempt++) {
    await page.keyboard.type(`echo orphans-$(ps | grep -c '[s]leep 4343')-${attempt}\n`);
    const line = await lineMatching(page, (l) => l.endsWith(`-${attempt}`) && l.startsWith("orphans-"), "the count");
    orphans = line.replace(/-\d+$/, "");
    if (orphans !== "orphans-0") await new Promise((r) => setTimeout(r, 250));
  }
  if (orphans !== "orphans-0") throw new Error(`the cut-off shell's sleep is still running (${orphans})`);
  await page.screenshot({ path: `${SHOTS}/after-crash.png` });
  console.log(`browser: back ${back} ms after the crash; no orphaned process`);
});
