// A table with a header row, named for screen readers.

import { el } from "../dom";

export function table(label: string | null, headers: string[], rows: (Node | string)[][]): HTMLTableElement {
  return el(
    "table",
    label ? { "aria-label": label } : {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((cell) => cellOf(cell))))),
  );
}

function cellOf(cell: Node | string): HTMLTableCellElement {
  return cell instanceof HTMLTableCellElement ? cell : el("td", {}, cell);
}

/** A cell of buttons and links. */
export function actionsCell(...actions: Node[]): HTMLTableCellElement {
  return el("td", { className: "actions" }, ...actions);
}
