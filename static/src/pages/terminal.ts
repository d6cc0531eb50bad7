// A shell in one of the caller's containers.

import { api } from "../api";
import { el, go } from "../dom";
import { t } from "../i18n";
import type { PageContext } from "../page";
import type { ContainerView as Container } from "../generated/api";

export async function terminalPage(app: HTMLElement, { arg: id, onLeave, onReconnect }: PageContext) {
  // The shell is taken back after a drop; only one that was lost is opened anew.
  onReconnect(null);
  const container = await api<Container>("GET", `/containers/${id}`);
  const title = t("terminalOf", { name: container.name });
  const holder = el("div", { className: "terminal", role: "region", "aria-label": title });
  app.replaceChildren(
    el("p", {}, el("a", { href: "#/containers" }, t("back"))),
    el("h1", {}, title),
    holder,
  );
  const { openTerminal } = await import("../components/terminal");
  onLeave(await openTerminal(holder, { container: container.id }, () => go(location.hash)));
}
