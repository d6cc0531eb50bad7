// A container that printed many lines: its logs open and follow to the end within 2 s with only
// a screenful of rows in the page, and search narrows them; in Debian's Chromium. Run by tests/api/browser.rs, which makes the account and the container.
import { launch, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, BERTH_CONTAINER, LINES, SHOTS } = process.env;
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1100, height: 800 }, locale: "en-US" });
page.setDefaultTimeout(30_000);

try {
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  const link = page.getByRole("link", { name: `Logs ${BERTH_CONTAINER}` });
  await link.waitFor();
  const opened = Date.now();
  await link.click();
  const log = page.getByRole("log", { name: `Logs of ${BERTH_CONTAINER}` });
  await log.getByText(LINES, { exact: true }).waitFor();
  const atEnd = Date.now() - opened;
  await page.getByRole("status", { name: "Line count" }).filter({ hasText: `${LINES} lines` }).waitFor();
  const rows = await page.locator(".log-row").count();
  if (rows > 200) throw new Error(`${rows} rows in the page: the view is not virtualized`);
  await page.screenshot({ path: `${SHOTS}/end.png` });
  // Search narrows the view to the matching lines.
  await page.getByLabel("Search").fill("99999");
  await page.getByRole("status", { name: "Line count" }).filter({ hasText: /^\d+ lines$/ }).waitFor();
  const matching = await page.getByRole("status", { name: "Line count" }).textContent();
  const expected = Array.from({ length: Number(LINES) }, (_, i) => String(i + 1)).filter((l) => l.includes("99999")).length;
  if (matching !== `${expected} lines`) throw new Error(`search shows ${matching}, expected ${expected} lines`);
  await page.screenshot({ path: `${SHOTS}/search.png` });
  console.log(`browser: logs of ${LINES} lines at the end ${atEnd} ms after opening`);
  if (atEnd > 2000) {
    console.error(`too slow: the end of the logs showed ${atEnd} ms after opening (target 2000 ms)`);
    process.exitCode = 2;
  }
} catch (error) {
  await page.screenshot({ path: `${SHOTS}/failed.png` }).catch(() => {});
  console.error(`browser test failed (screenshot: ${SHOTS}/failed.png):`, error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
