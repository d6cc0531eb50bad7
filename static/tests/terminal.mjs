// A person signs in, opens a container's terminal, types, resizes the window, and switches the
// language, in Debian's Chromium driven by playwright-core. Run by tests/api/browser.rs, which
// starts the server and makes the account and the container; the environment says where.
import { launch, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, BERTH_CONTAINER, SHOTS } = process.env;
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1000, height: 700 }, locale: "en-US" });
page.setDefaultTimeout(15_000);

/** The terminal's lines as shown on screen. */
const screenLines = () =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll(".xterm-rows > div")).map((row) => row.textContent.trimEnd()),
  );

/** Waits until a line of the terminal satisfies `test`; returns it. */
async function lineMatching(test, what) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const found = (await screenLines()).find(test);
    if (found) return found;
    await page.waitForTimeout(50);
  }
  throw new Error(`the terminal never showed ${what}; it shows:\n${(await screenLines()).join("\n")}`);
}

try {
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  await page.getByRole("heading", { name: "Containers", exact: true }).waitFor();
  await page.screenshot({ path: `${SHOTS}/containers.png` });

  await page.getByRole("link", { name: `Terminal ${BERTH_CONTAINER}` }).click();
  await page.getByRole("region", { name: `Terminal of ${BERTH_CONTAINER}` }).waitFor();
  await page.locator(".xterm-rows").waitFor();
  // The shell computes the answer, so the line is its output, not the echo of what was typed.
  await page.keyboard.type("echo hi-$((40+2))\n");
  await lineMatching((line) => line === "hi-42", "hi-42");

  await page.keyboard.type("stty size\n");
  const before = await lineMatching((line) => /^\d+ \d+$/.test(line), "a size");
  await page.setViewportSize({ width: 640, height: 420 });
  await page.waitForTimeout(300);
  await page.keyboard.type("clear; stty size\n");
  const after = await lineMatching((line) => /^\d+ \d+$/.test(line) && line !== before, "a new size");
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
} catch (error) {
  await page.screenshot({ path: `${SHOTS}/failed.png` }).catch(() => {});
  console.error(`browser test failed (screenshot: ${SHOTS}/failed.png):`, error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
