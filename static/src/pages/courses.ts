// A teacher's courses: make one, open attendance in one (which goes to its projector).

import { api } from "../api";
import { alertBox } from "../components/problem";
import { el, go } from "../dom";
import { t } from "../i18n";
import type { AttendanceView as Attendance, CourseView as Course } from "../generated/api";

/** A teacher's courses: make one, open attendance in one. */
export async function coursesPage(app: HTMLElement) {
  const courses = (await api<Course[]>("GET", "/courses")).filter((c) => c.role === "teacher");
  const problem = el("div");
  const name = el("input", { id: "course-name", required: true });
  const create = el(
    "form",
    {
      className: "card inline",
      "aria-label": t("newCourse"),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        try {
          await api("POST", "/courses", { name: name.value });
          go("#/attendance");
        } catch (error) {
          problem.replaceChildren(alertBox(error));
        }
      },
    },
    el("h2", {}, t("newCourse")),
    el("label", { htmlFor: "course-name" }, t("name")),
    name,
    el("button", { type: "submit" }, t("create")),
  );
  const rows = courses.map((course) =>
    el(
      "li",
      {},
      `${course.name} (${t("joinCode")}: ${course.join_code}) `,
      el(
        "button",
        {
          type: "button",
          "aria-label": `${t("openAttendance")} ${course.name}`,
          onclick: async () => {
            try {
              const opened = await api<Attendance>("POST", `/courses/${course.id}/attendance`, {});
              go(`#/projector/${opened.id}`);
            } catch (error) {
              problem.replaceChildren(alertBox(error));
            }
          },
        },
        t("openAttendance"),
      ),
    ),
  );
  app.replaceChildren(el("h1", {}, t("attendance")), problem, el("ul", {}, ...rows), create);
}
