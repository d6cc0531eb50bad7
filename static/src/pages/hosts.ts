// Docker hosts: admins add and remove them (TLS material goes to the server and never comes
// back); teachers see them and their health.

import { api, myRole } from "../api";
import { confirmButton } from "../components/buttons";
import { field } from "../components/form";
import { alertBox } from "../components/problem";
import { el } from "../dom";
import { t } from "../i18n";
import type { PageContext } from "../page";
import type { HostStatus as Host } from "../generated/api";

export async function hostsPage(app: HTMLElement, { onLeave }: PageContext) {
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
                ? confirmButton(`${t("remove")} ${h.name}`, t("remove"), t("confirmRemoveHost", { name: h.name }), async () => {
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
  onLeave(() => clearInterval(timer));
}
