// The caller's containers: a list with their limits and actions, and a form to make one.

import { api } from "../api";
import { alertBox } from "../components/problem";
import { el } from "../dom";
import { t } from "../i18n";
import type { PageContext } from "../page";

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

export async function containersPage(app: HTMLElement, { onLeave }: PageContext) {
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
  onLeave(() => clearInterval(timer));
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
