// Buttons that act: one that asks first, and one that reports its failure.

import { el } from "../dom";

/** A button named `label` for screen readers, showing `text`, that runs `action`. */
export function actionButton(label: string, text: string, action: () => unknown): HTMLButtonElement {
  return el("button", { type: "button", "aria-label": label, title: label, onclick: action }, text);
}

/** The same, but it asks `question` first and does nothing unless the person agrees. */
export function confirmButton(label: string, text: string, question: string, action: () => unknown): HTMLButtonElement {
  return actionButton(label, text, () => {
    if (confirm(question)) return action();
  });
}
