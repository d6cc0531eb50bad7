// An admin works with images in Debian's Chromium: a pull without a login is refused with a
// hint; a registry is added with the login check's answer shown (and a wrong password refused
// in words); the filter narrows the image list; a pull from that registry shows a progress bar
// per layer and ends with the image listed; it is exported, removed and loaded back with upload
// progress; a pasted Dockerfile builds with its log live; the built image is tagged, then
// removed (confirmed); removing an image a container uses is refused in words; the hosts page
// shows the engine healthy, and a second engine is added with its TLS files. Run by
// tests/api/browser.rs, which pushes the image to pull.
import { launch, run, signIn } from "./browser.mjs";

const { BERTH_URL, BERTH_USER, BERTH_PASSWORD, BERTH_PULL, BERTH_BASE, BERTH_BUILD_TAG, BERTH_TAGGED, REGISTRY, REGISTRY_USER,
  REGISTRY_PASSWORD, TLS_HOST, TLS_DIR, SHOTS } = process.env;
const browser = await launch(SHOTS);
const page = await browser.newPage({ viewport: { width: 1100, height: 1000 }, locale: "en-US" });
page.setDefaultTimeout(30_000);

await run(browser, SHOTS, { page }, async () => {
  await signIn(page, BERTH_URL, BERTH_USER, BERTH_PASSWORD);
  // Pulling from a registry berth has no login for is refused, with what to do in words.
  await page.getByRole("link", { name: "Images" }).click();
  const pull = page.getByRole("form", { name: "Pull" });
  await pull.getByLabel("Image", { exact: true }).fill(BERTH_PULL);
  await pull.getByRole("button", { name: "Pull", exact: true }).click();
  await page.getByRole("alert").filter({ hasText: "The registry refused without a login: add it on the Registries page" }).waitFor();

  // First a registry (its stored login is what the pull below uses): a wrong password is
  // refused in words; the right one is checked and saved.
  await page.getByRole("link", { name: "Registries" }).click();
  const add = page.getByRole("form", { name: "Add registry" });
  await add.getByLabel("Name", { exact: true }).fill("classroom");
  await add.getByLabel("Server", { exact: true }).fill(REGISTRY);
  await add.getByLabel("Username", { exact: true }).fill(REGISTRY_USER);
  await add.getByLabel("Password", { exact: true }).fill("wrong-password");
  await add.getByRole("button", { name: "Add registry" }).click();
  const check = page.getByRole("status", { name: "Login check" });
  await check.getByRole("alert").waitFor();
  const refused = await check.textContent();
  if (refused.includes("{") || !/credentials|password|login/i.test(refused)) {
    throw new Error(`the refusal does not say why in words: ${refused}`);
  }
  await add.getByLabel("Password", { exact: true }).fill(REGISTRY_PASSWORD);
  await add.getByRole("button", { name: "Add registry" }).click();
  await check.filter({ hasText: `Signed in to ${REGISTRY} as ${REGISTRY_USER}` }).waitFor();
  await page.getByRole("table", { name: "Registries" }).getByRole("cell", { name: "classroom", exact: true }).waitFor();
  if (await page.getByText(REGISTRY_PASSWORD).count()) throw new Error("the password is shown on the page");
  await page.screenshot({ path: `${SHOTS}/registries.png`, fullPage: true });

  await page.getByRole("link", { name: "Images" }).click();
  const images = page.getByRole("table", { name: "Images" });
  await images.getByRole("cell", { name: BERTH_BASE, exact: true }).waitFor();

  // A fuzzy filter: letters in order, not a substring.
  await page.getByLabel("Filter").fill("bsybx");
  await images.getByRole("cell", { name: BERTH_BASE, exact: true }).waitFor();
  await page.getByLabel("Filter").fill("no-such-image-anywhere");
  await page.getByText("No images match.").waitFor();
  await page.getByLabel("Filter").fill("");

  // Pull: a bar per layer, then the image in the list.
  await pull.getByLabel("Image", { exact: true }).fill(BERTH_PULL);
  await pull.getByRole("button", { name: "Pull", exact: true }).click();
  await page.getByRole("progressbar", { name: /^Layer / }).first().waitFor();
  await page.getByRole("status", { name: "Pull status" }).filter({ hasText: `Pulled ${BERTH_PULL}.` }).waitFor();
  const layers = await page.getByRole("progressbar", { name: /^Layer / }).count();
  if (layers !== 2) throw new Error(`${layers} layer bars for an image of two layers`);
  await images.getByRole("cell", { name: BERTH_PULL, exact: true }).waitFor();
  await page.screenshot({ path: `${SHOTS}/pull.png`, fullPage: true });

  // Export it (a download), remove it (confirmed), and load the tar back with upload progress.
  const downloading = page.waitForEvent("download");
  await page.getByRole("button", { name: `Export ${BERTH_PULL}` }).click();
  const saved = `${SHOTS}/exported.tar`;
  await (await downloading).saveAs(saved);
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: `Remove ${BERTH_PULL}` }).click();
  await images.getByRole("cell", { name: BERTH_PULL, exact: true }).waitFor({ state: "detached" });
  await page.getByLabel("Tar file").setInputFiles(saved);
  await page.getByRole("button", { name: "Load (docker save tar)" }).click();
  await page.getByRole("status", { name: "Tar status" }).filter({ hasText: `Loaded ${BERTH_PULL}.` }).waitFor();
  const uploaded = await page.getByRole("progressbar", { name: "Upload progress" }).last().evaluate((bar) => bar.value / bar.max);
  if (uploaded !== 1) throw new Error(`the upload bar stopped at ${uploaded * 100} %`);
  await images.getByRole("cell", { name: BERTH_PULL, exact: true }).waitFor();

  // Build from a pasted Dockerfile: the log arrives while it runs, then the tag is listed.
  const build = page.getByRole("form", { name: "Build" });
  await build.getByLabel("Tag", { exact: true }).fill(BERTH_BUILD_TAG);
  await build.getByLabel("Dockerfile").fill(`FROM ${BERTH_BASE}\nRUN echo built-in-the-$((6*7))-browser\n`);
  await build.getByRole("button", { name: "Build", exact: true }).click();
  const log = page.getByRole("log", { name: "Build log" });
  await log.filter({ hasText: "built-in-the-42-browser" }).waitFor();
  await log.filter({ hasText: `Built and tagged ${BERTH_BUILD_TAG}.` }).waitFor();
  await images.getByRole("cell", { name: BERTH_BUILD_TAG, exact: true }).waitFor();
  await page.screenshot({ path: `${SHOTS}/build.png`, fullPage: true });

  // Tag it with a second name (asked in a prompt): its row lists both.
  const builtId = (await images.getByRole("row").filter({ hasText: BERTH_BUILD_TAG }).getByRole("cell").nth(1).textContent()).trim();
  const builtRow = images.getByRole("row").filter({ hasText: builtId });
  page.once("dialog", (dialog) => dialog.accept(BERTH_TAGGED));
  await page.getByRole("button", { name: `Tag ${BERTH_BUILD_TAG}` }).click();
  await builtRow.filter({ hasText: BERTH_TAGGED }).filter({ hasText: BERTH_BUILD_TAG }).waitFor();
  // Removing (confirmed) takes one name off, then the image with its last name.
  page.once("dialog", (dialog) => dialog.accept());
  await builtRow.getByRole("button", { name: /^Remove / }).click();
  await builtRow.getByRole("cell", { name: /, / }).waitFor({ state: "detached" });
  page.once("dialog", (dialog) => dialog.accept());
  await builtRow.getByRole("button", { name: /^Remove / }).click();
  await builtRow.waitFor({ state: "detached" });

  // An image a container uses is not removed, and the page says why in words.
  await page.getByRole("link", { name: "Containers" }).click();
  const create = page.getByRole("form", { name: "New container" });
  await create.getByLabel("Image").fill(BERTH_PULL);
  await create.getByLabel("Command").fill("sleep 3600");
  await create.getByRole("button", { name: "Create" }).click();
  await page.getByRole("row").filter({ hasText: BERTH_PULL }).filter({ hasText: "running" }).waitFor();
  await page.getByRole("link", { name: "Images" }).click();
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: `Remove ${BERTH_PULL}` }).click();
  await page.getByRole("alert").filter({ hasText: "A container uses this image; remove the container first." }).waitFor();
  await images.getByRole("cell", { name: BERTH_PULL, exact: true }).waitFor();
  await page.screenshot({ path: `${SHOTS}/in-use.png`, fullPage: true });

  // Hosts: the engine answers; a second one is added with its TLS files and answers too.
  await page.getByRole("link", { name: "Hosts" }).click();
  const hosts = page.getByRole("table", { name: "Hosts" });
  await hosts.getByRole("cell", { name: /^answers \(API / }).first().waitFor();
  const addHost = page.getByRole("form", { name: "Add host" });
  await addHost.getByLabel("Name", { exact: true }).fill("lab-2");
  await addHost.getByLabel("URL", { exact: true }).fill(TLS_HOST);
  await addHost.getByLabel("CA certificate (PEM)").setInputFiles(`${TLS_DIR}/ca.pem`);
  await addHost.getByLabel("Client certificate (PEM)").setInputFiles(`${TLS_DIR}/cert.pem`);
  await addHost.getByLabel("Client key (PEM)").setInputFiles(`${TLS_DIR}/key.pem`);
  await addHost.getByRole("button", { name: "Add host" }).click();
  await page.getByRole("status", { name: "Host check" }).filter({ hasText: /^lab-2 answers/ }).waitFor();
  await hosts.getByRole("row").filter({ hasText: "lab-2" }).filter({ hasText: /answers \(API / }).waitFor();
  await page.screenshot({ path: `${SHOTS}/hosts.png`, fullPage: true });
  console.log(`browser: images pulled with ${layers} layer bars, exported, loaded, built, tagged, removed, refused while in use; registry checked; TLS host added`);
});
