// Courses as a person's home: the courses they teach (make one) or attend (join one with the
// code their teacher gives), each opening its course page.

import { api } from "../api";
import { Problem } from "../components/problem";
import { el, go } from "../dom";
import type { CourseView } from "../generated/api";
import { t } from "../i18n";

export async function myCoursesPage(app: HTMLElement) {
  const [role, courses] = await Promise.all([
    api<{ role: string }>("GET", "/me").then((me) => me.role),
    api<CourseView[]>("GET", "/courses"),
  ]);
  const problem = new Problem();
  const staff = role !== "student";
  const list =
    courses.length === 0
      ? el("p", {}, staff ? t("noCoursesTaught") : t("noCoursesJoined"))
      : el(
          "ul",
          { className: "courses", "aria-label": t("courses") },
          ...courses.map((course) =>
            el(
              "li",
              {},
              el("a", { href: `#/course/${encodeURIComponent(course.id)}` }, course.name),
              course.role === "teacher" ? ` — ${t("youTeach")}` : "",
            ),
          ),
        );
  app.replaceChildren(el("h1", {}, t("courses")), problem.node, list, staff ? newCourse(problem) : joinCourse(problem));
}

/** A teacher's form for a new course. */
function newCourse(problem: Problem) {
  const name = el("input", { id: "course-name", required: true });
  return el(
    "form",
    {
      className: "card inline",
      "aria-label": t("newCourse"),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        let made: CourseView | undefined;
        if (await problem.guard(async () => (made = await api<CourseView>("POST", "/courses", { name: name.value })))) {
          go(`#/course/${encodeURIComponent(made!.id)}`);
        }
      },
    },
    el("h2", {}, t("newCourse")),
    el("label", { htmlFor: "course-name" }, t("name")),
    name,
    el("button", { type: "submit" }, t("create")),
  );
}

/** A student's form to join a course with its code. */
function joinCourse(problem: Problem) {
  const code = el("input", { id: "join-code", required: true, autocomplete: "off" });
  return el(
    "form",
    {
      className: "card inline",
      "aria-label": t("joinCourse"),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        let joined: CourseView | undefined;
        const body = { join_code: code.value.trim() };
        if (await problem.guard(async () => (joined = await api<CourseView>("POST", "/courses/join", body)))) {
          go(`#/course/${encodeURIComponent(joined!.id)}`);
        }
      },
    },
    el("h2", {}, t("joinCourse")),
    el("label", { htmlFor: "join-code" }, t("courseCode")),
    code,
    el("button", { type: "submit" }, t("join")),
  );
}
