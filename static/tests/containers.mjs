// A person creates a container with limits through the form, sees the limits in the list,
// watches its resource use charted live, then removes it (confirming). In Debian's Chromium; run
// by tests/api/browser.rs, which makes the account and removes what is left.
import { launch, run, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, BERTH_IMAGE, SHOTS } = process.env;
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, locale: "en-US" });
page.setDefaultTimeout(20_000);

await run(browser, SHOTS, { page }, async () => {
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  // A signed-in person lands on their courses; containers are a click away.
  await page.getByRole("link", { name: "Containers" }).click();
  const form = page.getByRole("form", { name: "New container" });
  await form.getByLabel("Image").fill(BERTH_IMAGE);
  // Busy on one CPU, with no output: its CPU use shows in the chart, capped by its limit.
  await form.getByLabel("Command").fill("md5sum /dev/zero");
  await form.getByLabel("Memory (MiB)").fill("64");
  await form.getByLabel("CPUs").fill("0.5");
  await form.getByLabel("Processes at most").fill("32");
  await form.getByRole("button", { name: "Create" }).click();
  const row = page.getByRole("row").filter({ hasText: "64 MiB · 0.5 CPU · 32 processes" });
  await row.filter({ hasText: "running" }).waitFor();
  const name = (await row.getByRole("cell").first().textContent()).trim();
  await page.screenshot({ path: `${SHOTS}/list.png` });

  await page.getByRole("link", { name: `Stats ${name}` }).click();
  const figures = page.getByRole("status", { name: "Latest figures" });
  await figures.filter({ hasText: "of 64 MiB" }).waitFor();
  // The figures change with each sample: count how far apart the changes come.
  const changes = [];
  let last = await figures.textContent();
  while (changes.length < 4) {
    await page.waitForFunction(
      (before) => document.querySelector('[aria-label="Latest figures"]').textContent !== before,
      last,
    );
    changes.push(Date.now());
    last = await figures.textContent();
  }
  const cpu = Number(/CPU([\d.]+)%/.exec(last.replace(/\s+/g, ""))?.[1] ?? NaN);
  if (!(cpu > 20 && cpu < 70)) throw new Error(`CPU shows ${cpu} %, expected about 50 % (limit 0.5 CPU): ${last}`);
  const charts = await page.locator("figure.chart canvas").count();
  if (charts < 3) throw new Error(`${charts} charts drawn, expected 3`);
  const gap = (changes.at(-1) - changes[0]) / (changes.length - 1);
  if (gap > 2000) throw new Error(`the figures changed every ${gap} ms, expected about every second`);
  await page.screenshot({ path: `${SHOTS}/stats.png` });

  await page.getByRole("link", { name: "Back to containers" }).click();
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: `Remove ${name}` }).click();
  await page.getByRole("button", { name: `Remove ${name}` }).waitFor({ state: "detached" });
  console.log(`browser: container with limits charted at ${cpu} % CPU, a sample every ${Math.round(gap)} ms, then removed`);
});
