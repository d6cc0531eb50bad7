// A teacher opens the API reader from the header in Debian's Chromium, finds `GET /api/v1/me`,
// tries it out and sees their own account in the answer: the reader is served from the binary
// (no CDN: any request elsewhere fails the test) under the page's own security policy, and
// sends this tab's token. Run by tests/api/browser.rs, which makes the account.
import { launch, run, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, SHOTS } = process.env;
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
page.setDefaultTimeout(15_000);

const origin = new URL(BERTH_URL).origin;
const elsewhere = [];
page.on("request", (request) => {
  if (!request.url().startsWith(origin) && !request.url().startsWith("data:")) elsewhere.push(request.url());
});
const refused = [];
page.on("console", (message) => {
  if (message.type() === "error") refused.push(message.text());
});

await run(browser, SHOTS, { page }, async () => {
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  await page.getByRole("link", { name: "API" }).click();
  await page.waitForURL(`${origin}/docs`);
  await page.getByRole("heading", { name: /berth/ }).first().waitFor();

  const me = page.locator("#operations-accounts-accounts_me");
  await me.getByRole("button", { name: /\/api\/v1\/me/ }).first().click();
  await me.getByRole("button", { name: "Try it out" }).click();
  await me.getByRole("button", { name: "Execute" }).click();
  const answer = me.locator(".responses-wrapper .live-responses-table .response-col_description");
  await answer.getByText(`"username": "${BERTH_USER}"`).waitFor();
  await page.screenshot({ path: `${SHOTS}/docs.png`, fullPage: false });

  if (elsewhere.length) throw new Error(`the reader asked another origin: ${elsewhere.join(", ")}`);
  const policy = refused.filter((text) => text.includes("Content Security Policy"));
  if (policy.length) throw new Error(`the page's policy refused the reader: ${policy.join("\n")}`);
  const operations = await page.locator(".opblock").count();
  console.log(`browser: the API reader shows ${operations} operations and tried GET /api/v1/me as ${BERTH_USER}`);
});
