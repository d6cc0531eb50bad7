// The workspace's background jobs, listed beside the files: what each runs, how it stands,
// and buttons to show its output (attached in the output pane), stop it, or remove it once it
// ended. The list follows the jobs every few seconds while the room is open.

import { api } from "../../api";
import { el } from "../../dom";
import { t } from "../../i18n";
import type { JobView } from "../../generated/api";
import type { Problem } from "../problem";

/** How often the list is read again. */
const EVERY_MS = 3000;

export class JobsPanel {
  readonly node = el("section", { className: "jobs", "aria-label": t("backgroundJobs") });
  private readonly list = el("ul", { className: "jobs-list" });
  private timer: number | undefined;

  constructor(
    private readonly workspace: string,
    private readonly problem: Problem,
    private readonly show: ((job: string) => void) | null,
  ) {
    this.node.append(el("h2", {}, t("backgroundJobs")), this.list);
  }

  /** Reads the list now, then every few seconds. */
  start() {
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), EVERY_MS);
  }

  stop() {
    window.clearInterval(this.timer);
  }

  async refresh() {
    const path = `/workspaces/${encodeURIComponent(this.workspace)}/jobs`;
    const jobs = await api<JobView[]>("GET", path).catch(() => null);
    if (!jobs) return;
    this.list.replaceChildren(...(jobs.length ? jobs.map((job) => this.item(job)) : [el("li", {}, t("noJobs"))]));
  }

  private item(job: JobView): HTMLElement {
    const what = job.command.join(" ");
    const when = new Date(job.started_at).toLocaleTimeString();
    const buttons: HTMLElement[] = [];
    if (job.attachable && this.show) {
      buttons.push(el("button", { type: "button", onclick: () => this.show?.(job.id) }, t("showOutput")));
    }
    if (this.show) {
      const running = job.state === "running";
      buttons.push(
        el(
          "button",
          { type: "button", onclick: () => void this.remove(job.id) },
          running ? t("stopJob") : t("removeJob"),
        ),
      );
    }
    return el(
      "li",
      { "aria-label": t("jobNamed", { what }) },
      el("code", { title: what }, what),
      el("span", { className: `job-state ${job.state}` }, stateText(job), " · ", when),
      el("span", { className: "job-buttons" }, ...buttons),
    );
  }

  private async remove(job: string) {
    try {
      await api("DELETE", `/workspaces/${encodeURIComponent(this.workspace)}/jobs/${encodeURIComponent(job)}`);
      this.problem.clear();
    } catch (error) {
      this.problem.show(error);
    }
    await this.refresh();
  }
}

/** How a job stands, in words. */
function stateText(job: JobView): string {
  switch (job.state) {
    case "running":
      return t("jobRunning");
    case "exited":
      return t("jobExited", { code: job.code ?? "?" });
    case "killed":
      return t("jobKilled", { why: job.killed ?? "?" });
    case "failed":
      return t("jobFailed", { why: job.error ?? "?" });
    default:
      return t("jobLost");
  }
}
