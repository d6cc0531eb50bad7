// Workspaces and the IDE: pick a template, then edit a workspace's files and run them with the
// output live. Files go through the files API; `run` goes over the tab's WebSocket.

import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { python } from "@codemirror/lang-python";
import { cpp } from "@codemirror/lang-cpp";
import { alertBox, api, el, go, session, token } from "./core";
import { errorText, t } from "./i18n";

type Template = { id: string; name: string; description?: string; memory_mb?: number };
type Workspace = { id: string; name: string; template: string; state: string; host: string };
type Entry = { name: string; kind: "file" | "dir" | "symlink"; size: number };

export async function workspacesPage(app: HTMLElement) {
  const [templates, workspaces] = await Promise.all([
    api<Template[]>("GET", "/templates"),
    api<Workspace[]>("GET", "/workspaces"),
  ]);
  const problem = el("div");
  const picker = el(
    "select",
    { id: "template", required: true },
    ...templates.map((tpl) => el("option", { value: tpl.id }, tpl.name)),
  );
  const create = el(
    "form",
    {
      className: "card inline",
      "aria-label": t("newWorkspace"),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        try {
          const made = await api<Workspace>("POST", "/workspaces", { template: picker.value });
          go(`#/ide/${made.id}`);
        } catch (error) {
          problem.replaceChildren(alertBox(error));
        }
      },
    },
    el("h2", {}, t("newWorkspace")),
    el("label", { htmlFor: "template" }, t("template")),
    picker,
    el("button", { type: "submit" }, t("create")),
  );
  const list =
    workspaces.length === 0
      ? el("p", {}, t("noWorkspaces"))
      : el(
          "ul",
          {},
          ...workspaces.map((w) =>
            el(
              "li",
              {},
              el("a", { href: `#/ide/${w.id}`, "aria-label": `${t("open")} ${w.name}` }, w.name),
              ` — ${w.state}`,
            ),
          ),
        );
  app.replaceChildren(el("h1", {}, t("workspaces")), problem, list, create);
}

const files = (id: string, what: string, path: string) =>
  `/api/v1/workspaces/${id}/files${what}?path=${encodeURIComponent(path)}`;

async function fetchRaw(method: string, url: string, body?: BodyInit): Promise<Response> {
  const response = await fetch(url, {
    method,
    body,
    headers: { Authorization: `Bearer ${token.get()}` },
  });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(errorText(data.error?.code ?? "internal", data.error?.message ?? response.statusText));
  }
  return response;
}

function language(path: string) {
  if (path.endsWith(".py")) return [python()];
  if (/\.(c|h|cc|cpp|hpp)$/.test(path)) return [cpp()];
  return [];
}

export async function idePage(app: HTMLElement, id: string, setLeave: (cleanup: () => void) => void) {
  const workspace = await api<Workspace>("GET", `/workspaces/${id}`);
  await session.open();
  const problem = el("div");
  let dir = "";
  let openPath: string | null = null;
  let savedText = "";
  const tree = el("ul", { className: "tree", "aria-label": t("files") });
  const title = el("h2", {}, "");
  const saveButton = el("button", { type: "button", disabled: true }, t("save"));
  const runButton = el("button", { type: "button", disabled: true }, t("run"));
  const output = el("pre", { className: "output", role: "log", "aria-label": t("output") });
  const holder = el("div", { className: "editor", role: "region", "aria-label": t("editor") });

  const markDirty = () => {
    const dirty = openPath !== null && editor.state.doc.toString() !== savedText;
    title.textContent = openPath ? `${openPath}${dirty ? ` • ${t("unsaved")}` : ""}` : "";
    saveButton.textContent = dirty ? `${t("save")} •` : t("save");
  };
  const save = async () => {
    if (!openPath) return;
    const text = editor.state.doc.toString();
    try {
      await fetchRaw("PUT", files(id, "/content", openPath), text);
      savedText = text;
      markDirty();
    } catch (error) {
      problem.replaceChildren(alertBox(error));
    }
  };
  const extensions = (path: string) => [
    basicSetup,
    keymap.of([{ key: "Mod-s", preventDefault: true, run: () => (save(), true) }]),
    EditorView.updateListener.of((update) => update.docChanged && markDirty()),
    EditorView.contentAttributes.of({ "aria-label": t("editor") }),
    ...language(path),
  ];
  const editor = new EditorView({ parent: holder, extensions: extensions("") });

  const open = async (path: string) => {
    try {
      const text = await (await fetchRaw("GET", files(id, "/content", path))).text();
      openPath = path;
      savedText = text;
      editor.setState(EditorState.create({ doc: text, extensions: extensions(path) }));
      saveButton.disabled = false;
      runButton.disabled = false;
      markDirty();
      editor.focus();
    } catch (error) {
      problem.replaceChildren(alertBox(error));
    }
  };

  const list = async () => {
    try {
      const entries = await api<Entry[]>("GET", `/workspaces/${id}/files?path=${encodeURIComponent(dir)}`);
      const items = entries.map((entry) => {
        const path = dir ? `${dir}/${entry.name}` : entry.name;
        const label = entry.kind === "dir" ? `${entry.name}/` : entry.name;
        return el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              className: "link",
              onclick: () => {
                if (entry.kind === "dir") {
                  dir = path;
                  list();
                } else if (entry.kind === "file") {
                  open(path);
                }
              },
            },
            label,
          ),
        );
      });
      if (dir) {
        const up = el("button", { type: "button", className: "link", onclick: () => {
          dir = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : "";
          list();
        } }, `.. (${t("up")})`);
        items.unshift(el("li", {}, up));
      }
      tree.replaceChildren(...items);
    } catch (error) {
      problem.replaceChildren(alertBox(error));
    }
  };

  const fileName = el("input", { id: "file-name" });
  const newFile = el(
    "form",
    {
      className: "new-file",
      "aria-label": t("newFile"),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const name = fileName.value.trim();
        if (!name) return;
        const path = dir ? `${dir}/${name}` : name;
        try {
          await fetchRaw("PUT", files(id, "/content", path), "");
          fileName.value = "";
          await list();
          await open(path);
        } catch (error) {
          problem.replaceChildren(alertBox(error));
        }
      },
    },
    el("label", { htmlFor: "file-name" }, t("fileName")),
    fileName,
    el("button", { type: "submit" }, t("newFile")),
  );

  let running: number | null = null;
  runButton.addEventListener("click", async () => {
    if (!openPath) return;
    await save();
    output.textContent = "";
    const decoder = new TextDecoder();
    running = session.stream({
      onBytes: (_channel, bytes) => {
        output.textContent += decoder.decode(bytes, { stream: true });
      },
      onMessage: (message) => {
        if (message.type === "exit") {
          output.textContent += `\n${t("ranWith", { code: message.code ?? "?", ms: message.duration_ms })}`;
          if (message.killed) output.textContent += `\n${t("killedBecause", { why: message.killed })}`;
          running = null;
        } else if (message.type === "error") {
          output.textContent += `\n${errorText(message.code, message.message)}`;
          running = null;
        }
      },
    });
    session.send({ type: "run", stream: running, workspace: id, path: openPath });
  });
  saveButton.addEventListener("click", save);

  app.replaceChildren(
    el("p", {}, el("a", { href: "#/workspaces" }, t("workspaces"))),
    el("h1", {}, t("editorOf", { name: workspace.name })),
    problem,
    el(
      "div",
      { className: "ide" },
      el("nav", {}, tree, newFile),
      el("section", {}, el("div", { className: "toolbar" }, title, saveButton, runButton), holder, output),
    ),
  );
  await list();
  setLeave(() => {
    if (running !== null) session.send({ type: "cancel", stream: running });
    editor.destroy();
  });
}
