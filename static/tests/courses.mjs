// Courses as home: a teacher makes a course and reads its code from the course page, a student
// joins with it, the teacher sees the student and removes them, and the student's courses are
// empty again. Run by tests/api/browser.rs, which makes the accounts.
import { launch, run, signIn } from "./browser.mjs";

const { BERTH_URL, TEACHER, STUDENT, BERTH_PASSWORD: PASSWORD, SHOTS } = process.env;
const browser = await launch(SHOTS);
const context = () => browser.newContext({ viewport: { width: 1100, height: 800 }, locale: "en-US" });
const teacher = await (await context()).newPage();
const student = await (await context()).newPage();
for (const page of [teacher, student]) page.setDefaultTimeout(15_000);

await run(browser, SHOTS, { teacher, student }, async () => {
  await signIn(teacher, BERTH_URL, TEACHER, PASSWORD);
  await teacher.getByRole("link", { name: "Courses" }).click();
  await teacher.getByText("You teach no course yet").waitFor();
  const form = teacher.getByRole("form", { name: "New course" });
  await form.getByLabel("Name").fill("Biology");
  await form.getByRole("button", { name: "Create" }).click();
  await teacher.getByRole("heading", { name: "Biology" }).waitFor();
  await teacher.getByText("No student has joined yet").waitFor();
  const code = (await teacher.locator(".join-code strong").textContent()).trim();
  if (!/^\S{4,}$/.test(code)) throw new Error(`no course code on the page: ${code}`);

  await signIn(student, BERTH_URL, STUDENT, PASSWORD);
  await student.getByRole("link", { name: "Courses" }).click();
  await student.getByText("You have joined no course yet").waitFor();
  await student.getByLabel("Course code").fill(code);
  await student.getByRole("button", { name: "Join" }).click();
  await student.getByRole("heading", { name: "Biology" }).waitFor();
  await student.getByRole("link", { name: "Check in" }).last().waitFor();

  await teacher.getByRole("link", { name: "Courses" }).first().click();
  await teacher.getByRole("link", { name: "Biology" }).click();
  const students = teacher.getByRole("table", { name: "Students" });
  await students.getByRole("row", { name: new RegExp(STUDENT) }).waitFor();
  await teacher.screenshot({ path: `${SHOTS}/course.png` });
  teacher.once("dialog", (dialog) => dialog.accept());
  await teacher.getByRole("button", { name: `Remove ${STUDENT}` }).click();
  await teacher.getByText("No student has joined yet").waitFor();

  await student.getByRole("link", { name: "Courses" }).first().click();
  await student.getByText("You have joined no course yet").waitFor();
  console.log("browser: a course made, joined, its student seen and removed");
});
