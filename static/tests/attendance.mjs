// Attendance with two browsers: the teacher's projector shows a code, a student types it on a
// phone-sized page, and the teacher's roster shows the student within a second. Run by
// tests/api/browser.rs, which makes the accounts and the course.
import { launch, run, signIn } from "./browser.mjs";

const { BERTH_URL, TEACHER, STUDENT, BERTH_PASSWORD: PASSWORD, COURSE, SHOTS } = process.env;
const browser = await launch(SHOTS);
const teacher = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" })).newPage();
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
  await student.getByLabel("Course").selectOption({ label: COURSE });
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
  console.log(`browser: attendance roster updated ${shown} ms after the student's check-in`);
});
