// The caller's containers: a list with their limits and actions, and a form to make one.

import { api } from "../api";
import { actionButton, confirmButton } from "../components/buttons";
import { Problem } from "../components/problem";
import { actionsCell, table } from "../components/table";
import { el } from "../dom";
import { t } from "../i18n";
import type { PageContext } from "../page";
import type { ContainerView as Container, LimitsView as Limits } from "../generated/api";

/** A container's limits in a few words: "512 MiB · 1 CPU · 256 processes". */
function limitsText(limits: Limits): string {
  const parts = [];
  if (limits.memory_mb) parts.push(`${limits.memory_mb} MiB`);
  if (limits.cpus) parts.push(`${limits.cpus} CPU`);
  if (limits.pids_limit) parts.push(t("pidsLimitShort", { n: limits.pids_limit }));
  return parts.join(" · ") || "–";
}

export async function containersPage(app: HTMLElement, { onLeave }: PageContext) {
  const problem = new Problem();
  const list = el("div");
  const refresh = async () => {
    try {
      const containers = await api<Container[]>("GET", "/containers");
      list.replaceChildren(containerTable(containers, refresh, problem));
    } catch (error) {
      problem.show(error);
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
        problem.clear();
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
          problem.note(t("created"));
          await refresh();
        } catch (error) {
          problem.show(error);
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
  app.replaceChildren(el("h1", {}, t("containers")), problem.node, list, create);
  await refresh();
  const timer = setInterval(refresh, 5000);
  onLeave(() => clearInterval(timer));
}

function containerTable(containers: Container[], refresh: () => Promise<void>, problem: Problem) {
  if (containers.length === 0) return el("p", {}, t("noContainers"));
  // Each button says its verb; its accessible name also says which container.
  const act = (verb: string, name: string, run: () => Promise<unknown>) =>
    actionButton(`${verb} ${name}`, verb, () => problem.guard(async () => {
      await run();
      await refresh();
    }));
  const link = (page: string, label: string, c: Container) =>
    el("a", { href: `#/${page}/${encodeURIComponent(c.id)}`, "aria-label": `${label} ${c.name}` }, label);
  const rows = containers.map((c) => [
    c.name,
    c.image,
    c.state,
    c.host,
    limitsText(c.limits),
    actionsCell(
      link("terminal", t("terminal"), c),
      link("logs", t("logs"), c),
      link("stats", t("stats"), c),
      act(t("start"), c.name, () => api("POST", `/containers/${c.id}/start`, {})),
      act(t("stop"), c.name, () => api("POST", `/containers/${c.id}/stop`, {})),
      confirmButton(`${t("remove")} ${c.name}`, t("remove"), t("confirmRemove", { name: c.name }), () =>
        problem.guard(async () => {
          await api("DELETE", `/containers/${c.id}`);
          await refresh();
        }),
      ),
    ),
  ]);
  const headers = [t("name"), t("image"), t("state"), t("host"), t("limits"), t("actions")];
  return table(null, headers, rows);
}
