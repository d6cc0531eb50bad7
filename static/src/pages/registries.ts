// Registries: anyone adds their own; teachers and admins may share one. Passwords go to the
// server and never come back.

import { api, myRole } from "../api";
import { confirmButton } from "../components/buttons";
import { field } from "../components/form";
import { alertBox } from "../components/problem";
import { el } from "../dom";
import { t } from "../i18n";
import type { RegistryView as Registry } from "../generated/api";

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
                    confirmButton(`${t("remove")} ${r.name}`, t("remove"), t("confirmRemoveRegistry", { name: r.name }), async () => {
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
