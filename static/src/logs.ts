// A container's logs, followed live, with search. The view opens on the last lines (the engine
// reads a log's tail quickly, however long the log) and loads earlier ones when the reader
// scrolls to the top. Only the rows in view are in the page (a million lines stay one scroll
// container, a spacer and a screenful of rows), so the view stays quick however long it grows.

import { api, el, session } from "./core";
import { errorText, t } from "./i18n";

type Container = { id: string; name: string };

const ROW_PX = 18;
/** How many lines from the end the view starts with; 0 is the whole log. */
const TAILS = [1000, 10_000, 100_000, 0];
const DEFAULT_TAIL = 10_000;

/** One log line as the engine sends it with timestamps: "<RFC 3339 time> <text>". */
type Line = { stamp: string; text: string; stderr: boolean };

/** Splits a stream's bytes into lines, per channel, keeping a line's start until its end comes. */
class LineSplitter {
  private partial = ["", "", ""];
  private decoders = [new TextDecoder(), new TextDecoder(), new TextDecoder()];

  push(channel: number, bytes: Uint8Array, out: Line[]) {
    const text = this.partial[channel] + this.decoders[channel].decode(bytes, { stream: true });
    const parts = text.split("\n");
    this.partial[channel] = parts.pop() ?? "";
    for (const part of parts) out.push(parse(part, channel === 2));
  }

  /** The unfinished lines, when the stream has ended. */
  flush(out: Line[]) {
    for (const channel of [1, 2]) {
      if (this.partial[channel]) out.push(parse(this.partial[channel], channel === 2));
      this.partial[channel] = "";
    }
  }
}

function parse(raw: string, stderr: boolean): Line {
  const space = raw.indexOf(" ");
  return space < 0
    ? { stamp: raw, text: "", stderr }
    : { stamp: raw.slice(0, space), text: raw.slice(space + 1), stderr };
}

/** The lines of `history` that come before `lines[0]`. Lines written in the same nanosecond
 * share a stamp, so those at the boundary are matched by count. */
export function olderThan(history: Line[], lines: Line[]): Line[] {
  if (lines.length === 0) return history;
  const boundary = lines[0].stamp;
  let held = 0;
  while (held < lines.length && lines[held].stamp === boundary) held++;
  let end = history.findIndex((line) => line.stamp > boundary);
  if (end < 0) end = history.length;
  let start = end;
  while (start > 0 && history[start - 1].stamp === boundary) start--;
  return history.slice(0, Math.max(start, end - held));
}

export async function logsPage(app: HTMLElement, id: string, setLeave: (cleanup: () => void) => void) {
  const container = await api<Container>("GET", `/containers/${id}`);
  let lines: Line[] = [];
  let shown: number[] | null = null; // indexes of the lines matching the search, or all
  let follow = true;
  let complete = false; // whether `lines` reaches back to the log's first line
  let loadingEarlier = false;
  let live = 0; // the live stream's id

  const search = el("input", { id: "log-search", type: "search" });
  const followBox = el("input", { id: "log-follow", type: "checkbox", checked: true });
  const stampsBox = el("input", { id: "log-stamps", type: "checkbox" });
  const tail = el(
    "select",
    { id: "log-tail" },
    ...TAILS.map((n) =>
      el("option", { value: String(n), selected: n === DEFAULT_TAIL }, n ? n.toLocaleString() : t("allLines")),
    ),
  );
  const count = el("span", { className: "log-count", role: "status", "aria-label": t("lineCount") });
  const earlier = el("p", { className: "log-earlier", role: "status", "aria-label": t("earlierLines") });
  const problem = el("div");
  const spacer = el("div", { className: "log-spacer" });
  const rows = el("div", { className: "log-rows" });
  const view = el(
    "div",
    { className: "log-view", role: "log", "aria-label": t("logsOf", { name: container.name }), tabIndex: 0 },
    spacer,
    rows,
  );

  const total = () => (shown ? shown.length : lines.length);
  const draw = () => {
    spacer.style.height = `${total() * ROW_PX}px`;
    if (follow) view.scrollTop = view.scrollHeight;
    const first = Math.floor(view.scrollTop / ROW_PX);
    const visible = Math.ceil(view.clientHeight / ROW_PX) + 1;
    const last = Math.min(total(), first + visible);
    const nodes: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const line = lines[shown ? shown[i] : i];
      const text = stampsBox.checked ? `${line.stamp} ${line.text}` : line.text;
      nodes.push(el("div", { className: line.stderr ? "log-row stderr" : "log-row" }, text));
    }
    rows.style.transform = `translateY(${first * ROW_PX}px)`;
    rows.replaceChildren(...nodes);
    count.textContent = t("lines", { n: total() });
    earlier.textContent = complete ? t("fromTheStart") : loadingEarlier ? t("loadingEarlier") : t("scrollForEarlier");
  };
  let queued = false;
  const redraw = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      draw();
    });
  };
  const matches = (line: Line) => line.text.includes(search.value);
  const filter = () => {
    shown = search.value ? lines.flatMap((line, i) => (matches(line) ? [i] : [])) : null;
    redraw();
  };

  /** Reads the log's last `2 × held` lines again and puts the ones before ours in front. */
  const loadEarlier = () => {
    if (complete || loadingEarlier) return;
    loadingEarlier = true;
    const asked = Math.max(lines.length * 2, DEFAULT_TAIL);
    const history: Line[] = [];
    const splitter = new LineSplitter();
    const stream = session.stream({
      onBytes: (channel, bytes) => splitter.push(channel, bytes, history),
      onMessage: (message) => {
        if (message.type === "error") {
          loadingEarlier = false;
          problem.replaceChildren(el("p", { className: "error", role: "alert" }, errorText(message.code, message.message)));
        }
        if (message.type !== "end") return;
        splitter.flush(history);
        const older = olderThan(history, lines);
        // Fewer lines than asked for: the engine had no more, so the log starts here.
        complete = history.length < asked;
        loadingEarlier = false;
        if (older.length) {
          const before = shown ? shown.length : lines.length;
          lines = older.concat(lines);
          shown = search.value ? lines.flatMap((line, i) => (matches(line) ? [i] : [])) : null;
          // Keep the same lines in view while rows are added above them.
          spacer.style.height = `${total() * ROW_PX}px`;
          view.scrollTop += (total() - before) * ROW_PX;
        }
        redraw();
      },
    });
    session.send({ type: "logs", stream, container: container.id, tail: asked, timestamps: true });
    redraw();
  };

  const start = async () => {
    if (live) session.send({ type: "cancel", stream: live });
    lines = [];
    shown = null;
    follow = true;
    followBox.checked = true;
    problem.replaceChildren();
    const wanted = Number(tail.value);
    complete = wanted === 0;
    const splitter = new LineSplitter();
    await session.open();
    const stream = session.stream({
      onBytes: (channel, bytes) => {
        if (stream !== live) return;
        const before = lines.length;
        splitter.push(channel, bytes, lines);
        if (shown) for (let i = before; i < lines.length; i++) if (matches(lines[i])) shown.push(i);
        redraw();
      },
      onMessage: (message) => {
        if (stream !== live) return;
        if (message.type === "end") {
          splitter.flush(lines);
          filter();
        } else if (message.type === "error") {
          problem.replaceChildren(el("p", { className: "error", role: "alert" }, errorText(message.code, message.message)));
        }
      },
    });
    live = stream;
    session.send({
      type: "logs",
      stream,
      container: container.id,
      follow: true,
      timestamps: true,
      ...(wanted ? { tail: wanted } : {}),
    });
    redraw();
  };

  view.addEventListener("scroll", () => {
    // Scrolling up stops following; reaching the end again resumes it.
    const atEnd = view.scrollTop + view.clientHeight >= view.scrollHeight - ROW_PX;
    follow = atEnd;
    followBox.checked = atEnd;
    if (view.scrollTop < ROW_PX * 3 && lines.length > 0) loadEarlier();
    redraw();
  });
  followBox.addEventListener("change", () => {
    follow = followBox.checked;
    redraw();
  });
  stampsBox.addEventListener("change", redraw);
  tail.addEventListener("change", start);
  search.addEventListener("input", filter);

  app.replaceChildren(
    el("p", {}, el("a", { href: "#/containers" }, t("back"))),
    el("h1", {}, t("logsOf", { name: container.name })),
    el(
      "div",
      { className: "toolbar" },
      el("label", { htmlFor: "log-search" }, t("search")),
      search,
      el("label", { htmlFor: "log-tail" }, t("lastLines")),
      tail,
      followBox,
      el("label", { htmlFor: "log-follow" }, t("follow")),
      stampsBox,
      el("label", { htmlFor: "log-stamps" }, t("timestamps")),
      count,
    ),
    problem,
    earlier,
    view,
  );
  await start();
  draw();
  setLeave(() => session.send({ type: "cancel", stream: live }));
}
