// What every browser test shares: Debian's Chromium started as the machine allows (never a
// downloaded browser), a clean screenshot folder, and signing in as a person does.
import { chromium } from "playwright-core";
import { mkdir, rm } from "node:fs/promises";

/** Starts Chromium and empties the screenshot folder `shots`. */
export async function launch(shots) {
  await rm(shots, { recursive: true, force: true });
  await mkdir(shots, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Signs in through the form, finding its fields by their labels. */
export async function signIn(page, url, username, password) {
  await page.goto(url);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}
