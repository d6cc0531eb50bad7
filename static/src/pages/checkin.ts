// A student's check-in page, made to work on a phone: pick the course, type the code.

import { api } from "../api";
import { alertBox } from "../components/problem";
import { el } from "../dom";
import { t } from "../i18n";
import type { AttendanceView as Attendance, CourseView as Course } from "../generated/api";

/** A student's check-in: pick the course, type the code on the teacher's screen. */
export async function checkInPage(app: HTMLElement) {
  const courses = (await api<Course[]>("GET", "/courses")).filter((c) => c.role === "student");
  const answer = el("div", { role: "status" });
  const course = el(
    "select",
    { id: "course", required: true },
    ...courses.map((c) => el("option", { value: c.id }, c.name)),
  );
  const code = el("input", {
    id: "code",
    required: true,
    inputMode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]*",
    maxLength: 6,
  });
  const form = el(
    "form",
    {
      className: "card",
      "aria-label": t("checkIn"),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        answer.replaceChildren();
        try {
          const open = await api<Attendance>("GET", `/courses/${course.value}/attendance`);
          const done = await api<{ at: string }>("POST", `/attendance/${open.id}/checkin`, {
            code: code.value.trim(),
          });
          const at = new Date(done.at).toLocaleTimeString();
          answer.replaceChildren(el("p", { className: "ok" }, t("checkedIn", { at })));
        } catch (error) {
          answer.replaceChildren(alertBox(error));
        }
      },
    },
    el("h1", {}, t("checkIn")),
    el("label", { htmlFor: "course" }, t("course")),
    course,
    el("label", { htmlFor: "code" }, t("code")),
    code,
    el("button", { type: "submit" }, t("checkIn")),
    answer,
  );
  app.replaceChildren(form);
}
