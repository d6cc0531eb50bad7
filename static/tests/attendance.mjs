// Attendance with two browsers: the teacher's projector shows a code, a student types it on a
// phone-sized page, and the teacher's roster shows the student within a second. Run by
// tests/api/browser.rs, which makes the accounts and the course.
import { readFile } from "node:fs/promises";
import { launch, run, signIn } from "./browser.mjs";

const { BERTH_URL, TEACHER, STUDENT, BERTH_PASSWORD: PASSWORD, COURSE, SHOTS } = process.env;
const browser = await launch(SHOTS);
const teacher = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US", acceptDownloads: true })).newPage();
const student = await (await browser.newContext({ viewport: { width: 390, height: 800 }, locale: "en-US", isMobile: true, hasTouch: true })).newPage();
for (const page of [teacher, student]) page.setDefaultTimeout(15_000);

await run(browser, SHOTS, { teacher, student }, async () => {
  await signIn(teacher, BERTH_URL, TEACHER, PASSWORD);
  await teacher.getByRole("link", { name: "Attendance" }).click();
  await teacher.getByRole("button", { name: `Open attendance ${COURSE}` }).click();
  const code = teacher.getByRole("status", { name: "Check-in code" });
  await code.filter({ hasText: /^\d{6}$/ }).waitFor();
  await teacher.screenshot({ path: `${SHOTS}/projector.png` });

  await signIn(student, BERTH_URL, STUDENT, PASSWORD);
  await student.getByRole("link", { name: "Check in" }).click();
  await student.getByLabel("Course", { exact: true }).selectOption({ label: COURSE });
  await student.getByLabel("Code").fill((await code.textContent()).trim());
  const typed = Date.now();
  await student.getByRole("button", { name: "Check in" }).click();
  await teacher.getByRole("list", { name: "Roster" }).getByText(STUDENT, { exact: true }).waitFor();
  const shown = Date.now() - typed;
  await student.getByText("You are checked in").waitFor();
  await student.screenshot({ path: `${SHOTS}/student.png` });
  await teacher.getByRole("status", { name: "Present" }).filter({ hasText: "1 of 1 present" }).waitFor();
  await teacher.screenshot({ path: `${SHOTS}/roster.png` });
  if (shown > 1000) throw new Error(`the roster showed the student ${shown} ms after the check-in`);

  // Afterwards, the course page keeps the session in its history, with its roster as CSV.
  await teacher.getByRole("link", { name: "Courses" }).click();
  await teacher.getByRole("link", { name: COURSE }).click();
  const history = teacher.getByRole("table", { name: "Attendance history" });
  const row = history.getByRole("row").filter({ hasText: "1 of 1 present" });
  await row.waitFor();
  const [csv] = await Promise.all([teacher.waitForEvent("download"), row.getByRole("button", { name: /^Roster of .* as CSV$/ }).click()]);
  const text = await readFile(await csv.path(), "utf8");
  if (!text.includes(`${STUDENT},yes,`)) throw new Error(`the roster CSV does not list the student present: ${text}`);
  await teacher.screenshot({ path: `${SHOTS}/history.png`, fullPage: true });
  console.log(`browser: attendance roster updated ${shown} ms after the student's check-in`);
});
