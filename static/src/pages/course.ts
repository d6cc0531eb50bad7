// One course. Its teacher sees the join code, the students (and may remove one) and opens
// attendance; a student sees the course and where to check in.

import { api } from "../api";
import { confirmButton } from "../components/buttons";
import { Problem } from "../components/problem";
import { actionsCell, table } from "../components/table";
import { el, go } from "../dom";
import type { AttendanceView, CourseView, Student } from "../generated/api";
import { t } from "../i18n";
import type { PageContext } from "../page";

export async function coursePage(app: HTMLElement, { arg: id }: PageContext) {
  const course = (await api<CourseView[]>("GET", "/courses")).find((c) => c.id === id);
  if (!course) throw new Error(t("noSuchCourse"));
  const problem = new Problem();
  const back = el("p", {}, el("a", { href: "#/courses" }, t("courses")));
  if (course.role !== "teacher") {
    const checkIn = el("p", {}, el("a", { href: "#/checkin" }, t("checkIn")));
    app.replaceChildren(back, el("h1", {}, course.name), checkIn);
    return;
  }
  const students = el("div");
  const refresh = async () => {
    try {
      const enrolled = await api<Student[]>("GET", `/courses/${encodeURIComponent(id)}/students`);
      students.replaceChildren(studentTable(course, enrolled, problem, refresh));
    } catch (error) {
      problem.show(error);
    }
  };
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
    el("h2", {}, t("students")),
    students,
    el("div", { className: "toolbar" }, attendance),
  );
  await refresh();
}

function studentTable(course: CourseView, students: Student[], problem: Problem, refresh: () => Promise<void>) {
  if (students.length === 0) return el("p", {}, t("noStudentsYet"));
  const rows = students.map((student) => [
    student.username,
    new Date(student.joined_at).toLocaleDateString(),
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
  return table(t("students"), [t("username"), t("joined"), t("actions")], rows);
}
