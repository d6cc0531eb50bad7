// A container that printed a million lines: its logs open at the end within 2 s with only a
// screenful of rows in the page; scrolling to the top loads the lines before, with none lost or
// repeated at the seam; search narrows the view. In Debian's Chromium. Run by
// tests/api/browser.rs, which makes the account and the container (it prints 1..LINES).
import { launch, run, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, BERTH_CONTAINER, LINES, SHOTS } = process.env;
const last = Number(LINES);
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1100, height: 800 }, locale: "en-US" });
page.setDefaultTimeout(30_000);

/** How many of the numbers first..last contain `needle`: what search must count. */
const expectedMatches = (first, needle) => {
  let n = 0;
  for (let i = first; i <= last; i++) if (String(i).includes(needle)) n++;
  return n;
};

await run(browser, SHOTS, { page }, async () => {
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  // A signed-in person lands on their courses; containers are a click away.
  await page.getByRole("link", { name: "Containers" }).click();
  const link = page.getByRole("link", { name: `Logs ${BERTH_CONTAINER}` });
  await link.waitFor();
  const opened = Date.now();
  await link.click();
  const log = page.getByRole("log", { name: `Logs of ${BERTH_CONTAINER}` });
  await log.getByText(LINES, { exact: true }).waitFor();
  const atEnd = Date.now() - opened;
  const count = page.getByRole("status", { name: "Line count" });
  await count.filter({ hasText: "10000 lines" }).waitFor();
  const rows = await page.locator(".log-row").count();
  if (rows > 200) throw new Error(`${rows} rows in the page: the view is not virtualized`);
  await page.screenshot({ path: `${SHOTS}/end.png` });

  // At the top, the lines before the first 10,000 arrive and the view keeps its place.
  const scrolled = Date.now();
  await log.evaluate((view) => (view.scrollTop = 0));
  await count.filter({ hasText: "20000 lines" }).waitFor();
  const earlier = Date.now() - scrolled;
  await log.getByText(String(last - 10_000 + 1), { exact: true }).waitFor();
  await log.evaluate((view) => (view.scrollTop = 0));
  await log.getByText(String(last - 20_000 + 1), { exact: true }).waitFor();
  await count.filter({ hasText: "40000 lines" }).waitFor();
  await page.screenshot({ path: `${SHOTS}/earlier.png` });

  // Search counts the matches among the lines loaded; "99000" crosses the first seam, so a
  // line lost or repeated there changes the count.
  const first = last - 40_000 + 1;
  for (const needle of ["99000", "99999"]) {
    await page.getByLabel("Search").fill(needle);
    const expected = expectedMatches(first, needle);
    await count.filter({ hasText: `${expected} lines` }).waitFor({ timeout: 5000 }).catch(async () => {
      throw new Error(`search for ${needle} shows ${await count.textContent()}, expected ${expected} lines`);
    });
  }
  await page.screenshot({ path: `${SHOTS}/search.png` });
  console.log(`browser: logs of ${LINES} lines at the end ${atEnd} ms after opening; ${earlier} ms for the earlier 10000`);
  if (atEnd > 2000) {
    console.error(`too slow: the end of the logs showed ${atEnd} ms after opening (target 2000 ms)`);
    process.exitCode = 2;
  }
});
