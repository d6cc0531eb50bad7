// The teacher's projector: the rotating check-in code in large digits, its countdown, the
// live count and the roster, as check-ins arrive on the session.

import { api } from "../api";
import { startStream } from "../components/stream";
import { el } from "../dom";
import { errorText, t } from "../i18n";
import type { PageContext } from "../page";
import type { Roster } from "../generated/api";

/** The teacher's projector: one code at a time, very large, with its countdown and the roster. */
export async function projectorPage(app: HTMLElement, { arg: id, onLeave }: PageContext) {
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
  const stream = await startStream(
    {
      onMessage: (message) => {
        if (message.type === "attendance.code") {
          code.textContent = message.code;
          expires = Date.parse(message.expires_at);
        } else if (message.type === "attendance.checkin") {
          present.add(message.username);
          draw();
        }
      },
      onEnd: () => {
        code.textContent = t("closed");
        expires = 0;
      },
      onError: (code, message) => app.prepend(el("p", { className: "error", role: "alert" }, errorText(code, message))),
    },
    (stream) => ({ type: "attendance.watch", stream, attendance: id }),
  );
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
  onLeave(() => {
    clearInterval(tick);
    stream.cancel();
  });
}
