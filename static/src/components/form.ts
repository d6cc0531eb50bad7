// Pieces of the forms pages make.

import { el } from "../dom";
import { t } from "../i18n";

/** A labelled input for a form laid out as `.card.inline`. */
export function field(id: string, label: string, props: Record<string, any> = {}) {
  const input = el("input", { id, ...props });
  return { input, nodes: [el("label", { htmlFor: id }, label), input] };
}

/** A remove button that asks first. */
export function removeButton(name: string, question: string, remove: () => Promise<unknown>) {
  return el(
    "button",
    {
      type: "button",
      "aria-label": `${t("remove")} ${name}`,
      onclick: () => confirm(question) && remove(),
    },
    t("remove"),
  );
}

