// An assignment beside the editor: its instructions (Markdown, sanitized), when it is due, and
// Submit, with the last submission's time and its check's result (followed until it ends).

import { api, ApiFailure } from "../../api";
import { el } from "../../dom";
import type { AssignmentView, Submitted } from "../../generated/api";
import { t } from "../../i18n";
import { checkText, dueText } from "../assignment-words";
import { markdown } from "../markdown";
import type { Problem } from "../problem";
import type { FileEditor } from "./editor";
import type { SidePane } from "./room";

/** How often a check still queued or running is asked about. */
const FOLLOW_MS = 1000;

export function submitPanel(assignment: AssignmentView, editor: FileEditor, problem: Problem): SidePane {
  const id = encodeURIComponent(assignment.id);
  const status = el("p", { role: "status", "aria-label": t("submission") });
  const check = el("p", { className: "check", "aria-label": t("checkResult") });
  const output = el("pre", { className: "output check-output", "aria-label": t("checkOutput"), hidden: true });
  let timer: number | undefined;

  const show = (submitted: Submitted | null) => {
    window.clearTimeout(timer);
    if (!submitted) {
      status.textContent = t("notSubmitted");
      check.textContent = "";
      output.hidden = true;
      return;
    }
    const when = new Date(submitted.submitted_at).toLocaleString();
    status.textContent = submitted.late ? t("submittedLate", { when }) : t("submittedAt", { when });
    const result = submitted.check;
    check.textContent = result ? checkText(result) : "";
    check.className = `check ${result?.passed ? "passed" : result?.state === "done" ? "failed" : ""}`;
    output.hidden = !result || result.state === "queued" || result.state === "running";
    output.textContent = result?.output ?? "";
    if (result && (result.state === "queued" || result.state === "running")) {
      timer = window.setTimeout(load, FOLLOW_MS);
    }
  };
  async function load() {
    try {
      show(await api<Submitted>("GET", `/assignments/${id}/submission`));
    } catch (error) {
      if (error instanceof ApiFailure && error.code === "not_found") show(null);
      else problem.show(error);
    }
  }
  const submit = el(
    "button",
    {
      type: "button",
      className: "primary",
      onclick: () =>
        problem.guard(async () => {
          submit.disabled = true;
          try {
            await editor.save();
            show(await api<Submitted>("POST", `/assignments/${id}/submit`, {}));
            if (!assignment.check) await load();
          } finally {
            submit.disabled = false;
          }
        }),
    },
    t("submit"),
  );
  const node = el(
    "aside",
    { className: "room-side", "aria-label": t("assignment") },
    el("h2", {}, assignment.title),
    el("p", { className: "due" }, dueText(assignment.due_at)),
    markdown(assignment.instructions || t("noInstructions"), t("instructions")),
    el("div", { className: "submit-box" }, submit, status, check, output),
  );
  load();
  return { node, leave: () => window.clearTimeout(timer) };
}
