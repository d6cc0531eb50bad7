// The caller's workspaces, and a new one from a template.

import { api } from "../api";
import { alertBox } from "../components/problem";
import { el, go } from "../dom";
import { t } from "../i18n";
import type { Template, WorkspaceView as Workspace } from "../generated/api";

export async function workspacesPage(app: HTMLElement) {
  const [templates, workspaces] = await Promise.all([
    api<Template[]>("GET", "/templates"),
    api<Workspace[]>("GET", "/workspaces"),
  ]);
  const problem = el("div");
  const picker = el(
    "select",
    { id: "template", required: true },
    ...templates.map((tpl) => el("option", { value: tpl.id }, tpl.name)),
  );
  const create = el(
    "form",
    {
      className: "card inline",
      "aria-label": t("newWorkspace"),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        try {
          const made = await api<Workspace>("POST", "/workspaces", { template: picker.value });
          go(`#/ide/${made.id}`);
        } catch (error) {
          problem.replaceChildren(alertBox(error));
        }
      },
    },
    el("h2", {}, t("newWorkspace")),
    el("label", { htmlFor: "template" }, t("template")),
    picker,
    el("button", { type: "submit" }, t("create")),
  );
  const list =
    workspaces.length === 0
      ? el("p", {}, t("noWorkspaces"))
      : el(
          "ul",
          {},
          ...workspaces.map((w) =>
            el(
              "li",
              {},
              el("a", { href: `#/ide/${w.id}`, "aria-label": `${t("open")} ${w.name}` }, w.name),
              ` — ${w.state}`,
            ),
          ),
        );
  app.replaceChildren(el("h1", {}, t("workspaces")), problem, list, create);
}
