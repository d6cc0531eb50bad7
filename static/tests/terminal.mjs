// A person signs in, opens a container's terminal, types, resizes the window, and switches the
// language, in Debian's Chromium driven by playwright-core. Run by tests/api/browser.rs, which
// starts the server and makes the account and the container; the environment says where.
import { launch, lineMatching, run, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, BERTH_CONTAINER, SHOTS } = process.env;
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1000, height: 700 }, locale: "en-US" });
page.setDefaultTimeout(15_000);

await run(browser, SHOTS, { page }, async () => {
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  // A signed-in person lands on their courses; containers are a click away.
  await page.getByRole("link", { name: "Containers" }).click();
  await page.getByRole("heading", { name: "Containers", exact: true }).waitFor();
  // A student's menu offers no page that only teachers and admins may use.
  for (const staffOnly of ["Hosts", "Attendance", "Templates"]) {
    if (await page.getByRole("link", { name: staffOnly, exact: true }).count()) {
      throw new Error(`a student's menu offers ${staffOnly}`);
    }
  }
  await page.screenshot({ path: `${SHOTS}/containers.png` });

  await page.getByRole("link", { name: `Terminal ${BERTH_CONTAINER}` }).click();
  await page.getByRole("region", { name: `Terminal of ${BERTH_CONTAINER}` }).waitFor();
  await page.locator(".xterm-rows").waitFor();
  // The shell computes the answer, so the line is its output, not the echo of what was typed.
  await page.keyboard.type("echo hi-$((40+2))\n");
  await lineMatching(page, (line) => line === "hi-42", "hi-42");

  await page.keyboard.type("stty size\n");
  const before = await lineMatching(page, (line) => /^\d+ \d+$/.test(line), "a size");
  await page.setViewportSize({ width: 640, height: 420 });
  // Once the terminal has fewer rows on screen, it has told the server its new size.
  const rowsShown = before.split(" ").map(Number)[0];
  await page.waitForFunction((rows) => document.querySelectorAll(".xterm-rows > div").length < rows, rowsShown);
  // The engine applies the size on its own time: ask again until the answer changes.
  let after = null;
  for (let attempt = 0; !after && attempt < 10; attempt++) {
    await page.keyboard.type("clear; stty size\n");
    const changed = (line) => /^\d+ \d+$/.test(line) && line !== before;
    after = await lineMatching(page, changed, "a new size", 1000).catch(() => null);
  }
  if (!after) throw new Error(`stty size still says ${before} after the window shrank`);
  const [rowsBefore, colsBefore] = before.split(" ").map(Number);
  const [rowsAfter, colsAfter] = after.split(" ").map(Number);
  if (!(rowsAfter < rowsBefore && colsAfter < colsBefore)) {
    throw new Error(`stty size went from ${before} to ${after} when the window shrank`);
  }
  await page.screenshot({ path: `${SHOTS}/terminal.png` });

  // The whole page in Simplified Chinese.
  await page.getByRole("link", { name: "Back to containers" }).click();
  await page.getByLabel("Language").selectOption("zh");
  await page.getByRole("heading", { name: "容器", exact: true }).waitFor();
  await page.getByRole("button", { name: "退出登录" }).waitFor();
  await page.screenshot({ path: `${SHOTS}/zh.png` });
  console.log(`browser: terminal ${before} -> ${after}; screenshots in ${SHOTS}`);
});
