// Workspaces and the IDE: pick a template, then edit a workspace's files and run them with the
// output live. Files go through the files API; `run` goes over the tab's WebSocket.

import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { python } from "@codemirror/lang-python";
import { cpp } from "@codemirror/lang-cpp";
import { alertBox, api, el, go, session, token } from "./core";
import { errorText, t } from "./i18n";
import { openTerminal } from "./terminal";

/** A template's limits in a few words, as the IDE shows them. */
function limitsOf(template: Template | undefined): string {
  if (!template) return "";
  const parts = [];
  if (template.memory_mb) parts.push(`${template.memory_mb} MiB`);
  if (template.cpus) parts.push(`${template.cpus} CPU`);
  parts.push(template.network === "bridge" ? t("withNetwork") : t("noNetwork"));
  if (template.idle_timeout_s) parts.push(t("stopsIdle", { min: Math.round(template.idle_timeout_s / 60) }));
  return parts.join(" · ");
}

type Template = {
  id: string;
  name: string;
  description?: string;
  memory_mb?: number;
  cpus?: number;
  network?: string;
  idle_timeout_s?: number;
};
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

export async function idePage(
  app: HTMLElement,
  id: string,
  setLeave: (cleanup: () => void) => void,
  setReconnected: (restart: () => void) => void,
) {
  const [workspace, templates] = await Promise.all([
    api<Workspace>("GET", `/workspaces/${id}`),
    api<Template[]>("GET", "/templates"),
  ]);
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
          fileActions(path, entry.name),
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

  /** Rename and delete for one entry of the tree. */
  const fileActions = (path: string, name: string) =>
    el(
      "span",
      { className: "file-actions" },
      el(
        "button",
        {
          type: "button",
          "aria-label": t("renameFile", { name }),
          title: t("renameFile", { name }),
          onclick: async () => {
            const answer = prompt(t("newName", { name }), path);
            if (!answer || answer.trim() === path) return;
            const to = answer.trim();
            try {
              await api("POST", `/workspaces/${id}/files/move`, { from: path, to });
              if (openPath === path) openPath = to;
              markDirty();
              await list();
            } catch (error) {
              problem.replaceChildren(alertBox(error));
            }
          },
        },
        "✎",
      ),
      el(
        "button",
        {
          type: "button",
          "aria-label": t("deleteFile", { name }),
          title: t("deleteFile", { name }),
          onclick: async () => {
            if (!confirm(t("confirmDeleteFile", { name: path }))) return;
            try {
              await fetchRaw("DELETE", files(id, "", path));
              if (openPath === path || openPath?.startsWith(`${path}/`)) {
                openPath = null;
                editor.setState(EditorState.create({ doc: "", extensions: extensions("") }));
                saveButton.disabled = true;
                runButton.disabled = true;
                markDirty();
              }
              await list();
            } catch (error) {
              problem.replaceChildren(alertBox(error));
            }
          },
        },
        "✕",
      ),
    );

  let running: number | null = null;
  const stopButton = el("button", { type: "button", hidden: true }, t("stopRun"));
  stopButton.addEventListener("click", () => {
    if (running !== null) session.send({ type: "cancel", stream: running });
  });
  const finished = () => {
    running = null;
    stopButton.hidden = true;
    runButton.disabled = openPath === null;
  };
  runButton.addEventListener("click", async () => {
    if (!openPath || running !== null) return;
    await save();
    output.textContent = "";
    runButton.disabled = true;
    stopButton.hidden = false;
    const decoder = new TextDecoder();
    running = session.stream({
      onBytes: (_channel, bytes) => {
        output.textContent += decoder.decode(bytes, { stream: true });
      },
      onMessage: (message) => {
        if (message.type === "exit" && "duration_ms" in message) {
          output.textContent += `\n${t("ranWith", { code: message.code ?? "?", ms: message.duration_ms })}`;
          if (message.killed) output.textContent += `\n${t("killedBecause", { why: message.killed })}`;
          finished();
        } else if (message.type === "error" || message.type === "lost") {
          output.textContent += `\n${message.type === "lost" ? t("stoppedByDrop") : errorText(message.code, message.message)}`;
          finished();
        }
      },
    });
    session.send({ type: "run", stream: running, workspace: id, path: openPath });
  });
  saveButton.addEventListener("click", save);

  // A shell in the same workspace, opened on demand (it starts a process in the container).
  const shellHolder = el("div", { className: "terminal ide-terminal", role: "region", "aria-label": t("terminal") });
  let closeShell: (() => void) | null = null;
  const shellButton = el("button", { type: "button", "aria-expanded": "false" }, t("openTerminal"));
  shellButton.addEventListener("click", async () => {
    if (closeShell) {
      closeShell();
      closeShell = null;
      shellHolder.hidden = true;
      shellButton.textContent = t("openTerminal");
      shellButton.setAttribute("aria-expanded", "false");
      return;
    }
    shellHolder.hidden = false;
    shellButton.textContent = t("closeTerminal");
    shellButton.setAttribute("aria-expanded", "true");
    closeShell = await openTerminal(shellHolder, { workspace: id });
  });
  shellHolder.hidden = true;
  // After a drop the editor keeps what is typed (saved or not); only the shell starts anew.
  setReconnected(async () => {
    if (!closeShell) return;
    closeShell();
    shellHolder.replaceChildren();
    closeShell = await openTerminal(shellHolder, { workspace: id });
  });
  const template = templates.find((candidate) => candidate.id === workspace.template);

  app.replaceChildren(
    el("p", {}, el("a", { href: "#/workspaces" }, t("workspaces"))),
    el("h1", {}, t("editorOf", { name: workspace.name })),
    el("p", { className: "limits" }, `${template?.name ?? ""} — ${limitsOf(template)}`),
    problem,
    el(
      "div",
      { className: "ide" },
      el("nav", {}, tree, newFile),
      el(
        "section",
        {},
        el("div", { className: "toolbar" }, title, saveButton, runButton, stopButton),
        holder,
        output,
        el("div", { className: "toolbar" }, shellButton),
        shellHolder,
      ),
    ),
  );
  await list();
  setLeave(() => {
    if (running !== null) session.send({ type: "cancel", stream: running });
    closeShell?.();
    editor.destroy();
  });
}
