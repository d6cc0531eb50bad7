// One course. A student sees its assignments with when they are due and where they stand, each
// opening the IDE on it. Its teacher sees the join code, the assignments (each with its
// submissions) and a form to hand one out, the students (and may remove one), and opens
// attendance.

import { api, download } from "../api";
import { actionButton, confirmButton } from "../components/buttons";
import { dueText } from "../components/assignment-words";
import { Problem } from "../components/problem";
import { actionsCell, table } from "../components/table";
import { el, go } from "../dom";
import type {
  AssignmentView,
  AttendanceView,
  CourseView,
  SessionRecord,
  ShareView,
  Student,
  Template,
  WorkspaceView,
} from "../generated/api";
import { t } from "../i18n";
import type { PageContext } from "../page";

export async function coursePage(app: HTMLElement, { arg: id, onLeave }: PageContext) {
  const course = (await api<CourseView[]>("GET", "/courses")).find((c) => c.id === id);
  if (!course) throw new Error(t("noSuchCourse"));
  const problem = new Problem();
  const back = el("p", {}, el("a", { href: "#/courses" }, t("courses")));
  const assignmentsPath = `/courses/${encodeURIComponent(id)}/assignments`;
  const shares = await api<ShareView[]>("GET", `/courses/${encodeURIComponent(id)}/shares`);
  const live = liveTerminals(shares);
  if (course.role !== "teacher") {
    const assignments = await api<AssignmentView[]>("GET", assignmentsPath);
    const checkIn = el("p", {}, el("a", { href: "#/checkin" }, t("checkIn")));
    app.replaceChildren(
      back,
      el("h1", {}, course.name),
      problem.node,
      ...live,
      el("h2", {}, t("assignments")),
      studentAssignments(assignments),
      checkIn,
    );
    return;
  }
  const students = el("div");
  const assignments = el("div");
  const attendanceHistory = el("div");
  const coursePath = `/courses/${encodeURIComponent(id)}`;
  const refresh = async () => {
    try {
      const [enrolled, handedOut, workspaces, sessions] = await Promise.all([
        api<Student[]>("GET", `${coursePath}/students`),
        api<AssignmentView[]>("GET", assignmentsPath),
        api<WorkspaceView[]>("GET", `${coursePath}/workspaces`),
        api<SessionRecord[]>("GET", `${coursePath}/attendance/history`),
      ]);
      students.replaceChildren(studentTable(course, enrolled, workspaces, problem, refresh));
      assignments.replaceChildren(teacherAssignments(handedOut), templatesOffered(handedOut, templates));
      attendanceHistory.replaceChildren(attendanceTable(sessions, problem));
    } catch (error) {
      problem.show(error);
    }
  };
  // The form's editors (CodeMirror) load with it, for teachers only.
  const [templates, { AssignmentForm }] = await Promise.all([
    api<Template[]>("GET", "/templates"),
    import("../components/assignment-form"),
  ]);
  const form = new AssignmentForm(id, templates, problem, refresh);
  onLeave(() => form.destroy());
  const attendance = el(
    "button",
    {
      type: "button",
      onclick: () =>
        problem.guard(async () => {
          const opened = await api<AttendanceView>("POST", `/courses/${encodeURIComponent(id)}/attendance`, {});
          go(`#/projector/${opened.id}`);
        }),
    },
    t("openAttendance"),
  );
  app.replaceChildren(
    back,
    el("h1", {}, course.name),
    el("p", { className: "join-code" }, `${t("courseCode")}: `, el("strong", {}, course.join_code ?? "")),
    problem.node,
    ...live,
    el("h2", {}, t("assignments")),
    assignments,
    el("details", { className: "hand-out" }, el("summary", {}, t("handOutNew")), form.node),
    el("h2", {}, t("students")),
    students,
    el("h2", {}, t("attendance")),
    el("div", { className: "toolbar" }, attendance),
    attendanceHistory,
  );
  await refresh();
}

/** The terminals shared with the course now, each to watch. */
function liveTerminals(shares: ShareView[]): Node[] {
  if (shares.length === 0) return [];
  return [
    el("h2", {}, t("liveTerminals")),
    el(
      "ul",
      { "aria-label": t("liveTerminals") },
      ...shares.map((share) =>
        el("li", {}, el("a", { href: `#/watch/${encodeURIComponent(share.share)}` }, t("watchTerminalOf", { name: share.by }))),
      ),
    ),
  ];
}

const STATES = { not_started: "notStarted", started: "started", submitted: "submitted", late: "late" } as const;

function studentAssignments(assignments: AssignmentView[]) {
  if (assignments.length === 0) return el("p", {}, t("noAssignmentsYet"));
  const rows = assignments.map((assignment) => [
    el("a", { href: `#/assignment/${encodeURIComponent(assignment.id)}` }, assignment.title),
    dueText(assignment.due_at),
    el("span", { className: `state ${assignment.mine?.state ?? ""}` }, t(STATES[assignment.mine?.state ?? "not_started"])),
  ]);
  return table(t("assignments"), [t("title"), t("due"), t("state")], rows);
}

/** The templates the course's assignments are done in: what its students get a workspace of. */
function templatesOffered(assignments: AssignmentView[], templates: Template[]) {
  const used = new Set(assignments.map((assignment) => assignment.template));
  const names = templates.filter((template) => used.has(template.id)).map((template) => template.name);
  return el(
    "p",
    { className: "offered" },
    `${t("templatesOffered")}: `,
    names.length ? names.join(", ") : "–",
    " · ",
    el("a", { href: "#/templates" }, t("templates")),
  );
}

function teacherAssignments(assignments: AssignmentView[]) {
  if (assignments.length === 0) return el("p", {}, t("noAssignmentsYet"));
  const rows = assignments.map((assignment) => [
    assignment.title,
    dueText(assignment.due_at),
    assignment.check ? t("hasCheck") : t("noCheck"),
    actionsCell(
      el(
        "a",
        { href: `#/review/${encodeURIComponent(assignment.id)}`, "aria-label": t("submissionsOf", { title: assignment.title }) },
        t("submissions"),
      ),
    ),
  ]);
  return table(t("assignments"), [t("title"), t("due"), t("check"), t("actions")], rows);
}

function studentTable(
  course: CourseView,
  students: Student[],
  workspaces: WorkspaceView[],
  problem: Problem,
  refresh: () => Promise<void>,
) {
  if (students.length === 0) return el("p", {}, t("noStudentsYet"));
  const rows = students.map((student) => [
    student.username,
    new Date(student.joined_at).toLocaleDateString(),
    // Their workspaces, each opened read-only.
    el(
      "span",
      { className: "links" },
      ...workspaces
        .filter((workspace) => workspace.owner === student.id)
        .map((workspace) =>
          el(
            "a",
            { href: `#/ide/${encodeURIComponent(workspace.id)}`, "aria-label": t("workspaceNamedOf", { workspace: workspace.name, name: student.username }) },
            workspace.name,
          ),
        ),
    ),
    actionsCell(
      confirmButton(
        `${t("remove")} ${student.username}`,
        t("remove"),
        t("confirmRemoveStudent", { name: student.username, course: course.name }),
        () =>
          problem.guard(async () => {
            await api("DELETE", `/courses/${encodeURIComponent(course.id)}/students/${encodeURIComponent(student.id)}`);
            await refresh();
          }),
      ),
    ),
  ]);
  return table(t("students"), [t("username"), t("joined"), t("workspaces"), t("actions")], rows);
}

/** Every attendance session of the course: who was there, who was not, and its CSV. */
function attendanceTable(sessions: SessionRecord[], problem: Problem) {
  if (sessions.length === 0) return el("p", {}, t("noAttendanceYet"));
  const rows = sessions.map(({ attendance, present, enrolled, absent }) => {
    const when = new Date(attendance.opens_at).toLocaleString();
    return [
      attendance.open ? `${when} (${t("openNow")})` : when,
      t("presentOf", { present, enrolled }),
      absent.length ? absent.join(", ") : "–",
      actionsCell(
        actionButton(t("rosterCsvOf", { when }), "CSV", () =>
          problem.guard(() =>
            download(`/attendance/${encodeURIComponent(attendance.id)}/roster?format=csv`, `attendance-${attendance.opens_at.slice(0, 10)}.csv`),
          ),
        ),
      ),
    ];
  });
  return table(t("attendanceHistory"), [t("opened"), t("present"), t("absent"), t("actions")], rows);
}
