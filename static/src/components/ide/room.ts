// The IDE as a room of its own: the whole window below the header, the file tree, the editor,
// the output and a terminal in panes a person resizes by dragging (or with the arrow keys on a
// separator), and, for an assignment, its instructions and Submit beside them. Someone else's
// workspace (a teacher looking at a student's) opens read-only: no saving, running or shell.

import { api } from "../../api";
import { el } from "../../dom";
import { t } from "../../i18n";
import type { SourceView, Template, WorkspaceView as Workspace } from "../../generated/api";
import type { PageContext } from "../../page";
import type { Problem } from "../problem";
import { splitter } from "../splitter";
import { FileEditor } from "./editor";
import { FileTree } from "./file-tree";
import { WorkspaceFiles } from "./files";
import { JobsPanel } from "./jobs-panel";
import { RunPanel } from "./run-panel";
import { ShellPanel } from "./shell-panel";

/** A pane beside the editor (an assignment's), given the editor so it can save first. */
export type SidePane = { node: HTMLElement; leave(): void };

export type RoomOptions = {
  workspace: Workspace;
  template: Template | undefined;
  problem: Problem;
  /** The folder the tree opens on. */
  folder?: string;
  readOnly: boolean;
  back: { href: string; text: string };
  side?: (editor: FileEditor) => SidePane;
};

/** The live streams of someone's workspace, each watched (read-only) in `pane` on a click;
 * returns what stops watching. */
async function liveStreams(workspace: string, pane: HTMLElement): Promise<() => void> {
  const streams = await api<SourceView[]>("GET", `/workspaces/${encodeURIComponent(workspace)}/streams`).catch(() => []);
  const holder = el("div", { className: "terminal ide-terminal", role: "region", "aria-label": t("watchedStream") });
  const status = el("span", { role: "status" });
  let stop: (() => void) | null = null;
  const buttons = streams.map((stream) =>
    el(
      "button",
      {
        type: "button",
        onclick: async () => {
          stop?.();
          holder.replaceChildren();
          const { watchTerminal } = await import("../terminal");
          status.textContent = t("watching");
          stop = await watchTerminal(holder, { workspace, source: stream.id }, (why) => (status.textContent = why));
        },
      },
      t("watchStream", { kind: stream.kind, when: new Date(stream.started_at).toLocaleTimeString() }),
    ),
  );
  pane.append(
    el("div", { className: "toolbar" }, ...(buttons.length ? buttons : [el("span", {}, t("noLiveStreams"))]), status),
    holder,
  );
  return () => stop?.();
}

/** A template's limits in a few words, as the IDE shows them. */
function limitsOf(template: Template | undefined): string {
  if (!template) return "";
  const parts = [];
  if (template.memory_mb) parts.push(`${template.memory_mb} MiB`);
  if (template.cpus) parts.push(`${template.cpus} CPU`);
  parts.push(template.network === "bridge" ? t("withNetwork") : t("noNetwork"));
  if (template.idle_timeout_s) parts.push(t("stopsIdle", { min: Math.round(template.idle_timeout_s / 60) }));
  return parts.join(" · ");
}

export async function openRoom(app: HTMLElement, options: RoomOptions, { onLeave, onReconnect }: PageContext) {
  const { workspace, template, problem, readOnly } = options;
  const files = new WorkspaceFiles(workspace.id);
  const editor: FileEditor = new FileEditor(files, problem, () => run?.update(), readOnly);
  const run = readOnly ? null : new RunPanel(workspace.id, editor);
  const tree = new FileTree(files, editor, problem, options.folder ?? "", readOnly);
  const shell = readOnly ? null : new ShellPanel(workspace.id);
  // Background jobs: listed to all who may look, shown and stopped by the owner.
  const jobs = new JobsPanel(workspace.id, problem, run ? (job) => void run.attach(job) : null);
  if (run) run.onJobs = () => void jobs.refresh();
  // The shell comes back by itself after a drop (or anew, if it could not be taken back).
  onReconnect(null);
  const side = options.side?.(editor);

  const grid = el("div", { className: `room-grid${side ? " with-side" : ""}` });
  const treePane = el(
    "div",
    { className: "room-tree" },
    el("nav", { "aria-label": t("files") }, tree.tree, tree.newFile),
    jobs.node,
  );
  const editorPane = el(
    "section",
    { className: "room-editor" },
    el(
      "div",
      { className: "toolbar" },
      editor.title,
      editor.saveButton,
      ...(run ? [run.runButton, run.backgroundButton, run.stopButton] : []),
    ),
    editor.holder,
  );
  const outputPane = el("section", { className: "room-output" }, ...(run ? [run.output] : [el("p", {}, t("readOnlyWorkspace"))]));
  const terminalPane = el(
    "section",
    { className: "room-terminal" },
    ...(shell ? [el("div", { className: "toolbar" }, shell.button), shell.holder] : []),
  );
  // Read-only (a teacher's look): the student's live terminals and runs, to watch.
  const watching = readOnly ? await liveStreams(workspace.id, terminalPane) : null;
  const bottom = el("div", { className: "room-bottom" }, outputPane);
  if (shell || watching) {
    bottom.append(
      splitter({ grid: bottom, variable: "--terminal", orientation: "vertical", label: t("resizeTerminal"), pane: terminalPane, after: true }),
      terminalPane,
    );
  }
  const main = el("div", { className: "room-main" });
  main.append(
    editorPane,
    splitter({ grid: main, variable: "--bottom", orientation: "horizontal", label: t("resizeOutput"), pane: bottom, after: true }),
    bottom,
  );
  grid.append(treePane, splitter({ grid, variable: "--tree", orientation: "vertical", label: t("resizeFiles"), pane: treePane }), main);
  if (side) {
    grid.append(
      splitter({ grid, variable: "--side", orientation: "vertical", label: t("resizeInstructions"), pane: side.node, after: true }),
      side.node,
    );
  }
  app.replaceChildren(
    el(
      "div",
      { className: "room" },
      el(
        "div",
        { className: "room-bar" },
        el("a", { href: options.back.href }, options.back.text),
        el("h1", {}, t("editorOf", { name: workspace.name })),
        el("span", { className: "limits" }, `${template?.name ?? ""} — ${limitsOf(template)}`),
        readOnly ? el("strong", { className: "badge" }, t("readOnly")) : "",
      ),
      problem.node,
      grid,
    ),
  );
  document.body.classList.add("in-room");
  await tree.list();
  jobs.start();
  await shell?.resumeIfLeft();
  onLeave(() => {
    document.body.classList.remove("in-room");
    jobs.stop();
    run?.leave();
    shell?.close();
    side?.leave();
    watching?.();
    editor.destroy();
  });
}
