// A container's logs, followed live, with search. Only the rows in view are in the page (a
// million lines stay one scroll container, a spacer and a screenful of rows), so the view
// stays quick however long the log grows.

import { api, el, session } from "./core";
import { errorText, t } from "./i18n";

type Container = { id: string; name: string };

const ROW_PX = 18;

export async function logsPage(app: HTMLElement, id: string, setLeave: (cleanup: () => void) => void) {
  const container = await api<Container>("GET", `/containers/${id}`);
  const lines: string[] = [];
  let partial = "";
  let shown: number[] | null = null; // indexes of the lines matching the search, or all
  let follow = true;

  const search = el("input", { id: "log-search", type: "search" });
  const followBox = el("input", { id: "log-follow", type: "checkbox", checked: true });
  const count = el("span", { className: "log-count", role: "status", "aria-label": t("lineCount") });
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
      const index = shown ? shown[i] : i;
      nodes.push(el("div", { className: "log-row" }, lines[index]));
    }
    rows.style.transform = `translateY(${first * ROW_PX}px)`;
    rows.replaceChildren(...nodes);
    count.textContent = t("lines", { n: total() });
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
  const filter = () => {
    const needle = search.value;
    shown = needle ? lines.flatMap((line, i) => (line.includes(needle) ? [i] : [])) : null;
    redraw();
  };

  view.addEventListener("scroll", () => {
    // Scrolling up stops following; reaching the end again resumes it.
    const atEnd = view.scrollTop + view.clientHeight >= view.scrollHeight - ROW_PX;
    follow = atEnd;
    followBox.checked = atEnd;
    redraw();
  });
  followBox.addEventListener("change", () => {
    follow = followBox.checked;
    redraw();
  });
  search.addEventListener("input", filter);

  await session.open();
  const decoder = new TextDecoder();
  const stream = session.stream({
    onBytes: (_channel, bytes) => {
      const text = partial + decoder.decode(bytes, { stream: true });
      const parts = text.split("\n");
      partial = parts.pop() ?? "";
      const needle = search.value;
      for (const line of parts) {
        lines.push(line);
        if (shown && line.includes(needle)) shown.push(lines.length - 1);
      }
      redraw();
    },
    onMessage: (message) => {
      if (message.type === "end" && partial) {
        lines.push(partial);
        partial = "";
        redraw();
      } else if (message.type === "error") {
        app.prepend(el("p", { className: "error", role: "alert" }, errorText(message.code, message.message)));
      }
    },
  });
  session.send({ type: "logs", stream, container: container.id, follow: true });

  app.replaceChildren(
    el("p", {}, el("a", { href: "#/containers" }, t("back"))),
    el("h1", {}, t("logsOf", { name: container.name })),
    el(
      "div",
      { className: "toolbar" },
      el("label", { htmlFor: "log-search" }, t("search")),
      search,
      followBox,
      el("label", { htmlFor: "log-follow" }, t("follow")),
      count,
    ),
    view,
  );
  draw();
  setLeave(() => session.send({ type: "cancel", stream }));
}
