// Pane sizes of a split, as the IDE's separators keep them: pure, so they are unit-tested.

/** A pane's size in pixels after a drag or a key, within `min` and what leaves the other pane
 * at least `min` of `total`. */
export function clampSize(wanted: number, total: number, min: number): number {
  const most = Math.max(min, total - min);
  return Math.round(Math.min(most, Math.max(min, wanted)));
}

/** The share (0–100) of `size` in `total`, as `aria-valuenow` says it. */
export function percentOf(size: number, total: number): number {
  return total > 0 ? Math.round((size / total) * 100) : 0;
}
