// A separator between two panes of a CSS grid, dragged with the pointer or moved with the arrow
// keys (an ARIA window splitter). It sets one CSS variable of the grid: the size of the pane
// before it (or after it, with `after`), which the grid's template uses.

import { el } from "../dom";
import { clampSize, percentOf } from "../lib/sizes";

export type SplitterOptions = {
  /** The grid whose variable it sets. */
  grid: HTMLElement;
  /** The CSS variable, as `--tree`. */
  variable: string;
  /** `vertical`: a bar between side-by-side panes (it moves left and right). */
  orientation: "vertical" | "horizontal";
  label: string;
  /** The pane it sizes, to read its size from. */
  pane: HTMLElement;
  /** The pane sized is after the separator (right or below) rather than before it. */
  after?: boolean;
  min?: number;
};

const STEP = 24;

export function splitter(options: SplitterOptions): HTMLElement {
  const { grid, variable, orientation, pane, after = false, min = 120 } = options;
  const vertical = orientation === "vertical";
  const bar = el("div", {
    className: `splitter ${orientation}`,
    role: "separator",
    tabIndex: 0,
    "aria-label": options.label,
    "aria-orientation": orientation,
    "aria-valuemin": "0",
    "aria-valuemax": "100",
  });
  const total = () => (vertical ? grid.clientWidth : grid.clientHeight);
  const current = () => (vertical ? pane.offsetWidth : pane.offsetHeight);
  const set = (size: number) => {
    const kept = clampSize(size, total(), min);
    grid.style.setProperty(variable, `${kept}px`);
    bar.setAttribute("aria-valuenow", String(percentOf(kept, total())));
  };
  bar.addEventListener("pointerdown", (down: PointerEvent) => {
    down.preventDefault();
    bar.setPointerCapture(down.pointerId);
    const start = vertical ? down.clientX : down.clientY;
    const from = current();
    const move = (event: PointerEvent) => {
      const moved = (vertical ? event.clientX : event.clientY) - start;
      set(after ? from - moved : from + moved);
    };
    const up = () => {
      bar.removeEventListener("pointermove", move);
      bar.removeEventListener("pointerup", up);
      // Terminals and editors fit themselves to their new size.
      window.dispatchEvent(new Event("resize"));
    };
    bar.addEventListener("pointermove", move);
    bar.addEventListener("pointerup", up);
  });
  bar.addEventListener("keydown", (event: KeyboardEvent) => {
    const grow = vertical ? "ArrowRight" : "ArrowDown";
    const shrink = vertical ? "ArrowLeft" : "ArrowUp";
    if (event.key !== grow && event.key !== shrink) return;
    event.preventDefault();
    const toward = event.key === grow ? STEP : -STEP;
    set(current() + (after ? -toward : toward));
    window.dispatchEvent(new Event("resize"));
  });
  return bar;
}
