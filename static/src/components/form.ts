// Pieces of the forms pages make.

import { el } from "../dom";

/** A labelled input for a form laid out as `.card.inline`. */
export function field(id: string, label: string, props: Record<string, any> = {}) {
  const input = el("input", { id, ...props });
  return { input, nodes: [el("label", { htmlFor: id }, label), input] };
}
