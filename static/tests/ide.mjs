// A student opens a workspace from a template, writes a file in the editor, saves it with Ctrl-S,
// runs it and reads its output, renames it, runs it from a terminal in the workspace, keeps its
// unsaved changes through a dropped connection, and deletes it; in Debian's Chromium through
// playwright-core. Run by tests/api/browser.rs, which starts the server and makes the accounts and
// the template.
import { cuttableProxy, launch, lineMatching, run, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, BERTH_TEMPLATE, SHOTS } = process.env;
// Through a proxy that can drop the connection, to see that a drop loses no typing.
const proxy = await cuttableProxy(BERTH_URL);
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1100, height: 800 }, locale: "en-US" });
page.setDefaultTimeout(15_000);

await run(browser, SHOTS, { page }, async () => {
  await signIn(page, proxy.url, BERTH_USER, BERTH_PASSWORD);
  await page.getByRole("link", { name: "Workspaces" }).click();
  await page.getByLabel("Template").selectOption({ label: BERTH_TEMPLATE });
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name: /^Workspace / }).waitFor();

  await page.getByLabel("File name").fill("hello.sh");
  await page.getByRole("button", { name: "New file" }).click();
  await page.getByRole("heading", { name: "hello.sh" }).waitFor();
  const editor = page.getByRole("textbox", { name: "Editor" });
  await editor.click();
  await page.keyboard.type("echo from-ide-$((6*7))");
  await page.getByRole("heading", { name: /hello\.sh • unsaved/ }).waitFor();
  await page.keyboard.press("Control+s");
  await page.getByRole("heading", { name: "hello.sh", exact: true }).waitFor();
  await page.getByRole("button", { name: "Run" }).click();
  const output = page.getByRole("log", { name: "Output" });
  await output.filter({ hasText: "from-ide-42" }).waitFor();
  await output.filter({ hasText: "exited with code 0" }).waitFor();
  await page.getByText("128 MiB · no network").waitFor();
  await page.screenshot({ path: `${SHOTS}/ide.png` });

  // Rename the file, then find it from a shell in the same workspace.
  page.once("dialog", (dialog) => dialog.accept("greet.sh"));
  await page.getByRole("button", { name: "Rename hello.sh" }).click();
  await page.getByRole("button", { name: "greet.sh", exact: true }).waitFor();
  await page.getByRole("heading", { name: "greet.sh", exact: true }).waitFor();
  await page.getByRole("button", { name: "Open terminal" }).click();
  const shell = page.getByRole("region", { name: "Terminal" });
  await shell.locator(".xterm-rows").waitFor();
  await page.keyboard.type("sh greet.sh | tr a-z A-Z\n");
  await shell.locator(".xterm-rows").filter({ hasText: "FROM-IDE-42" }).waitFor();
  await page.screenshot({ path: `${SHOTS}/terminal.png` });
  await page.getByRole("button", { name: "Close terminal" }).click();

  // The connection drops while there are unsaved changes: they stay, still marked unsaved.
  await page.getByRole("textbox", { name: "Editor" }).click();
  await page.keyboard.press("End");
  await page.keyboard.type(" # typed-before-the-drop");
  await page.getByRole("heading", { name: /greet\.sh • unsaved/ }).waitFor();
  proxy.cut();
  const banner = page.getByRole("status").filter({ hasText: "Connection lost; reconnecting…" });
  await banner.waitFor();
  await banner.waitFor({ state: "hidden" });
  await page.getByRole("textbox", { name: "Editor" }).filter({ hasText: "typed-before-the-drop" }).waitFor();
  await page.getByRole("heading", { name: /greet\.sh • unsaved/ }).waitFor();
  await page.keyboard.press("Control+s");
  await page.getByRole("heading", { name: "greet.sh", exact: true }).waitFor();

  // A program run in the background and a shell both outlive a reload of the page: the shell
  // comes back open with its variable, the job is listed running and shows all its output.
  await page.getByLabel("File name").fill("count.sh");
  await page.getByRole("button", { name: "New file" }).click();
  await page.getByRole("heading", { name: "count.sh" }).waitFor();
  await page.getByRole("textbox", { name: "Editor" }).click();
  await page.keyboard.type("i=0; while [ $i -lt 900 ]; do echo tick-$i; i=$((i+1)); sleep 0.1; done");
  await page.getByRole("button", { name: "Start in background" }).click();
  await output.filter({ hasText: "tick-3" }).waitFor();
  const job = page.getByRole("listitem", { name: "Job sh count.sh" });
  await job.filter({ hasText: "running" }).waitFor();
  await page.getByRole("button", { name: "Open terminal" }).click();
  await shell.locator(".xterm-rows").waitFor();
  await page.keyboard.type("KEPT=kept-$((3*3)); echo before-reload\n");
  await lineMatching(page, (line) => line === "before-reload", "before-reload");

  await page.reload();
  await page.getByRole("heading", { name: /^Workspace / }).waitFor();
  // The same shell, open again by itself, its screen drawn again.
  await lineMatching(page, (line) => line === "before-reload", "before-reload after the reload");
  await shell.click();
  await page.keyboard.type("echo after-$KEPT\n");
  await lineMatching(page, (line) => line === "after-kept-9", "after-kept-9 (the same shell)");
  await job.filter({ hasText: "running" }).waitFor();
  await job.getByRole("button", { name: "Show output" }).click();
  // From its first line on, and live.
  await output.filter({ hasText: /^tick-0$/m }).waitFor();
  const seen = Number((await output.textContent()).match(/tick-(\d+)\s*$/)[1]);
  await output.filter({ hasText: `tick-${seen + 5}` }).waitFor();
  await page.screenshot({ path: `${SHOTS}/ide-jobs.png` });
  await job.getByRole("button", { name: "Stop job" }).click();
  await job.filter({ hasText: "killed (cancelled)" }).waitFor();
  await output.filter({ hasText: "[killed: cancelled]" }).waitFor();
  await job.getByRole("button", { name: "Remove" }).click();
  await job.waitFor({ state: "detached" });
  await page.getByRole("button", { name: "Close terminal" }).click();

  // Delete it (confirmed): it leaves the tree and the editor.
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: "Delete greet.sh" }).click();
  await page.getByRole("button", { name: "greet.sh", exact: true }).waitFor({ state: "detached" });
  await page.getByRole("heading", { name: "greet.sh" }).waitFor({ state: "detached" });
  console.log(`browser: ide ran hello.sh, renamed it, ran it from the terminal and deleted it; screenshots in ${SHOTS}`);
});
proxy.close();
