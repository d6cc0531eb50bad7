// A workspace in the IDE room: its files, editor, runs and shell. A teacher looking at a
// student's workspace gets it read-only (the server refuses changes anyway).

import { api } from "../api";
import { openRoom } from "../components/ide/room";
import { Problem } from "../components/problem";
import { t } from "../i18n";
import type { PageContext } from "../page";
import { session } from "../session";
import type { Template, User, WorkspaceView as Workspace } from "../generated/api";

export async function idePage(app: HTMLElement, context: PageContext) {
  const id = context.arg;
  const [workspace, templates, me] = await Promise.all([
    api<Workspace>("GET", `/workspaces/${id}`),
    api<Template[]>("GET", "/templates"),
    api<User>("GET", "/me"),
  ]);
  const readOnly = workspace.owner !== me.id && me.role !== "admin";
  if (!readOnly) await session.open();
  await openRoom(
    app,
    {
      workspace,
      template: templates.find((candidate) => candidate.id === workspace.template),
      problem: new Problem(),
      readOnly,
      folder: context.sub,
      back: { href: "#/workspaces", text: t("workspaces") },
    },
    context,
  );
}
