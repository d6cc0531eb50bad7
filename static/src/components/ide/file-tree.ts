// The IDE's file tree: one folder at a time, with rename and delete per entry and a form for a
// new file.

import { el } from "../../dom";
import { t } from "../../i18n";
import { actionButton, confirmButton } from "../buttons";
import type { Problem } from "../problem";
import type { FileEditor } from "./editor";
import type { WorkspaceFiles } from "./files";

export class FileTree {
  /** The folder shown, relative to /workspace. */
  private dir: string;
  readonly tree = el("ul", { className: "tree", "aria-label": t("files") });
  readonly newFile: HTMLFormElement;

  constructor(
    private readonly files: WorkspaceFiles,
    private readonly editor: FileEditor,
    private readonly problem: Problem,
    /** The folder it opens on (an assignment's), and whether files may change. */
    start = "",
    private readonly readOnly = false,
  ) {
    this.dir = start;
    const fileName = el("input", { id: "file-name" });
    this.newFile = el(
      "form",
      {
        className: "new-file",
        "aria-label": t("newFile"),
        onsubmit: async (event: Event) => {
          event.preventDefault();
          const name = fileName.value.trim();
          if (!name) return;
          const path = this.pathOf(name);
          const made = await this.problem.guard(async () => {
            await this.files.write(path, "");
            fileName.value = "";
            await this.list();
          });
          if (made) await this.editor.open(path);
        },
      },
      el("label", { htmlFor: "file-name" }, t("fileName")),
      fileName,
      el("button", { type: "submit" }, t("newFile")),
    );
    this.newFile.hidden = readOnly;
  }

  private pathOf(name: string) {
    return this.dir ? `${this.dir}/${name}` : name;
  }

  async list() {
    try {
      const entries = await this.files.list(this.dir);
      const items = entries.map((entry) => {
        const path = this.pathOf(entry.name);
        const open = () => {
          if (entry.kind === "dir") {
            this.dir = path;
            this.list();
          } else if (entry.kind === "file") {
            this.editor.open(path);
          }
        };
        const label = entry.kind === "dir" ? `${entry.name}/` : entry.name;
        return el(
          "li",
          {},
          ...(this.readOnly ? [] : [this.actions(path, entry.name)]),
          el("button", { type: "button", className: "link", onclick: open }, label),
        );
      });
      if (this.dir) {
        const up = () => {
          this.dir = this.dir.includes("/") ? this.dir.slice(0, this.dir.lastIndexOf("/")) : "";
          this.list();
        };
        items.unshift(el("li", {}, el("button", { type: "button", className: "link", onclick: up }, `.. (${t("up")})`)));
      }
      this.tree.replaceChildren(...items);
    } catch (error) {
      this.problem.show(error);
    }
  }

  /** Rename and delete for one entry. */
  private actions(path: string, name: string) {
    const rename = actionButton(t("renameFile", { name }), "✎", async () => {
      const answer = prompt(t("newName", { name }), path);
      if (!answer || answer.trim() === path) return;
      const to = answer.trim();
      await this.problem.guard(async () => {
        await this.files.move(path, to);
        this.editor.moved(path, to);
        await this.list();
      });
    });
    const remove = confirmButton(t("deleteFile", { name }), "✕", t("confirmDeleteFile", { name: path }), () =>
      this.problem.guard(async () => {
        await this.files.remove(path);
        this.editor.deleted(path);
        await this.list();
      }),
    );
    return el("span", { className: "file-actions" }, rename, remove);
  }
}
