// The IDE's editor: CodeMirror on one file at a time, saved with Ctrl-S or the button, the
// title saying when there is unsaved work.

import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { el } from "../../dom";
import { t } from "../../i18n";
import type { Problem } from "../problem";
import { languageOf } from "../text-editor";
import type { WorkspaceFiles } from "./files";

export class FileEditor {
  /** The file open, relative to /workspace. */
  openPath: string | null = null;
  private savedText = "";
  readonly title = el("h2", {}, "");
  readonly saveButton = el("button", { type: "button", disabled: true }, t("save"));
  readonly holder = el("div", { className: "editor", role: "region", "aria-label": t("editor") });
  private readonly view: EditorView;

  /** `changed` is told when a file is opened or closed. A `readOnly` editor shows files
   * (someone else's workspace) and saves nothing. */
  constructor(
    private readonly files: WorkspaceFiles,
    private readonly problem: Problem,
    private readonly changed: () => void,
    private readonly readOnly = false,
  ) {
    this.view = new EditorView({ parent: this.holder, extensions: this.extensions("") });
    this.saveButton.addEventListener("click", () => this.save());
    this.saveButton.hidden = readOnly;
  }

  private extensions(path: string) {
    return [
      basicSetup,
      EditorState.readOnly.of(this.readOnly),
      EditorView.editable.of(!this.readOnly),
      keymap.of([{ key: "Mod-s", preventDefault: true, run: () => (this.save(), true) }]),
      EditorView.updateListener.of((update) => update.docChanged && this.markDirty()),
      EditorView.contentAttributes.of({ "aria-label": t("editor") }),
      ...languageOf(path),
    ];
  }

  markDirty() {
    const dirty = this.openPath !== null && this.view.state.doc.toString() !== this.savedText;
    this.title.textContent = this.openPath ? `${this.openPath}${dirty ? ` • ${t("unsaved")}` : ""}` : "";
    this.saveButton.textContent = dirty ? `${t("save")} •` : t("save");
  }

  async save() {
    if (!this.openPath || this.readOnly) return;
    const text = this.view.state.doc.toString();
    try {
      await this.files.write(this.openPath, text);
      this.savedText = text;
      this.markDirty();
    } catch (error) {
      this.problem.show(error);
    }
  }

  async open(path: string) {
    try {
      const text = await this.files.read(path);
      this.openPath = path;
      this.savedText = text;
      this.view.setState(EditorState.create({ doc: text, extensions: this.extensions(path) }));
      this.saveButton.disabled = this.readOnly;
      this.markDirty();
      this.changed();
      this.view.focus();
    } catch (error) {
      this.problem.show(error);
    }
  }

  /** The open file was moved. */
  moved(from: string, to: string) {
    if (this.openPath === from) this.openPath = to;
    this.markDirty();
  }

  /** `path` was deleted: if it was the open file (or held it), nothing is open any more. */
  deleted(path: string) {
    if (this.openPath !== path && !this.openPath?.startsWith(`${path}/`)) return;
    this.openPath = null;
    this.view.setState(EditorState.create({ doc: "", extensions: this.extensions("") }));
    this.saveButton.disabled = true;
    this.markDirty();
    this.changed();
  }

  destroy() {
    this.view.destroy();
  }
}
