// A shell in one of the caller's containers. A teacher may share it with a course they teach:
// the course's students watch it read-only.

import { api, myRole } from "../api";
import { el, go } from "../dom";
import { t } from "../i18n";
import type { PageContext } from "../page";
import type { ContainerView as Container, CourseView } from "../generated/api";
import type { StreamMessage } from "../session";
import { session } from "../session";

export async function terminalPage(app: HTMLElement, { arg: id, onLeave, onReconnect }: PageContext) {
  // The shell is taken back after a drop; only one that was lost is opened anew.
  onReconnect(null);
  const container = await api<Container>("GET", `/containers/${id}`);
  const title = t("terminalOf", { name: container.name });
  const holder = el("div", { className: "terminal", role: "region", "aria-label": title });
  const sharing = el("div", { className: "toolbar" });
  app.replaceChildren(
    el("p", {}, el("a", { href: "#/containers" }, t("back"))),
    el("h1", {}, title),
    sharing,
    holder,
  );
  const { openTerminal } = await import("../components/terminal");
  const status = el("span", { role: "status" });
  const shell = await openTerminal(holder, { container: container.id }, () => go(location.hash), (message) =>
    onShared(message, status),
  );
  onLeave(shell.close);
  const role = await myRole();
  if (role === "teacher" || role === "admin") {
    const taught = (await api<CourseView[]>("GET", "/courses")).filter((course) => course.role === "teacher");
    if (taught.length) sharing.replaceChildren(...shareControl(shell.stream, taught, status));
  }
}

function onShared(message: StreamMessage, status: HTMLElement) {
  if (message.type === "shared") status.textContent = t("sharedNow");
}

/** Share the shell with a course, and stop sharing it. */
function shareControl(stream: number, courses: CourseView[], status: HTMLElement) {
  const course = el(
    "select",
    { id: "share-course", "aria-label": t("shareWithCourse") },
    ...courses.map((c) => el("option", { value: c.id }, c.name)),
  );
  const share = el(
    "button",
    { type: "button", onclick: () => session.send({ type: "share", stream, course: course.value }) },
    t("share"),
  );
  const stop = el(
    "button",
    {
      type: "button",
      onclick: () => {
        session.send({ type: "unshare", stream });
        status.textContent = t("notShared");
      },
    },
    t("stopSharing"),
  );
  return [el("label", { htmlFor: "share-course" }, t("shareWithCourse")), course, share, stop, status];
}
