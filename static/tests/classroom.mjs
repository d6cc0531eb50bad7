// The classroom from start to end, as a teacher and a student do it: the teacher makes a
// template, a course and an assignment with a check and a hidden test; the student joins,
// opens the assignment in the IDE room, edits the starter file, submits and sees the check
// pass; the teacher sees the submission, downloads it and reads the student's workspace
// read-only. Run by tests/api/browser.rs, which makes the accounts.
import { readFile } from "node:fs/promises";
import { launch, lineMatching, run, signIn } from "./browser.mjs";

const { BERTH_URL, TEACHER, STUDENT, BERTH_PASSWORD: PASSWORD, IMAGE, SHOTS } = process.env;
const browser = await launch(SHOTS);
const context = () =>
  browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-US", acceptDownloads: true });
const teacher = await (await context()).newPage();
const student = await (await context()).newPage();
for (const page of [teacher, student]) page.setDefaultTimeout(20_000);
const TEST = 'out=$(sh main.sh); [ "$out" = 42 ] && echo "all good" || { echo "expected 42, got $out"; exit 1; }';

/** Replaces the text of the CodeMirror editor named `name` on `page`. */
async function typeInto(page, name, text) {
  await page.getByRole("textbox", { name }).click();
  await page.keyboard.press("Control+A");
  await page.keyboard.type(text);
}

await run(browser, SHOTS, { teacher, student }, async () => {
  // The teacher: a template, a course, an assignment with a check.
  await signIn(teacher, BERTH_URL, TEACHER, PASSWORD);
  await teacher.getByRole("link", { name: "Templates" }).click();
  const template = teacher.getByRole("form", { name: "Template" });
  await template.getByLabel("Name").fill("Shell class");
  await template.getByLabel("Image").fill(IMAGE);
  await template.getByLabel(/^Run commands/).fill(".sh: sh {file}");
  await template.getByRole("button", { name: "Save template" }).click();
  await teacher.getByRole("status").filter({ hasText: "Template Shell class saved." }).waitFor();

  await teacher.getByRole("link", { name: "Courses" }).click();
  const newCourse = teacher.getByRole("form", { name: "New course" });
  await newCourse.getByLabel("Name").fill("Shell 101");
  await newCourse.getByRole("button", { name: "Create" }).click();
  await teacher.getByRole("heading", { name: "Shell 101" }).waitFor();
  const code = (await teacher.locator(".join-code strong").textContent()).trim();

  await teacher.getByText("Hand out a new assignment").click();
  const form = teacher.getByRole("form", { name: "New assignment" });
  await form.getByLabel("Title").fill("The answer");
  await form.getByLabel("Template").selectOption({ label: "Shell class" });
  await form.getByLabel("Instructions").fill("Make `main.sh` print **42**.");
  await form.getByLabel("New starter file").fill("main.sh");
  await form.getByRole("button", { name: "Add starter file" }).click();
  await typeInto(teacher, "Starter file text", "echo 41");
  await form.getByLabel(/^Check command/).fill("sh test.sh");
  await form.getByLabel("New hidden file").fill("test.sh");
  await form.getByRole("button", { name: "Add hidden file" }).click();
  await typeInto(teacher, "Hidden file text", TEST);
  await form.getByRole("button", { name: "Hand out" }).click();
  await teacher.getByRole("status").filter({ hasText: "Assignment The answer handed out." }).waitFor();
  const handedOut = teacher.getByRole("table", { name: "Assignments" });
  await handedOut.getByRole("row", { name: /The answer.*checked/ }).waitFor();
  await teacher.getByText("Templates its assignments are done in: Shell class").waitFor();
  await teacher.screenshot({ path: `${SHOTS}/course-teacher.png`, fullPage: true });

  // The student joins, opens the assignment, and does it.
  await signIn(student, BERTH_URL, STUDENT, PASSWORD);
  await student.getByLabel("Course code").fill(code);
  await student.getByRole("button", { name: "Join" }).click();
  await student.getByRole("heading", { name: "Shell 101" }).waitFor();
  const mine = student.getByRole("table", { name: "Assignments" });
  await mine.getByRole("row", { name: /The answer.*not started/ }).waitFor();
  await student.screenshot({ path: `${SHOTS}/course-student.png` });
  await mine.getByRole("link", { name: "The answer" }).click();
  const instructions = student.getByRole("article", { name: "Instructions" });
  await instructions.locator("strong", { hasText: "42" }).waitFor();
  await student.getByRole("button", { name: "main.sh", exact: true }).click();
  await student.getByRole("heading", { name: /main\.sh/ }).waitFor();
  await student.getByRole("textbox", { name: "Editor" }).filter({ hasText: "echo 41" }).waitFor();
  await typeInto(student, "Editor", "echo 42");
  await student.getByRole("button", { name: "Run" }).click();
  await student.getByRole("log", { name: "Output" }).filter({ hasText: "42" }).waitFor();
  await student.getByRole("button", { name: "Submit" }).click();
  await student.getByRole("status", { name: "Submission" }).filter({ hasText: "Handed in" }).waitFor();
  await student.getByLabel("Check result").filter({ hasText: "Check passed" }).waitFor({ timeout: 60_000 });
  await student.getByLabel("Check output").filter({ hasText: "all good" }).waitFor();
  // The hidden test never reached the student's workspace.
  if (await student.getByRole("button", { name: "test.sh", exact: true }).count()) {
    throw new Error("the hidden test is in the student's workspace");
  }
  await student.screenshot({ path: `${SHOTS}/assignment-room.png` });
  // The separators resize the panes, by keyboard as by pointer.
  const tree = student.getByRole("navigation", { name: "Files" });
  const before = (await tree.boundingBox()).width;
  await student.getByRole("separator", { name: "Resize the files pane" }).focus();
  for (let i = 0; i < 4; i++) await student.keyboard.press("ArrowRight");
  const after = (await tree.boundingBox()).width;
  if (!(after > before + 60)) throw new Error(`the files pane did not grow: ${before} -> ${after}`);

  // The teacher's course page lists the student's workspace; then the submission is seen,
  // downloaded, and the workspace read.
  await teacher.reload();
  await teacher.getByRole("table", { name: "Students" }).getByRole("link", { name: `Shell class assignments of ${STUDENT}` }).waitFor();
  await teacher.getByRole("link", { name: "Submissions of The answer" }).click();
  const submissions = teacher.getByRole("table", { name: "Submissions" });
  await submissions.getByRole("row").filter({ hasText: STUDENT }).filter({ hasText: "submitted" }).filter({ hasText: "Check passed" }).waitFor();
  await teacher.screenshot({ path: `${SHOTS}/review.png`, fullPage: true });
  const [saved] = await Promise.all([
    teacher.waitForEvent("download"),
    teacher.getByRole("button", { name: `Download the work of ${STUDENT}` }).click(),
  ]);
  const tar = await readFile(await saved.path(), "latin1");
  if (!tar.includes("main.sh") || !tar.includes("echo 42")) throw new Error("the download is not the student's work");
  // The student opens a terminal; the teacher, in the student's workspace, watches it.
  await student.getByRole("button", { name: "Open terminal" }).click();
  await student.locator(".xterm-rows").waitFor();
  await teacher.getByRole("link", { name: `Workspace of ${STUDENT}` }).click();
  await teacher.getByText("read-only", { exact: true }).waitFor();
  await teacher.getByRole("button", { name: /^Watch the exec started/ }).click();
  await student.getByRole("status", { name: "Who watches" }).filter({ hasText: `Watched by ${TEACHER}` }).waitFor();
  await student.locator(".xterm").click();
  await student.keyboard.type("echo seen-$((8*8))\n");
  await lineMatching(teacher, (line) => line.trim() === "seen-64", "the student's seen-64 in the teacher's watch");
  await student.screenshot({ path: `${SHOTS}/watched-student.png` });
  await teacher.getByRole("button", { name: "main.sh", exact: true }).click();
  await teacher.getByRole("textbox", { name: "Editor" }).filter({ hasText: "echo 42" }).waitFor();
  if (await teacher.getByRole("button", { name: "Run" }).count()) throw new Error("a read-only workspace offers Run");
  await teacher.screenshot({ path: `${SHOTS}/read-only.png` });
  console.log("browser: an assignment handed out, done, checked, collected and read");
});
