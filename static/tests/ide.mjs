// A student opens a workspace from a template, writes a file in the editor, saves it with Ctrl-S,
// runs it and reads its output, renames it, runs it from a terminal in the workspace, keeps its
// unsaved changes through a dropped connection, and deletes it; in Debian's Chromium through
// playwright-core. Run by tests/api/browser.rs, which starts the server and makes the accounts and
// the template.
import { cuttableProxy, launch, run, signIn } from "./browser.mjs";

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

  // Delete it (confirmed): it leaves the tree and the editor.
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: "Delete greet.sh" }).click();
  await page.getByRole("button", { name: "greet.sh", exact: true }).waitFor({ state: "detached" });
  await page.getByRole("heading", { name: "greet.sh" }).waitFor({ state: "detached" });
  console.log(`browser: ide ran hello.sh, renamed it, ran it from the terminal and deleted it; screenshots in ${SHOTS}`);
});
proxy.close();
