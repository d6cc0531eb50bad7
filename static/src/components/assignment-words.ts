// An assignment's due time and a check's result in words, for every page that shows them (kept
// apart from the IDE's panel, so that a course page does not load the Markdown renderer).

import type { CheckResult } from "../generated/api";
import { t } from "../i18n";

export function dueText(due: string | null): string {
  return due ? t("dueAt", { when: new Date(due).toLocaleString() }) : t("noDueDate");
}

/** A check's result in words. */
export function checkText(check: CheckResult): string {
  if (check.state === "queued" || check.state === "running") return t("checking");
  if (check.state === "failed") return t("checkCouldNotRun", { why: check.error ?? "" });
  if (check.passed) return t("checkPassed", { ms: check.duration_ms ?? 0 });
  if (check.killed) return t("checkKilled", { why: check.killed });
  return t("checkFailed", { code: check.code ?? "?" });
}
