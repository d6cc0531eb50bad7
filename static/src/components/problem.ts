// Where a page says what went wrong, in words (translated by error code).

import { ApiFailure } from "../api";
import { el } from "../dom";
import { errorText } from "../i18n";

/** An error as a person reads it. */
export function problemText(error: unknown): string {
  return error instanceof ApiFailure
    ? errorText(error.code, error.message)
    : error instanceof Error
      ? error.message // our own checks, already in words (no "Error:" prefix)
      : String(error);
}

export function alertBox(error: unknown): HTMLElement {
  return el("p", { className: "error", role: "alert" }, problemText(error));
}

/** A page's problem box: empty until something fails. */
export class Problem {
  readonly node = el("div");

  show(error: unknown) {
    this.node.replaceChildren(alertBox(error));
  }

  /** Says something that is not a failure (a `status`), in the same place. */
  note(text: string) {
    this.node.replaceChildren(el("p", { role: "status" }, text));
  }

  clear() {
    this.node.replaceChildren();
  }

  /** Runs `work`, showing its failure here; true when it worked. */
  async guard(work: () => Promise<unknown>): Promise<boolean> {
    this.clear();
    try {
      await work();
      return true;
    } catch (error) {
      this.show(error);
      return false;
    }
  }
}
