// Attendance: a teacher's courses and projector (the rotating code in large digits, its
// countdown, the live count and roster), and a student's check-in page that works on a phone.

import { alertBox, api, el, go, session } from "./core";
import { errorText, t } from "./i18n";

type Course = { id: string; name: string; join_code?: string; role: "teacher" | "student" };
type Attendance = { id: string; course_id: string; closes_at: string; open: boolean };
type Roster = { present: number; enrolled: number; students: { username: string; present: boolean }[] };

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

/** The teacher's projector: one code at a time, very large, with its countdown and the roster. */
export async function projectorPage(app: HTMLElement, id: string, setLeave: (cleanup: () => void) => void) {
  const roster = await api<Roster>("GET", `/attendance/${id}/roster`);
  const present = new Set(roster.students.filter((s) => s.present).map((s) => s.username));
  const code = el("div", { className: "code", role: "status", "aria-label": t("checkInCode") }, "······");
  const countdown = el("div", { className: "countdown", "aria-live": "off" });
  const count = el("p", { className: "count", role: "status", "aria-label": t("present") });
  const list = el("ul", { className: "roster", "aria-label": t("roster") });
  const draw = () => {
    count.textContent = t("presentOf", { present: present.size, enrolled: roster.enrolled });
    list.replaceChildren(...[...present].sort().map((name) => el("li", {}, name)));
  };
  draw();
  let expires = 0;
  const tick = setInterval(() => {
    const left = Math.max(0, Math.ceil((expires - Date.now()) / 1000));
    countdown.textContent = expires ? t("changesIn", { s: left }) : "";
  }, 250);
  await session.open();
  const stream = session.stream({
    onMessage: (message) => {
      if (message.type === "attendance.code") {
        code.textContent = message.code;
        expires = Date.parse(message.expires_at);
      } else if (message.type === "attendance.checkin") {
        present.add(message.username);
        draw();
      } else if (message.type === "end") {
        code.textContent = t("closed");
        expires = 0;
      } else if (message.type === "error") {
        app.prepend(el("p", { className: "error", role: "alert" }, errorText(message.code, message.message)));
      }
    },
  });
  session.send({ type: "attendance.watch", stream, attendance: id });
  const close = el(
    "button",
    { type: "button", onclick: () => api("POST", `/attendance/${id}/close`, {}) },
    t("closeAttendance"),
  );
  app.replaceChildren(
    el("div", { className: "projector" }, code, countdown, count, close),
    el("h2", {}, t("roster")),
    list,
  );
  setLeave(() => {
    clearInterval(tick);
    session.send({ type: "cancel", stream });
  });
}

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
