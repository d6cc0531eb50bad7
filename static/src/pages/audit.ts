// The audit log, for admins: who did what, when, from where, and whether it was let through;
// filtered by person, action and time, and downloadable as CSV for a spreadsheet.

import { api, download } from "../api";
import { field } from "../components/form";
import { Problem } from "../components/problem";
import { el } from "../dom";
import type { AuditView } from "../generated/api";
import { t } from "../i18n";

/** What the entry was given, as short `key: value` text. */
function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(" ") : String(value)}`)
    .join("; ");
}

export async function auditPage(app: HTMLElement) {
  const problem = new Problem();
  const user = field("audit-user", t("username"), { placeholder: t("anyone") });
  const action = field("audit-action", t("auditAction"), { placeholder: "exec, auth.login, image.pull…" });
  const since = field("audit-since", t("since"), { type: "date" });
  const list = el("div");
  const query = () => {
    const params = new URLSearchParams();
    if (user.input.value.trim()) params.set("user", user.input.value.trim());
    if (action.input.value.trim()) params.set("action", action.input.value.trim());
    if (since.input.value) params.set("since", `${since.input.value}T00:00:00Z`);
    const text = params.toString();
    return text ? `?${text}` : "";
  };
  const show = async () => {
    await problem.guard(async () => {
      const entries = await api<AuditView[]>("GET", `/audit${query()}`);
      list.replaceChildren(
        entries.length === 0
          ? el("p", {}, t("noAuditEntries"))
          : el(
              "table",
              { "aria-label": t("auditLog"), className: "audit" },
              el(
                "thead",
                {},
                el(
                  "tr",
                  {},
                  ...[t("when"), t("who"), t("auditAction"), t("auditTarget"), t("auditOutcome"), t("auditDetail")].map(
                    (h) => el("th", {}, h),
                  ),
                ),
              ),
              el(
                "tbody",
                {},
                ...entries.map((e) =>
                  el(
                    "tr",
                    { className: e.outcome === "refused" ? "refused" : "" },
                    el("td", {}, new Date(e.at).toLocaleString()),
                    el("td", {}, e.username ?? "", e.client ? el("small", {}, ` ${e.client}`) : ""),
                    el("td", {}, el("code", {}, e.action)),
                    el("td", { className: "target" }, e.target ?? ""),
                    el("td", {}, e.outcome === "refused" ? `${t("refused")}: ${e.reason ?? ""}` : t("ok")),
                    el("td", { className: "detail" }, detailText(e.detail)),
                  ),
                ),
              ),
            ),
      );
    });
  };
  const form = el(
    "form",
    {
      className: "filters",
      "aria-label": t("auditFilters"),
      onsubmit: (event: Event) => {
        event.preventDefault();
        void show();
      },
    },
    ...user.nodes,
    ...action.nodes,
    ...since.nodes,
    el("button", { type: "submit" }, t("show")),
    el(
      "button",
      {
        type: "button",
        onclick: () => problem.guard(() => download(`/audit${query()}${query() ? "&" : "?"}format=csv`, "berth-audit.csv")),
      },
      t("downloadCsv"),
    ),
  );
  app.replaceChildren(el("h1", {}, t("auditLog")), form, problem.node, list);
  await show();
}
