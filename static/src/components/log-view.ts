// A log's lines in a scroll container that holds only the rows in view (a million lines stay a
// spacer and a screenful of rows), with a search filter and following of the end.

import { el } from "../dom";
import { t } from "../i18n";
import type { Line } from "../lib/lines";

const ROW_PX = 18;

export class LogView {
  lines: Line[] = [];
  /** Indexes of the lines matching the search, or null for all. */
  private shown: number[] | null = null;
  follow = true;
  /** Whether `lines` reaches back to the log's first line. */
  complete = false;
  loadingEarlier = false;
  private queued = false;

  readonly search = el("input", { id: "log-search", type: "search" });
  readonly followBox = el("input", { id: "log-follow", type: "checkbox", checked: true });
  readonly stampsBox = el("input", { id: "log-stamps", type: "checkbox" });
  readonly count = el("span", { className: "log-count", role: "status", "aria-label": t("lineCount") });
  readonly earlier = el("p", { className: "log-earlier", role: "status", "aria-label": t("earlierLines") });
  private readonly spacer = el("div", { className: "log-spacer" });
  private readonly rows = el("div", { className: "log-rows" });
  readonly view: HTMLElement;

  /** `nearTop` is called when the reader scrolls to the first lines (to load earlier ones). */
  constructor(label: string, nearTop: () => void) {
    this.view = el("div", { className: "log-view", role: "log", "aria-label": label, tabIndex: 0 }, this.spacer, this.rows);
    this.view.addEventListener("scroll", () => {
      // Scrolling up stops following; reaching the end again resumes it.
      const atEnd = this.view.scrollTop + this.view.clientHeight >= this.view.scrollHeight - ROW_PX;
      this.follow = atEnd;
      this.followBox.checked = atEnd;
      if (this.view.scrollTop < ROW_PX * 3 && this.lines.length > 0) nearTop();
      this.redraw();
    });
    this.followBox.addEventListener("change", () => {
      this.follow = this.followBox.checked;
      this.redraw();
    });
    this.stampsBox.addEventListener("change", () => this.redraw());
    this.search.addEventListener("input", () => this.filter());
  }

  /** Starts again, empty and following. */
  reset() {
    this.lines = [];
    this.shown = null;
    this.follow = true;
    this.followBox.checked = true;
  }

  private total() {
    return this.shown ? this.shown.length : this.lines.length;
  }

  private matches(line: Line) {
    return line.text.includes(this.search.value);
  }

  /** Lines added at the end since index `from`. */
  appended(from: number) {
    if (this.shown) for (let i = from; i < this.lines.length; i++) if (this.matches(this.lines[i])) this.shown.push(i);
    this.redraw();
  }

  /** Lines that come before the ones held, kept in view where the reader is. */
  prepend(older: Line[]) {
    if (older.length) {
      const before = this.total();
      this.lines = older.concat(this.lines);
      this.shown = this.search.value ? this.matching() : null;
      this.spacer.style.height = `${this.total() * ROW_PX}px`;
      this.view.scrollTop += (this.total() - before) * ROW_PX;
    }
    this.redraw();
  }

  filter() {
    this.shown = this.search.value ? this.matching() : null;
    this.redraw();
  }

  private matching() {
    return this.lines.flatMap((line, i) => (this.matches(line) ? [i] : []));
  }

  redraw() {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.draw();
    });
  }

  draw() {
    this.spacer.style.height = `${this.total() * ROW_PX}px`;
    if (this.follow) this.view.scrollTop = this.view.scrollHeight;
    const first = Math.floor(this.view.scrollTop / ROW_PX);
    const visible = Math.ceil(this.view.clientHeight / ROW_PX) + 1;
    const last = Math.min(this.total(), first + visible);
    const nodes: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const line = this.lines[this.shown ? this.shown[i] : i];
      const text = this.stampsBox.checked ? `${line.stamp} ${line.text}` : line.text;
      nodes.push(el("div", { className: line.stderr ? "log-row stderr" : "log-row" }, text));
    }
    this.rows.style.transform = `translateY(${first * ROW_PX}px)`;
    this.rows.replaceChildren(...nodes);
    this.count.textContent = t("lines", { n: this.total() });
    this.earlier.textContent = this.complete
      ? t("fromTheStart")
      : this.loadingEarlier
        ? t("loadingEarlier")
        : t("scrollForEarlier");
  }
}
