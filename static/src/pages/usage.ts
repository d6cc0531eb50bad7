// What each user holds and uses now, for admins: live sessions and streams, containers and
// workspaces running and stopped, memory reserved and CPU now, refreshed every few seconds. An
// admin can end a user's sessions from here.

import { api, myAccount } from "../api";
import { confirmButton } from "../components/buttons";
import { Problem } from "../components/problem";
import { el } from "../dom";
import type { ServerUsage } from "../generated/api";
import { t } from "../i18n";
import type { PageContext } from "../page";

const REFRESH_MS = 5_000;

export async function usagePage(app: HTMLElement, { onLeave }: PageContext) {
  const me = await myAccount();
  const problem = new Problem();
  const table = el("div");
  const note = el("p", { className: "hint" });
  let timer: ReturnType<typeof setTimeout> | null = null;
  let left = false;
  const refresh = async () => {
    await problem.guard(async () => {
      const usage = await api<ServerUsage>("GET", "/admin/usage");
      note.textContent = usage.every_host_answered ? "" : t("someHostsSilent");
      table.replaceChildren(
        el(
          "table",
          { "aria-label": t("usage") },
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ...[t("who"), t("sessionsHeading"), t("containers"), t("workspaces"), t("memoryReserved"), t("cpuNow"), t("actions")].map(
                (h) => el("th", {}, h),
              ),
            ),
          ),
          el(
            "tbody",
            {},
            ...usage.users.map((u) =>
              el(
                "tr",
                {},
                el("td", {}, `${u.username} · ${t(u.role as "admin" | "teacher" | "student")}`),
                el(
                  "td",
                  {},
                  `${u.sessions === 1 ? t("oneSession") : t("sessions", { n: u.sessions })}, ${
                    u.streams === 1 ? t("oneStream") : t("streams", { n: u.streams })
                  }`,
                ),
                el("td", {}, t("runningStopped", { running: u.containers_running, stopped: u.containers_stopped })),
                el("td", {}, t("runningStopped", { running: u.workspaces_running, stopped: u.workspaces_stopped })),
                el("td", {}, `${u.memory_mb} MiB`),
                el("td", {}, `${u.cpu_percent.toFixed(0)}%`),
                el(
                  "td",
                  { className: "actions" },
                  // Ending one's own would sign this page out: the header's Sign out does that.
                  u.sessions > 0 && u.username !== me.username
                    ? confirmButton(
                        t("endSessionsOf", { name: u.username }),
                        t("endSessions"),
                        t("confirmEndSessions", { name: u.username }),
                        () => problem.guard(async () => {
                          await api("DELETE", `/admin/users/${u.user_id}/sessions`);
                          await refresh();
                        }),
                      )
                    : "",
                ),
              ),
            ),
          ),
        ),
      );
    });
    if (!left) {
      if (timer) clearTimeout(timer);
      timer = setTimeout(refresh, REFRESH_MS);
    }
  };
  onLeave(() => {
    left = true;
    if (timer) clearTimeout(timer);
  });
  app.replaceChildren(el("h1", {}, t("usage")), note, problem.node, table);
  await refresh();
}
