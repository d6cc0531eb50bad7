// The UI measured in Debian's Chromium: time to interactive of the sign-in page and of a
// terminal, keystroke echo in a terminal flooded by `yes` (and how much the tab stalls), and a
// million log lines. Run by benches/session.rs, which starts the server, makes the account and
// the containers, samples the server's memory meanwhile, and writes docs/benchmarks.md from the
// one JSON line this prints.
import { launch, signIn } from "../tests/browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, BERTH_TERMINAL, BERTH_LOGS, LINES, SHOTS } = process.env;
const FLOOD_S = Number(process.env.FLOOD_S ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const INTERRUPTS = Number(process.env.INTERRUPTS ?? 30);

const sorted = (values) => [...values].sort((a, b) => a - b);
const at = (values, p) => sorted(values)[Math.min(values.length - 1, Math.round((values.length - 1) * p))];
const round = (ms) => Math.round(ms * 10) / 10;

// Watches the page's WebSocket from inside: the time each typed `Z` comes back (the only `Z`
// in a stream of `y` lines is the terminal's echo of it), bytes received, and long tasks.
const probe = () => {
  const echo = { typed: null, samples: [], bytes: 0, longTasks: [], interrupted: null, after: 0, promptArrived: null };
  window.__probe = echo;
  document.addEventListener("keydown", (e) => e.key === "Z" && (echo.typed = e.timeStamp), true);
  // Ctrl-C: from the key to the shell's prompt arriving (the first `#` after it) and drawn, and
  // how many bytes came between.
  document.addEventListener(
    "keydown",
    (e) => {
      if (!e.ctrlKey || e.key.toLowerCase() !== "c") return;
      echo.interrupted = e.timeStamp;
      echo.after = 0;
      echo.promptArrived = null;
    },
    true,
  );
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (!(event.data instanceof ArrayBuffer)) return;
        const bytes = new Uint8Array(event.data);
        echo.bytes += bytes.length;
        if (echo.interrupted !== null && echo.promptArrived === null) {
          echo.after += bytes.length - 2;
          if (bytes.indexOf(0x23, 2) >= 0) echo.promptArrived = performance.now() - echo.interrupted;
        }
        if (echo.typed !== null && bytes.indexOf(0x5a, 2) >= 0) {
          echo.samples.push(performance.now() - echo.typed);
          echo.typed = null;
        }
      });
    }
  };
  new PerformanceObserver((list) => list.getEntries().forEach((e) => echo.longTasks.push(e.duration))).observe({
    type: "longtask",
  });
};

const browser = await launch(SHOTS);
const result = {};
try {
  // Sign-in page: navigation start to the username field in the page (first visit each time).
  const signInMs = [];
  for (let i = 0; i < ROUNDS; i++) {
    const context = await browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    await page.goto(BERTH_URL);
    const shown = await page.waitForFunction(() => document.getElementById("username") && performance.now(), null, {
      polling: "raf",
    });
    signInMs.push(await shown.jsonValue());
    await context.close();
  }
  result.sign_in_ms = { p50: round(at(signInMs, 0.5)), max: round(Math.max(...signInMs)) };

  const context = await browser.newContext({ locale: "en-US", viewport: { width: 1100, height: 800 } });
  await context.addInitScript(probe);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  // Everyone lands on their courses; the terminals are on the containers page.
  await page.getByRole("link", { name: "Containers" }).click();

  // A terminal: click on its link to the shell's prompt on screen.
  const prompt = () =>
    page.waitForFunction(
      () => [...document.querySelectorAll(".xterm-rows > div")].some((r) => /[#$] $/.test(r.textContent.trimEnd() + " ")) && performance.now(),
      null,
      { polling: "raf" },
    );
  const terminalMs = [];
  for (let i = 0; i < ROUNDS; i++) {
    await page.getByRole("link", { name: `Terminal ${BERTH_TERMINAL}` }).waitFor();
    const clicked = await page.evaluate(() => performance.now());
    await page.getByRole("link", { name: `Terminal ${BERTH_TERMINAL}` }).click();
    terminalMs.push((await (await prompt()).jsonValue()) - clicked);
    await page.getByRole("link", { name: "Back to containers" }).click();
  }
  result.terminal_ms = { p50: round(at(terminalMs, 0.5)), max: round(Math.max(...terminalMs)) };

  // Echo: `Z` typed at the prompt, then while `yes` floods the terminal.
  await page.getByRole("link", { name: `Terminal ${BERTH_TERMINAL}` }).click();
  await prompt();
  const echoes = async (until) => {
    await page.evaluate(() => (window.__probe.samples = []));
    while (Date.now() < until) {
      await page.keyboard.press("Z");
      await page.waitForFunction(() => window.__probe.typed === null, null, { polling: 10, timeout: 5000 }).catch(() => {});
      await page.waitForTimeout(50); // typing pace: about 15 keys a second
    }
    return page.evaluate(() => window.__probe.samples);
  };
  const idle = await echoes(Date.now() + 3000);
  await page.keyboard.press("Control+C");
  await page.keyboard.type("yes\n");
  await page.waitForFunction(() => window.__probe.bytes > 1 << 20);
  await page.evaluate(() => {
    window.__probe.bytes = 0;
    window.__probe.longTasks = [];
  });
  result.flood_start = Date.now();
  const flooded = await echoes(Date.now() + FLOOD_S * 1000);
  result.flood_end = Date.now();
  const during = await page.evaluate(() => ({ bytes: window.__probe.bytes, longTasks: window.__probe.longTasks }));
  await page.screenshot({ path: `${SHOTS}/flood.png` });
  await page.keyboard.press("Control+C");
  await prompt();

  // Ctrl-C under a flood: `yes` for a second and a half, then Ctrl-C, until the prompt is on
  // the screen (the last line that is not empty ends in the prompt).
  const promptDrawn = () =>
    page.waitForFunction(
      () => {
        const rows = [...document.querySelectorAll(".xterm-rows > div")].map((r) => r.textContent.trimEnd()).filter(Boolean);
        return /[#$]$/.test(rows.at(-1) ?? "") && performance.now();
      },
      null,
      { polling: "raf", timeout: 20_000 },
    );
  const interrupts = [];
  const arrived = [];
  const after = [];
  for (let i = 0; i < INTERRUPTS; i++) {
    await page.keyboard.type("yes\n");
    await page.waitForTimeout(1500);
    await page.keyboard.press("Control+C");
    const drawn = await (await promptDrawn()).jsonValue();
    const seen = await page.evaluate(() => window.__probe);
    interrupts.push(drawn - seen.interrupted);
    arrived.push(seen.promptArrived);
    after.push(seen.after / 1024);
    await page.waitForTimeout(200);
  }
  result.interrupt_ms = { n: interrupts.length, p50: round(at(interrupts, 0.5)), p99: round(at(interrupts, 0.99)) };
  result.interrupt_arrived_ms = { p50: round(at(arrived, 0.5)), p99: round(at(arrived, 0.99)) };
  result.interrupt_after_kib = { p50: round(at(after, 0.5)), max: round(Math.max(...after)) };
  result.echo_idle_ms = { n: idle.length, p50: round(at(idle, 0.5)), p99: round(at(idle, 0.99)) };
  result.echo_flood_ms = { n: flooded.length, p50: round(at(flooded, 0.5)), p99: round(at(flooded, 0.99)) };
  result.flood_mib_s = round(during.bytes / (1 << 20) / FLOOD_S);
  result.long_tasks = { count: during.longTasks.length, max_ms: round(Math.max(0, ...during.longTasks)) };
  await page.getByRole("link", { name: "Back to containers" }).click();

  // A million log lines: the last line on screen, and (with "All") the whole log held.
  const logLink = page.getByRole("link", { name: `Logs ${BERTH_LOGS}` });
  await logLink.waitFor();
  const opened = await page.evaluate(() => performance.now());
  await logLink.click();
  const firstRow = await page.waitForFunction(() => document.querySelector(".log-row") && performance.now(), null, {
    polling: "raf",
  });
  const lastRow = await page.waitForFunction(
    (last) => [...document.querySelectorAll(".log-row")].some((r) => r.textContent === last) && performance.now(),
    LINES,
    { polling: "raf" },
  );
  result.logs_first_paint_ms = round((await firstRow.jsonValue()) - opened);
  result.logs_end_ms = round((await lastRow.jsonValue()) - opened);
  const chose = await page.evaluate(() => performance.now());
  await page.getByLabel("Lines from the end").selectOption("0");
  const all = await page.waitForFunction(
    (n) => document.querySelector(".log-count")?.textContent === `${n} lines` && performance.now(),
    LINES,
    { polling: 100, timeout: 180_000 },
  );
  result.logs_all_ms = round((await all.jsonValue()) - chose);
  await page.screenshot({ path: `${SHOTS}/logs-all.png` });
  console.log(JSON.stringify(result));
} catch (error) {
  console.error("ui bench failed:", error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
