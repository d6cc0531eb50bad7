// A terminal a teacher shares with the course, watched read-only.

import { el } from "../dom";
import { t } from "../i18n";
import type { PageContext } from "../page";

export async function watchPage(app: HTMLElement, { arg: share, onLeave }: PageContext) {
  const holder = el("div", { className: "terminal", role: "region", "aria-label": t("sharedTerminal") });
  const status = el("p", { role: "status" }, t("watching"));
  app.replaceChildren(el("p", {}, el("a", { href: "#/courses" }, t("courses"))), el("h1", {}, t("sharedTerminal")), status, holder);
  const { watchTerminal } = await import("../components/terminal");
  onLeave(await watchTerminal(holder, { share }, (why) => (status.textContent = why)));
}
