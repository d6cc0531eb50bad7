// berth's browser UI: signs in over REST, opens one WebSocket per tab (with a single-use
// ticket, never the token in the URL), and draws one page at a time from the route table.

// The pages that need a large library (xterm.js, CodeMirror, uPlot) are loaded when first
// opened, so the sign-in page does not wait for them. Their styles are small and load here.
import "@xterm/xterm/css/xterm.css";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { api, myAccount, onUnauthorized, token, type Account } from "./api";
import { alertBox } from "./components/problem";
import { el, go } from "./dom";
import { lang, setLang, t } from "./i18n";
import type { Page } from "./page";
import { checkInPage } from "./pages/checkin";
import { containersPage } from "./pages/containers";
import { coursePage } from "./pages/course";
import { coursesPage } from "./pages/courses";
import { hostsPage } from "./pages/hosts";
import { imagesPage } from "./pages/images";
import { logsPage } from "./pages/logs";
import { myCoursesPage } from "./pages/my-courses";
import { projectorPage } from "./pages/projector";
import { registriesPage } from "./pages/registries";
import { finishSignIn, signInPage } from "./pages/signin";
import { terminalPage } from "./pages/terminal";
import { workspacesPage } from "./pages/workspaces";
import { session } from "./session";

/** A page of the route table: how to get it, whether its route needs an argument
 * (`#/logs/<id>`), and whether it shows a live stream (then it is drawn again when the
 * WebSocket is back after a drop; the others keep what was typed into them). */
type Route = { page: () => Promise<Page>; arg?: true; streams?: true };

const routes: Record<string, Route> = {
  containers: { page: async () => containersPage },
  courses: { page: async () => myCoursesPage },
  course: { page: async () => coursePage, arg: true },
  terminal: { page: async () => terminalPage, arg: true, streams: true },
  logs: { page: async () => logsPage, arg: true, streams: true },
  stats: { page: async () => (await import("./pages/stats")).statsPage, arg: true, streams: true },
  workspaces: { page: async () => workspacesPage },
  templates: { page: async () => (await import("./pages/templates")).templatesPage },
  ide: { page: async () => (await import("./pages/ide")).idePage, arg: true },
  assignment: { page: async () => (await import("./pages/assignment")).assignmentPage, arg: true },
  review: { page: async () => (await import("./pages/review")).reviewPage, arg: true },
  watch: { page: async () => (await import("./pages/watch")).watchPage, arg: true, streams: true },
  images: { page: async () => imagesPage },
  registries: { page: async () => registriesPage },
  hosts: { page: async () => hostsPage },
  attendance: { page: async () => coursesPage },
  projector: { page: async () => projectorPage, arg: true, streams: true },
  checkin: { page: async () => checkInPage },
  audit: { page: async () => (await import("./pages/audit")).auditPage },
  usage: { page: async () => (await import("./pages/usage")).usagePage },
};

let leave: (() => void) | null = null;
/** What happens when the WebSocket is back after a drop (see `Route`; the IDE restarts only
 * its shell). */
let reconnected: (() => void) | null = null;

function header(account: Account | null) {
  const role = account?.role ?? null;
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
        el("a", { href: "#/courses" }, t("courses")),
        el("a", { href: "#/containers" }, t("containers")),
        el("a", { href: "#/workspaces" }, t("workspaces")),
        ...(staff ? [el("a", { href: "#/templates" }, t("templates"))] : []),
        el("a", { href: "#/images" }, t("images")),
        el("a", { href: "#/registries" }, t("registries")),
        ...(staff ? [el("a", { href: "#/hosts" }, t("hosts"))] : []),
        ...(staff ? [el("a", { href: "#/attendance" }, t("attendance"))] : []),
        el("a", { href: "#/checkin" }, t("checkIn")),
        ...(role === "admin"
          ? [el("a", { href: "#/usage" }, t("usage")), el("a", { href: "#/audit" }, t("auditLog"))]
          : []),
        // The API reader, for those who script berth; it is a page of its own.
        ...(staff ? [el("a", { href: "/docs" }, t("apiDocs"))] : []),
      ]
    : [];
  // Who is signed in, and as what.
  const who = account
    ? [
        el(
          "span",
          { className: "who", title: t("signedInAs", { name: account.username, role: t(account.role) }) },
          `${account.username} · ${t(account.role)}`,
        ),
        signOut,
      ]
    : [];
  top.replaceChildren(el("strong", {}, t("appName")), el("nav", {}, ...nav), ...who, languages);
}

/** How many times a page has been drawn: a page whose drawing began before the latest one's
 * draws into a container no longer on the page, and its cleanup runs at once. */
let drawings = 0;

async function render() {
  leave?.();
  leave = null;
  const drawing = ++drawings;
  const current = () => drawing === drawings;
  // A page drawn after a slower one was asked for (a click right after signing in, while the
  // first page still loads) is not overwritten by it.
  const app = el("div", {});
  document.getElementById("app")!.replaceChildren(app);
  const [, name, arg, sub] = location.hash.split("/");
  if (!token.get()) {
    header(null);
    reconnected = null;
    if (name === "sso") return finishSignIn(app);
    if (name !== "signin") return go("#/signin");
    return signInPage(app);
  }
  if (name === "signin" || name === "sso") return go("#/courses");
  const asked = routes[name];
  const route = asked && (!asked.arg || arg) ? asked : routes.courses;
  reconnected = route.streams ? () => render() : null;
  try {
    const account = await myAccount();
    if (!current()) return;
    header(account);
    const page = await route.page();
    await page(app, {
      arg: arg ?? "",
      sub: sub ? decodeURIComponent(sub) : "",
      onLeave: (cleanup) => (current() ? (leave = cleanup) : cleanup()),
      onReconnect: (restart) => {
        if (current()) reconnected = restart;
      },
    });
  } catch (error) {
    app.replaceChildren(alertBox(error));
  }
}

onUnauthorized(() => {
  token.set(null);
  session.close();
  go("#/signin");
});
setLang(lang);
session.onReconnected = () => reconnected?.();
window.addEventListener("hashchange", () => render());
render();
