// The IDE: a workspace's files in a tree, one open in the editor, run with its output live,
// and a shell beside them. Files go through the files API; `run` and the shell go over the
// tab's WebSocket.

import { api } from "../api";
import { FileEditor } from "../components/ide/editor";
import { FileTree } from "../components/ide/file-tree";
import { WorkspaceFiles } from "../components/ide/files";
import { RunPanel } from "../components/ide/run-panel";
import { ShellPanel } from "../components/ide/shell-panel";
import { Problem } from "../components/problem";
import { el } from "../dom";
import { t } from "../i18n";
import type { PageContext } from "../page";
import { session } from "../session";
import type { Template, WorkspaceView as Workspace } from "../generated/api";

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

export async function idePage(app: HTMLElement, { arg: id, onLeave, onReconnect }: PageContext) {
  const [workspace, templates] = await Promise.all([
    api<Workspace>("GET", `/workspaces/${id}`),
    api<Template[]>("GET", "/templates"),
  ]);
  await session.open();
  const problem = new Problem();
  const files = new WorkspaceFiles(id);
  const editor: FileEditor = new FileEditor(files, problem, () => run.update());
  const run = new RunPanel(id, editor);
  const tree = new FileTree(files, editor, problem);
  const shell = new ShellPanel(id);
  onReconnect(() => shell.restart());
  const template = templates.find((candidate) => candidate.id === workspace.template);

  app.replaceChildren(
    el("p", {}, el("a", { href: "#/workspaces" }, t("workspaces"))),
    el("h1", {}, t("editorOf", { name: workspace.name })),
    el("p", { className: "limits" }, `${template?.name ?? ""} — ${limitsOf(template)}`),
    problem.node,
    el(
      "div",
      { className: "ide" },
      el("nav", {}, tree.tree, tree.newFile),
      el(
        "section",
        {},
        el("div", { className: "toolbar" }, editor.title, editor.saveButton, run.runButton, run.stopButton),
        editor.holder,
        run.output,
        el("div", { className: "toolbar" }, shell.button),
        shell.holder,
      ),
    ),
  );
  await tree.list();
  onLeave(() => {
    run.stop();
    shell.close();
    editor.destroy();
  });
}
