// A teacher shares a terminal with a course; a student watches it from the course page, sees
// what was on the screen and what comes after, read-only, until the teacher stops sharing.
// Run by tests/api/browser.rs, which makes the accounts, the course and the container.
import { launch, lineMatching, run, signIn } from "./browser.mjs";

const { BERTH_URL, TEACHER, STUDENT, BERTH_PASSWORD: PASSWORD, COURSE, BERTH_CONTAINER, SHOTS } = process.env;
const browser = await launch(SHOTS);
const context = () => browser.newContext({ viewport: { width: 1100, height: 800 }, locale: "en-US" });
const teacher = await (await context()).newPage();
const student = await (await context()).newPage();
for (const page of [teacher, student]) page.setDefaultTimeout(15_000);

await run(browser, SHOTS, { teacher, student }, async () => {
  await signIn(teacher, BERTH_URL, TEACHER, PASSWORD);
  await teacher.getByRole("link", { name: "Containers" }).click();
  await teacher.getByRole("link", { name: `Terminal ${BERTH_CONTAINER}` }).click();
  await teacher.locator(".xterm-rows").waitFor();
  await teacher.keyboard.type("echo shown-$((5*5))\n");
  await lineMatching(teacher, (line) => line === "shown-25", "shown-25");
  await teacher.getByLabel("Share with course").selectOption({ label: COURSE });
  await teacher.getByRole("button", { name: "Share", exact: true }).click();
  await teacher.getByRole("status").filter({ hasText: "Shared with the course." }).waitFor();

  await signIn(student, BERTH_URL, STUDENT, PASSWORD);
  await student.getByRole("link", { name: COURSE }).click();
  await student.getByRole("list", { name: "Live terminals" }).getByRole("link", { name: `Watch the terminal of ${TEACHER}` }).click();
  await student.getByRole("region", { name: "Shared terminal" }).waitFor();
  await lineMatching(student, (line) => line === "shown-25", "the screen from before the watch");
  // Back in the terminal (the Share button had the focus), the teacher types on.
  await teacher.locator(".xterm").click();
  await teacher.keyboard.type("echo live-$((7*6))\n");
  await lineMatching(student, (line) => line === "live-42", "live-42 as the teacher types it");
  await student.screenshot({ path: `${SHOTS}/watching.png` });

  await teacher.getByRole("button", { name: "Stop sharing" }).click();
  await student.getByRole("status").filter({ hasText: "[sharing ended]" }).waitFor();
  console.log("browser: a shared terminal watched live and read-only");
});
