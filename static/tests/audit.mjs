// An admin reads the audit log in Debian's Chromium: opens it from the menu, filters it by a
// student, sees what the student did, and downloads it as CSV. Run by tests/api/browser.rs,
// which makes the accounts and the student's container.
import { readFile } from "node:fs/promises";
import { launch, run, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, STUDENT, CONTAINER_ID, SHOTS } = process.env;
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1200, height: 800 }, locale: "en-US", acceptDownloads: true });
page.setDefaultTimeout(15_000);

await run(browser, SHOTS, { page }, async () => {
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  await page.getByText(`${BERTH_USER} · Admin`).waitFor();
  await page.getByRole("link", { name: "Audit log" }).click();
  const log = page.getByRole("table", { name: "Audit log" });
  await log.waitFor();
  // The admin's own sign-in is there, with the others.
  await log.getByRole("row").filter({ hasText: BERTH_USER }).filter({ hasText: "auth.login" }).first().waitFor();

  await page.getByLabel("Username").fill(STUDENT);
  await page.getByRole("button", { name: "Show" }).click();
  // The filtered table replaces the whole log: none of the admin's rows is left.
  const admins = log.getByRole("row").filter({ hasText: BERTH_USER });
  const deadline = Date.now() + 10_000;
  while ((await admins.count()) > 0) {
    if (Date.now() > deadline) throw new Error(`filtered by ${STUDENT}, the log still shows the admin's rows`);
    await page.waitForTimeout(50);
  }
  const made = log.getByRole("row").filter({ hasText: "container.create" });
  await made.waitFor();
  if (!(await made.textContent()).includes(CONTAINER_ID)) throw new Error("the row does not name the container");
  await page.screenshot({ path: `${SHOTS}/audit.png` });

  const [file] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download CSV" }).click(),
  ]);
  const csv = await readFile(await file.path(), "utf8");
  if (!csv.startsWith("at,username,action") || !csv.includes("container.create") || csv.includes(`,${BERTH_USER},`)) {
    throw new Error(`the CSV is not the filtered log:\n${csv}`);
  }
  console.log(`browser: audit log filtered to ${STUDENT}, CSV of ${csv.trim().split("\n").length - 1} entries`);
});
