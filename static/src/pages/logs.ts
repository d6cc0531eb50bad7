// A container's logs, followed live, with search. The view opens on the last lines (the engine
// reads a log's tail quickly, however long the log) and loads earlier ones when the reader
// scrolls to the top.

import { api, ApiFailure } from "../api";
import { LogView } from "../components/log-view";
import { Problem } from "../components/problem";
import { startStream, type StreamHandle } from "../components/stream";
import { el } from "../dom";
import { t } from "../i18n";
import { LineSplitter, olderThan, type Line } from "../lib/lines";
import type { PageContext } from "../page";
import type { ContainerView as Container } from "../generated/api";

/** How many lines from the end the view starts with; 0 is the whole log. */
const TAILS = [1000, 10_000, 100_000, 0];
const DEFAULT_TAIL = 10_000;

export async function logsPage(app: HTMLElement, { arg: id, onLeave }: PageContext) {
  const container = await api<Container>("GET", `/containers/${id}`);
  const problem = new Problem();
  const failed = (code: string, message: string) => problem.show(new ApiFailure(code, message));
  const tail = el(
    "select",
    { id: "log-tail" },
    ...TAILS.map((n) =>
      el("option", { value: String(n), selected: n === DEFAULT_TAIL }, n ? n.toLocaleString() : t("allLines")),
    ),
  );
  let live: StreamHandle | null = null;

  /** Reads the log's last `2 × held` lines again and puts the ones before ours in front. */
  const loadEarlier = async () => {
    if (log.complete || log.loadingEarlier) return;
    log.loadingEarlier = true;
    const asked = Math.max(log.lines.length * 2, DEFAULT_TAIL);
    const history: Line[] = [];
    const splitter = new LineSplitter();
    log.redraw();
    await startStream(
      {
        onBytes: (channel, bytes) => splitter.push(channel, bytes, history),
        onError: (code, message) => {
          log.loadingEarlier = false;
          failed(code, message);
        },
        onEnd: () => {
          splitter.flush(history);
          // Fewer lines than asked for: the engine had no more, so the log starts here.
          log.complete = history.length < asked;
          log.loadingEarlier = false;
          log.prepend(olderThan(history, log.lines));
        },
      },
      (stream) => ({ type: "logs", stream, container: container.id, tail: asked, timestamps: true }),
    );
  };
  const log = new LogView(t("logsOf", { name: container.name }), loadEarlier);

  /** Follows the log from its last `tail` lines (again, when the tail is changed). */
  const start = async () => {
    live?.cancel();
    log.reset();
    problem.clear();
    const wanted = Number(tail.value);
    log.complete = wanted === 0;
    const splitter = new LineSplitter();
    let handle: StreamHandle | null = null;
    const current = () => handle === live;
    handle = await startStream(
      {
        onBytes: (channel, bytes) => {
          if (!current()) return;
          const before = log.lines.length;
          splitter.push(channel, bytes, log.lines);
          log.appended(before);
        },
        onEnd: () => {
          if (!current()) return;
          splitter.flush(log.lines);
          log.filter();
        },
        onError: (code, message) => current() && failed(code, message),
      },
      (stream) => ({
        type: "logs",
        stream,
        container: container.id,
        follow: true,
        timestamps: true,
        ...(wanted ? { tail: wanted } : {}),
      }),
    );
    live = handle;
    log.redraw();
  };
  tail.addEventListener("change", start);

  app.replaceChildren(
    el("p", {}, el("a", { href: "#/containers" }, t("back"))),
    el("h1", {}, t("logsOf", { name: container.name })),
    el(
      "div",
      { className: "toolbar" },
      el("label", { htmlFor: "log-search" }, t("search")),
      log.search,
      el("label", { htmlFor: "log-tail" }, t("lastLines")),
      tail,
      log.followBox,
      el("label", { htmlFor: "log-follow" }, t("follow")),
      log.stampsBox,
      el("label", { htmlFor: "log-stamps" }, t("timestamps")),
      log.count,
    ),
    problem.node,
    log.earlier,
    log.view,
  );
  await start();
  log.draw();
  onLeave(() => live?.cancel());
}
