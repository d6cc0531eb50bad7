// A student's assignment in the IDE room: the workspace of its template opened on its folder,
// the instructions and Submit beside the editor.

import { api } from "../api";
import { openRoom } from "../components/ide/room";
import { submitPanel } from "../components/ide/submit-panel";
import { Problem } from "../components/problem";
import type { AssignmentView, Template, WorkspaceOfAssignment, WorkspaceView as Workspace } from "../generated/api";
import { t } from "../i18n";
import type { PageContext } from "../page";
import { session } from "../session";

export async function assignmentPage(app: HTMLElement, context: PageContext) {
  const id = encodeURIComponent(context.arg);
  const assignment = await api<AssignmentView>("GET", `/assignments/${id}`);
  app.replaceChildren(t("openingAssignment"));
  const where = await api<WorkspaceOfAssignment>("POST", `/assignments/${id}/workspace`, {});
  const [workspace, templates] = await Promise.all([
    api<Workspace>("GET", `/workspaces/${encodeURIComponent(where.workspace)}`),
    api<Template[]>("GET", "/templates"),
    session.open(),
  ]);
  const problem = new Problem();
  await openRoom(
    app,
    {
      workspace,
      template: templates.find((candidate) => candidate.id === workspace.template),
      problem,
      folder: where.path,
      readOnly: false,
      back: { href: `#/course/${encodeURIComponent(assignment.course_id)}`, text: t("backToCourse") },
      side: (editor) => submitPanel(assignment, editor, problem),
    },
    context,
  );
}
