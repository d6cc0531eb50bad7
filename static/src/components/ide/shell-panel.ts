// A shell in the same workspace, opened on demand (it starts a process in the container).

import { el } from "../../dom";
import { t } from "../../i18n";
import { session } from "../../session";
import { openTerminal, shellKey } from "../terminal";

export class ShellPanel {
  readonly holder = el("div", { className: "terminal ide-terminal", role: "region", "aria-label": t("terminal") });
  readonly button = el("button", { type: "button", "aria-expanded": "false" }, t("openTerminal"));
  private closeShell: (() => void) | null = null;

  constructor(private readonly workspace: string) {
    this.holder.hidden = true;
    this.button.addEventListener("click", () => this.toggle());
  }

  /** After a reload: the shell the last page left open here is taken back, open. */
  async resumeIfLeft() {
    if (!session.leftBehind() || this.closeShell) return;
    await session.open();
    if (session.holds(shellKey({ workspace: this.workspace }))) await this.toggle();
  }

  private async toggle() {
    if (this.closeShell) {
      this.close();
      this.holder.hidden = true;
      this.button.textContent = t("openTerminal");
      this.button.setAttribute("aria-expanded", "false");
      return;
    }
    this.holder.hidden = false;
    this.button.textContent = t("closeTerminal");
    this.button.setAttribute("aria-expanded", "true");
    this.closeShell = (await openTerminal(this.holder, { workspace: this.workspace }, () => this.restart())).close;
  }

  /** A shell lost to a drop (not taken back) starts anew; the editor keeps what was typed. */
  async restart() {
    if (!this.closeShell) return;
    this.close();
    this.holder.replaceChildren();
    this.closeShell = (await openTerminal(this.holder, { workspace: this.workspace }, () => this.restart())).close;
  }

  close() {
    this.closeShell?.();
    this.closeShell = null;
  }
}
