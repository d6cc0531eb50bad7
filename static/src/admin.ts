// Registries (anyone: their own; shared ones for teachers and admins) and Docker hosts (admins
// add and remove; teachers see). Passwords and TLS keys go to the server and never come back.

import { alertBox, api, el, myRole } from "./core";
import { t } from "./i18n";

type Registry = { id: string; name: string; server: string; username: string; shared: boolean };
type Host = { id: string; name: string; url?: string; tls: boolean; healthy: boolean; api_version?: string; error?: string };

/** A labelled input for a form laid out as `.card.inline`. */
function field(id: string, label: string, props: Record<string, any> = {}) {
  const input = el("input", { id, ...props });
  return { input, nodes: [el("label", { htmlFor: id }, label), input] };
}

/** A remove button that asks first. */
function removeButton(name: string, question: string, remove: () => Promise<unknown>) {
  return el(
    "button",
    {
      type: "button",
      "aria-label": `${t("remove")} ${name}`,
      onclick: () => confirm(question) && remove(),
    },
    t("remove"),
  );
}

export async function registriesPage(app: HTMLElement) {
  const role = await myRole();
  const problem = el("div");
  const answer = el("div", { role: "status", "aria-label": t("loginCheck") });
  const list = el("div");
  const refresh = async () => {
    const registries = await api<Registry[]>("GET", "/registries");
    list.replaceChildren(
      registries.length === 0
        ? el("p", {}, t("noRegistries"))
        : el(
            "table",
            { "aria-label": t("registries") },
            el("thead", {}, el("tr", {}, ...[t("name"), t("server"), t("username"), t("shared"), t("actions")].map((h) => el("th", {}, h)))),
            el(
              "tbody",
              {},
              ...registries.map((r) =>
                el(
                  "tr",
                  {},
                  el("td", {}, r.name),
                  el("td", {}, r.server),
                  el("td", {}, r.username),
                  el("td", {}, r.shared ? t("yes") : t("no")),
                  el(
                    "td",
                    { className: "actions" },
                    removeButton(r.name, t("confirmRemoveRegistry", { name: r.name }), async () => {
                      try {
                        await api("DELETE", `/registries/${r.id}`);
                        await refresh();
                      } catch (error) {
                        problem.replaceChildren(alertBox(error));
                      }
                    }),
                  ),
                ),
              ),
            ),
          ),
    );
  };

  const name = field("registry-name", t("name"), { required: true, placeholder: "classroom" });
  const server = field("registry-server", t("server"), { required: true, placeholder: "registry.school.example" });
  const username = field("registry-username", t("username"), { required: true, autocomplete: "off" });
  const password = field("registry-password", t("password"), { required: true, type: "password", autocomplete: "new-password" });
  const shared = field("registry-shared", t("sharedWithEveryone"), { type: "checkbox" });
  const form = el(
    "form",
    {
      className: "card inline",
      "aria-label": t("addRegistry"),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        answer.replaceChildren(el("p", {}, t("checkingLogin")));
        problem.replaceChildren();
        try {
          const added = await api<Registry>("POST", "/registries", {
            name: name.input.value.trim(),
            server: server.input.value.trim(),
            username: username.input.value.trim(),
            password: password.input.value,
            shared: shared.input.checked,
          });
          answer.replaceChildren(el("p", { className: "ok" }, t("registryAdded", { server: added.server, user: added.username })));
          form.reset();
          await refresh();
        } catch (error) {
          answer.replaceChildren(alertBox(error));
        } finally {
          password.input.value = ""; // never kept in the page
        }
      },
    },
    el("h2", {}, t("addRegistry")),
    ...name.nodes,
    ...server.nodes,
    ...username.nodes,
    ...password.nodes,
    ...(role === "student" ? [] : shared.nodes),
    el("button", { type: "submit" }, t("addRegistry")),
  );
  app.replaceChildren(el("h1", {}, t("registries")), problem, list, form, answer);
  await refresh();
}

export async function hostsPage(app: HTMLElement, setLeave: (cleanup: () => void) => void) {
  const role = await myRole();
  const problem = el("div");
  const list = el("div");
  const refresh = async () => {
    try {
      const hosts = await api<Host[]>("GET", "/hosts");
      list.replaceChildren(hostTable(hosts));
    } catch (error) {
      problem.replaceChildren(alertBox(error));
    }
  };
  const hostTable = (hosts: Host[]) =>
    el(
      "table",
      { "aria-label": t("hosts") },
      el("thead", {}, el("tr", {}, ...[t("name"), "URL", "TLS", t("health"), t("actions")].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        ...hosts.map((h) =>
          el(
            "tr",
            {},
            el("td", {}, h.name),
            el("td", {}, h.url ?? t("settingsEngine")),
            el("td", {}, h.tls ? t("yes") : t("no")),
            el(
              "td",
              { className: h.healthy ? "healthy" : "unhealthy" },
              h.healthy ? t("answers", { version: h.api_version ?? "?" }) : t("notAnswering", { why: h.error ?? "" }),
            ),
            el(
              "td",
              { className: "actions" },
              role === "admin" && h.name !== "local"
                ? removeButton(h.name, t("confirmRemoveHost", { name: h.name }), async () => {
                    try {
                      await api("DELETE", `/hosts/${h.id}`);
                      await refresh();
                    } catch (error) {
                      problem.replaceChildren(alertBox(error));
                    }
                  })
                : "",
            ),
          ),
        ),
      ),
    );

  const sections: HTMLElement[] = [];
  if (role === "admin") {
    const name = field("host-name", t("name"), { required: true, placeholder: "lab-2" });
    const url = field("host-url", "URL", { required: true, placeholder: "tcp://10.0.0.12:2376" });
    const pem = (id: string, label: string) => field(id, label, { type: "file", accept: ".pem,.crt,.key" });
    const ca = pem("host-ca", t("caFile"));
    const cert = pem("host-cert", t("certFile"));
    const key = pem("host-key", t("keyFile"));
    const answer = el("div", { role: "status", "aria-label": t("hostCheck") });
    const form = el(
      "form",
      {
        className: "card inline",
        "aria-label": t("addHost"),
        onsubmit: async (event: Event) => {
          event.preventDefault();
          answer.replaceChildren(el("p", {}, t("checkingHost")));
          const files = [ca, cert, key].map((f) => f.input.files?.[0]);
          try {
            if (files.some(Boolean) && !files.every(Boolean)) throw new Error(t("needAllTls"));
            const [caText, certText, keyText] = await Promise.all(files.map((f) => f?.text()));
            const tls = caText ? { ca: caText, cert: certText, key: keyText } : undefined;
            const added = await api<Host>("POST", "/hosts", { name: name.input.value.trim(), url: url.input.value.trim(), tls });
            answer.replaceChildren(el("p", { className: "ok" }, t("hostAdded", { name: added.name, version: added.api_version ?? "?" })));
            form.reset();
            await refresh();
          } catch (error) {
            answer.replaceChildren(alertBox(error));
          }
        },
      },
      el("h2", {}, t("addHost")),
      ...name.nodes,
      ...url.nodes,
      ...ca.nodes,
      ...cert.nodes,
      ...key.nodes,
      el("button", { type: "submit" }, t("addHost")),
      answer,
    );
    sections.push(form);
  }
  app.replaceChildren(el("h1", {}, t("hosts")), problem, list, ...sections);
  await refresh();
  // Health, live: the listing pings every host (each within 5 s).
  const timer = setInterval(refresh, 5000);
  setLeave(() => clearInterval(timer));
}
