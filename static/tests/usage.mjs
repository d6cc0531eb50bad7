// An admin watches what each user uses, in Debian's Chromium, and ends a student's sessions.
// Run by tests/api/browser.rs, which holds the student's session open and checks that it closed.
import { launch, run, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, STUDENT, SHOTS } = process.env;
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1200, height: 700 }, locale: "en-US" });
page.setDefaultTimeout(15_000);

await run(browser, SHOTS, { page }, async () => {
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  await page.getByRole("link", { name: "Usage" }).click();
  const table = page.getByRole("table", { name: "Usage" });
  const row = table.getByRole("row").filter({ hasText: `${STUDENT} · Student` });
  await row.filter({ hasText: "1 session, 1 stream" }).waitFor();
  await row.filter({ hasText: "1 running, 0 stopped" }).waitFor();
  await page.screenshot({ path: `${SHOTS}/usage.png` });
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: `End sessions of ${STUDENT}` }).click();
  // The page shows it without a reload.
  await row.filter({ hasText: "0 sessions, 0 streams" }).waitFor();
  await page.screenshot({ path: `${SHOTS}/ended.png` });
  console.log(`browser: usage shown live; ${STUDENT}'s sessions ended`);
});
