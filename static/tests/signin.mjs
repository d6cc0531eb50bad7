// A teacher signs in with the school's identity provider, in Debian's Chromium: the sign-in page's
// button leaves for the provider (node-oidc-provider, started by tests/api/browser.rs), a wrong
// password is refused there, the right one brings her back signed in, and the header says who she
// is and as what. No URL the browser asks for ever holds her token.
import { launch, run } from "./browser.mjs";

const { BERTH_URL, IDP_USER, IDP_PASSWORD, SHOTS } = process.env;
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1000, height: 700 }, locale: "en-US" });
page.setDefaultTimeout(15_000);
const asked = [];
page.on("request", (request) => asked.push(request.url()));

await run(browser, SHOTS, { page }, async () => {
  await page.goto(BERTH_URL);
  const button = page.getByRole("button", { name: "Sign in with School ID" });
  if (!(await button.waitFor({ timeout: 7_000 }).then(() => true, () => false))) await page.reload();
  // Registration is not open on this server: the page offers no account to make.
  if (await page.getByRole("button", { name: "Create account" }).count()) {
    throw new Error("the sign-in page offers to register on a server that does not allow it");
  }
  await page.screenshot({ path: `${SHOTS}/signin.png` });
  await button.click();

  await page.getByRole("heading", { name: "School sign-in" }).waitFor();
  await page.getByLabel("Username").fill(IDP_USER);
  await page.getByLabel("Password").fill(`${IDP_PASSWORD}-wrong`);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("alert").filter({ hasText: "Wrong username or password" }).waitFor();
  // The form comes back empty, as a person sees it after a wrong password.
  await page.getByLabel("Username").fill(IDP_USER);
  await page.getByLabel("Password").fill(IDP_PASSWORD);
  await page.getByRole("button", { name: "Continue" }).click();

  await page.getByRole("button", { name: "Sign out" }).waitFor();
  await page.getByText(`${IDP_USER} · Teacher`).waitFor();
  await page.getByRole("link", { name: "Templates" }).waitFor(); // a teacher's menu
  await page.screenshot({ path: `${SHOTS}/signed-in.png` });
  const token = await page.evaluate(() => sessionStorage.getItem("berth.token"));
  if (!token) throw new Error("no token in the tab");
  const leaked = asked.filter((url) => url.includes(token));
  if (leaked.length) throw new Error(`the token was in a URL: ${leaked.join(", ")}`);
  if (!asked.some((url) => url.includes("/api/v1/auth/oidc/callback?code="))) {
    throw new Error(`the browser never came back through the callback: ${asked.join("\n")}`);
  }
  console.log(`browser: signed in with the identity provider; ${asked.length} requests, none with the token`);
});
