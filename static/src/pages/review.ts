// An assignment's submissions, for its teacher: every student's state, when they handed in,
// their check's result and output, their snapshot to download (or everyone's in one tar), and
// their workspace, opened read-only.

import { api, download } from "../api";
import { actionButton } from "../components/buttons";
import { checkText, dueText } from "../components/assignment-words";
import { Problem } from "../components/problem";
import { actionsCell, table } from "../components/table";
import { el } from "../dom";
import type { AssignmentView, SubmissionState } from "../generated/api";
import { t } from "../i18n";
import type { PageContext } from "../page";

export async function reviewPage(app: HTMLElement, { arg, onLeave }: PageContext) {
  const id = encodeURIComponent(arg);
  const assignment = await api<AssignmentView>("GET", `/assignments/${id}`);
  const problem = new Problem();
  const list = el("div");
  let timer: number | undefined;
  const refresh = async () => {
    window.clearTimeout(timer);
    try {
      const states = await api<SubmissionState[]>("GET", `/assignments/${id}/submissions`);
      list.replaceChildren(submissionTable(assignment, states, problem));
      // Checks still running are followed until they end.
      if (states.some((s) => s.check?.state === "queued" || s.check?.state === "running")) {
        timer = window.setTimeout(refresh, 1500);
      }
    } catch (error) {
      problem.show(error);
    }
  };
  onLeave(() => window.clearTimeout(timer));
  const all = actionButton(t("downloadAll"), t("downloadAll"), () =>
    problem.guard(() => download(`/assignments/${id}/submissions/archive`, `${assignment.title}.tar`)),
  );
  app.replaceChildren(
    el("p", {}, el("a", { href: `#/course/${encodeURIComponent(assignment.course_id)}` }, t("backToCourse"))),
    el("h1", {}, t("submissionsOf", { title: assignment.title })),
    el("p", {}, dueText(assignment.due_at)),
    problem.node,
    list,
    el("div", { className: "toolbar" }, all, actionButton(t("refresh"), t("refresh"), refresh)),
  );
  await refresh();
}

function stateText(state: SubmissionState): string {
  if (state.state === "missing") return t("notStarted");
  if (state.state === "started") return t("started");
  if (state.collected) return t("collectedAtDue");
  return state.late ? t("late") : t("submitted");
}

function submissionTable(assignment: AssignmentView, states: SubmissionState[], problem: Problem) {
  const id = encodeURIComponent(assignment.id);
  if (states.length === 0) return el("p", {}, t("noStudentsYet"));
  const rows = states.map((state) => {
    const check = state.check;
    const result = check
      ? el(
          "details",
          {},
          el("summary", { className: `check ${check.passed ? "passed" : check.state === "done" ? "failed" : ""}` }, checkText(check)),
          el("pre", { className: "output", "aria-label": t("checkOutputOf", { name: state.username }) }, check.output),
        )
      : "–";
    const actions = [];
    if (state.state === "submitted") {
      actions.push(
        actionButton(t("downloadOf", { name: state.username }), t("download"), () =>
          problem.guard(() =>
            download(
              `/assignments/${id}/submissions/${encodeURIComponent(state.user_id)}/archive`,
              `${state.username}.tar`,
            ),
          ),
        ),
      );
    }
    if (state.workspace) {
      actions.push(
        el(
          "a",
          {
            href: `#/ide/${encodeURIComponent(state.workspace)}/${encodeURIComponent(assignment.folder)}`,
            "aria-label": t("workspaceOf", { name: state.username }),
          },
          t("openWorkspace"),
        ),
      );
    }
    return [
      state.username,
      stateText(state),
      state.submitted_at ? new Date(state.submitted_at).toLocaleString() : "–",
      result,
      actionsCell(...actions),
    ];
  });
  return table(t("submissions"), [t("student"), t("state"), t("handedIn"), t("check"), t("actions")], rows);
}
