// berth's browser UI: signs in over REST, opens one WebSocket per tab (with a single-use
// ticket, never the token in the URL), and drives containers and their terminals through it.

// The pages that need a large library (xterm.js, CodeMirror, uPlot) are loaded when first
// opened, so the sign-in page does not wait for them. Their styles are small and load here.
import "@xterm/xterm/css/xterm.css";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { lang, setLang, t } from "./i18n";
import { alertBox, api, el, go, myRole, session, token, type Role } from "./core";
import { checkInPage, coursesPage, projectorPage } from "./attendance";
import { logsPage } from "./logs";
import { imagesPage } from "./images";
import { hostsPage, registriesPage } from "./admin";

let leave: (() => void) | null = null;
/** What the page does when the WebSocket is back after a drop. Pages that show a stream are drawn
 * again (their streams ended with the old connection); the IDE keeps its unsaved work and
 * restarts only its shell; the others keep what was typed into them and do nothing. */
let reconnected: (() => void) | null = null;
const STREAMING_PAGES = new Set(["terminal", "logs", "stats", "projector"]);

function header(role: Role | null) {
  const top = document.getElementById("top")!;
  const languages = el(
    "select",
    {
      "aria-label": t("language"),
      onchange: (e: Event) => {
        setLang((e.target as HTMLSelectElement).value);
        render();
      },
    },
    el("option", { value: "en", selected: lang === "en" }, "English"),
    el("option", { value: "zh", selected: lang === "zh" }, "简体中文"),
  );
  const signOut = el(
    "button",
    {
      type: "button",
      onclick: async () => {
        await api("POST", "/auth/logout").catch(() => {});
        token.set(null);
        session.close();
        go("#/signin");
      },
    },
    t("signOut"),
  );
  const staff = role === "teacher" || role === "admin";
  const nav = role
    ? [
        el("a", { href: "#/containers" }, t("containers")),
        el("a", { href: "#/workspaces" }, t("workspaces")),
        el("a", { href: "#/images" }, t("images")),
        el("a", { href: "#/registries" }, t("registries")),
        ...(staff ? [el("a", { href: "#/hosts" }, t("hosts"))] : []),
        ...(staff ? [el("a", { href: "#/attendance" }, t("attendance"))] : []),
        el("a", { href: "#/checkin" }, t("checkIn")),
        signOut,
      ]
    : [];
  top.replaceChildren(el("strong", {}, t("appName")), el("nav", {}, ...nav), languages);
}

// ---- pages ----

function signInPage(app: HTMLElement) {
  let registering = false;
  const draw = () => {
    const username = el("input", { id: "username", name: "username", autocomplete: "username", required: true });
    const password = el("input", {
      id: "password",
      name: "password",
      type: "password",
      autocomplete: registering ? "new-password" : "current-password",
      required: true,
    });
    const problem = el("div");
    const submit = el("button", { type: "submit" }, registering ? t("register") : t("signIn"));
    const form = el(
      "form",
      {
        className: "card",
        "aria-label": registering ? t("register") : t("signIn"),
        onsubmit: async (event: Event) => {
          event.preventDefault();
          problem.replaceChildren();
          const credentials = { username: username.value, password: password.value };
          try {
            if (registering) await api("POST", "/auth/register", credentials);
            const login = await api<{ access_token: string }>("POST", "/auth/login", credentials);
            token.set(login.access_token);
            await session.open();
            go("#/containers");
          } catch (error) {
            problem.replaceChildren(alertBox(error));
          }
        },
      },
      el("h1", {}, registering ? t("register") : t("signIn")),
      el("label", { htmlFor: "username" }, t("username")),
      username,
      el("label", { htmlFor: "password" }, t("password")),
      password,
      problem,
      submit,
      el(
        "p",
        {},
        registering ? t("haveAccount") : t("needAccount"),
        " ",
        el(
          "button",
          {
            type: "button",
            className: "link",
            onclick: () => {
              registering = !registering;
              draw();
            },
          },
          registering ? t("signIn") : t("register"),
        ),
      ),
    );
    app.replaceChildren(form);
  };
  draw();
}

type Limits = { memory_mb?: number; cpus?: number; pids_limit?: number };
type Container = { id: string; name: string; image: string; state: string; host: string; limits: Limits };

/** A container's limits in a few words: "512 MiB · 1 CPU · 256 processes". */
function limitsText(limits: Limits): string {
  const parts = [];
  if (limits.memory_mb) parts.push(`${limits.memory_mb} MiB`);
  if (limits.cpus) parts.push(`${limits.cpus} CPU`);
  if (limits.pids_limit) parts.push(t("pidsLimitShort", { n: limits.pids_limit }));
  return parts.join(" · ") || "–";
}

async function containersPage(app: HTMLElement) {
  const problem = el("div");
  const list = el("div");
  const refresh = async () => {
    try {
      const containers = await api<Container[]>("GET", "/containers");
      list.replaceChildren(containerTable(containers, refresh, problem));
    } catch (error) {
      problem.replaceChildren(alertBox(error));
    }
  };
  const image = el("input", { id: "image", required: true, value: "" });
  const command = el("input", { id: "command", placeholder: "sleep infinity" });
  const memory = el("input", { id: "memory", type: "number", min: 16, step: 16, placeholder: "512" });
  const cpus = el("input", { id: "cpus", type: "number", min: 0.1, step: 0.1, placeholder: "1" });
  const pids = el("input", { id: "pids", type: "number", min: 16, step: 1, placeholder: "256" });
  const create = el(
    "form",
    {
      className: "card inline",
      "aria-label": t("newContainer"),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        problem.replaceChildren();
        const cmd = command.value.trim() ? command.value.trim().split(/\s+/) : undefined;
        // An empty limit field leaves the server's default.
        const number = (input: HTMLInputElement) => (input.value ? Number(input.value) : undefined);
        const spec = {
          image: image.value.trim(),
          cmd,
          memory_mb: number(memory),
          cpus: number(cpus),
          pids_limit: number(pids),
        };
        try {
          const made = await api<Container>("POST", "/containers", spec);
          await api("POST", `/containers/${made.id}/start`, {});
          problem.replaceChildren(el("p", { role: "status" }, t("created")));
          await refresh();
        } catch (error) {
          problem.replaceChildren(alertBox(error));
        }
      },
    },
    el("h2", {}, t("newContainer")),
    el("label", { htmlFor: "image" }, t("image")),
    image,
    el("label", { htmlFor: "command" }, t("command")),
    command,
    el("label", { htmlFor: "memory" }, t("memoryLimit")),
    memory,
    el("label", { htmlFor: "cpus" }, t("cpusLimit")),
    cpus,
    el("label", { htmlFor: "pids" }, t("pidsLimit")),
    pids,
    el("button", { type: "submit" }, t("create")),
  );
  app.replaceChildren(el("h1", {}, t("containers")), problem, list, create);
  await refresh();
  const timer = setInterval(refresh, 5000);
  leave = () => clearInterval(timer);
}

function containerTable(containers: Container[], refresh: () => Promise<void>, problem: HTMLElement) {
  if (containers.length === 0) return el("p", {}, t("noContainers"));
  const act = (label: string, run: () => Promise<unknown>) =>
    el(
      "button",
      {
        type: "button",
        "aria-label": label,
        onclick: async () => {
          try {
            await run();
            await refresh();
          } catch (error) {
            problem.replaceChildren(alertBox(error));
          }
        },
      },
      label.split(" ")[0],
    );
  const rows = containers.map((c) =>
    el(
      "tr",
      {},
      el("td", {}, c.name),
      el("td", {}, c.image),
      el("td", {}, c.state),
      el("td", {}, c.host),
      el("td", {}, limitsText(c.limits)),
      el(
        "td",
        { className: "actions" },
        el("a", { href: `#/terminal/${encodeURIComponent(c.id)}`, "aria-label": `${t("terminal")} ${c.name}` }, t("terminal")),
        el("a", { href: `#/logs/${encodeURIComponent(c.id)}`, "aria-label": `${t("logs")} ${c.name}` }, t("logs")),
        el("a", { href: `#/stats/${encodeURIComponent(c.id)}`, "aria-label": `${t("stats")} ${c.name}` }, t("stats")),
        act(`${t("start")} ${c.name}`, () => api("POST", `/containers/${c.id}/start`, {})),
        act(`${t("stop")} ${c.name}`, () => api("POST", `/containers/${c.id}/stop`, {})),
        act(`${t("remove")} ${c.name}`, async () => {
          if (confirm(t("confirmRemove", { name: c.name }))) {
            await api("DELETE", `/containers/${c.id}`);
          }
        }),
      ),
    ),
  );
  return el(
    "table",
    {},
    el(
      "thead",
      {},
      el("tr", {}, ...[t("name"), t("image"), t("state"), t("host"), t("limits"), t("actions")].map((h) => el("th", {}, h))),
    ),
    el("tbody", {}, ...rows),
  );
}

async function terminalPage(app: HTMLElement, id: string) {
  const container = await api<Container>("GET", `/containers/${id}`);
  const title = t("terminalOf", { name: container.name });
  const holder = el("div", { className: "terminal", role: "region", "aria-label": title });
  app.replaceChildren(
    el("p", {}, el("a", { href: "#/containers" }, t("back"))),
    el("h1", {}, title),
    holder,
  );
  const { openTerminal } = await import("./terminal");
  leave = await openTerminal(holder, { container: container.id });
}

// ---- routing ----

async function render() {
  leave?.();
  leave = null;
  const app = document.getElementById("app")!;
  const [, page, arg] = location.hash.split("/");
  reconnected = STREAMING_PAGES.has(page) ? () => render() : null;
  if (!token.get()) {
    header(null);
    if (page !== "signin") return go("#/signin");
    return signInPage(app);
  }
  try {
    header(await myRole());
    if (page === "terminal" && arg) return await terminalPage(app, arg);
    if (page === "logs" && arg) return await logsPage(app, arg, (cleanup) => (leave = cleanup));
    if (page === "stats" && arg) {
      const { statsPage } = await import("./stats");
      return await statsPage(app, arg, (cleanup) => (leave = cleanup));
    }
    if (page === "workspaces") return await (await import("./ide")).workspacesPage(app);
    if (page === "attendance") return await coursesPage(app);
    if (page === "images") return await imagesPage(app, (cleanup) => (leave = cleanup));
    if (page === "registries") return await registriesPage(app);
    if (page === "hosts") return await hostsPage(app, (cleanup) => (leave = cleanup));
    if (page === "projector" && arg) return await projectorPage(app, arg, (cleanup) => (leave = cleanup));
    if (page === "checkin") return await checkInPage(app);
    if (page === "ide" && arg) {
      const { idePage } = await import("./ide");
      return await idePage(
        app,
        arg,
        (cleanup) => (leave = cleanup),
        (restart) => (reconnected = restart),
      );
    }
    if (page === "signin") return go("#/containers");
    return await containersPage(app);
  } catch (error) {
    app.replaceChildren(alertBox(error));
  }
}

setLang(lang);
session.onReconnected = () => reconnected?.();
window.addEventListener("hashchange", () => render());
render();
