// A shell in one of the caller's containers.

import { api } from "../api";
import { el } from "../dom";
import { t } from "../i18n";
import type { PageContext } from "../page";
import type { ContainerView as Container } from "../generated/api";

export async function terminalPage(app: HTMLElement, { arg: id, onLeave }: PageContext) {
  const container = await api<Container>("GET", `/containers/${id}`);
  const title = t("terminalOf", { name: container.name });
  const holder = el("div", { className: "terminal", role: "region", "aria-label": title });
  app.replaceChildren(
    el("p", {}, el("a", { href: "#/containers" }, t("back"))),
    el("h1", {}, title),
    holder,
  );
  const { openTerminal } = await import("../components/terminal");
  onLeave(await openTerminal(holder, { container: container.id }));
}
