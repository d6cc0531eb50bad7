// A teacher makes a workspace template in the browser (image, memory, run command, a starter
// file written in the editor), changes it, and a student makes a workspace from it and runs the
// starter file; then the teacher deletes the template, which the student's workspace still
// uses. Run by tests/api/browser.rs, which makes the accounts.
import { launch, run, signIn } from "./browser.mjs";

const { BERTH_URL, TEACHER, STUDENT, BERTH_PASSWORD: PASSWORD, IMAGE, SHOTS } = process.env;
const browser = await launch(SHOTS);
const context = () => browser.newContext({ viewport: { width: 1100, height: 900 }, locale: "en-US" });
const teacher = await (await context()).newPage();
const student = await (await context()).newPage();
for (const page of [teacher, student]) page.setDefaultTimeout(15_000);
const NAME = "Shell lab";

await run(browser, SHOTS, { teacher, student }, async () => {
  await signIn(teacher, BERTH_URL, TEACHER, PASSWORD);
  await teacher.getByRole("link", { name: "Templates" }).click();
  await teacher.getByRole("heading", { name: "New template" }).waitFor();
  const form = teacher.getByRole("form", { name: "Template" });
  await form.getByLabel("Name").fill(NAME);
  await form.getByLabel("Image").fill(IMAGE);
  await form.getByLabel("Memory (MiB)").fill("96");
  await form.getByLabel("Network", { exact: true }).selectOption({ label: "No network" });
  await form.getByLabel(/^Run commands/).fill(".sh: sh {file}");
  await form.getByLabel("New starter file").fill("hello.sh");
  await form.getByRole("button", { name: "Add file" }).click();
  await teacher.getByRole("textbox", { name: "Starter file text" }).click();
  await teacher.keyboard.type("echo from-the-template-$((6*7))");
  await form.getByRole("button", { name: "Save template" }).click();
  await teacher.getByRole("status").filter({ hasText: `Template ${NAME} saved.` }).waitFor();
  const list = teacher.getByRole("table", { name: "Templates" });
  await list.getByRole("row", { name: new RegExp(`${NAME}.*96 MiB.*no network.*you`) }).waitFor();

  // Changed: the form opens on it, with its starter file in the editor.
  await teacher.getByRole("button", { name: `Edit template ${NAME}` }).click();
  await teacher.getByRole("heading", { name: `Edit template ${NAME}` }).waitFor();
  await teacher.getByRole("textbox", { name: "Starter file text" }).filter({ hasText: "from-the-template" }).waitFor();
  await form.getByLabel("Memory (MiB)").fill("128");
  await form.getByRole("button", { name: "Save template" }).click();
  await list.getByRole("row", { name: new RegExp(`${NAME}.*128 MiB`) }).waitFor();
  await teacher.screenshot({ path: `${SHOTS}/templates.png`, fullPage: true });

  // A student makes a workspace from it: the starter file is there and runs.
  await signIn(student, BERTH_URL, STUDENT, PASSWORD);
  await student.getByRole("link", { name: "Workspaces" }).click();
  await student.getByLabel("Template").selectOption({ label: NAME });
  await student.getByRole("button", { name: "Create" }).click();
  await student.getByRole("button", { name: "hello.sh", exact: true }).click();
  await student.getByRole("heading", { name: "hello.sh", exact: true }).waitFor();
  await student.getByRole("button", { name: "Run" }).click();
  await student.getByRole("log", { name: "Output" }).filter({ hasText: "from-the-template-42" }).waitFor();
  await student.getByText("128 MiB · no network").waitFor();
  await student.screenshot({ path: `${SHOTS}/student-ide.png` });

  // Deleted: the student's workspace uses it, so the teacher is asked twice.
  const questions = [];
  teacher.on("dialog", (dialog) => {
    questions.push(dialog.message());
    dialog.accept();
  });
  await teacher.getByRole("button", { name: `Remove ${NAME}` }).click();
  await list.getByRole("row", { name: new RegExp(NAME) }).waitFor({ state: "detached" }).catch(async () => {
    await teacher.getByText("No templates yet.").waitFor();
  });
  if (!questions.some((q) => q.includes("Workspaces use template"))) {
    throw new Error(`the teacher was not told workspaces use it: ${JSON.stringify(questions)}`);
  }
  console.log("browser: templates made, changed, used and deleted");
});
