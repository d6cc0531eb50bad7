// A set of small text files edited one at a time (a template's or an assignment's starter
// files, a check's hidden files): pick one, add one by its path, remove the one shown, and
// write it in an editor. Laid out for a `.card.inline` form.

import { el } from "../dom";
import { actionButton } from "./buttons";
import { field } from "./form";
import { TextEditor } from "./text-editor";

/** What the controls are called (each name is unique on its page). */
export type FilesEditorWords = {
  files: string;
  newFile: string;
  add: string;
  remove: string;
  text: string;
  none: string;
};

export class FilesEditor {
  readonly nodes: Node[];
  /** Path to text. The one shown is in the editor until another is picked. */
  private files = new Map<string, string>();
  private shown: string | null = null;
  private readonly picker: HTMLSelectElement;
  private readonly newFile: ReturnType<typeof field>;
  private readonly editor: TextEditor;

  constructor(
    id: string,
    private readonly words: FilesEditorWords,
  ) {
    this.picker = el("select", { id: `${id}-file` });
    this.newFile = field(`${id}-new-file`, words.newFile, { placeholder: "main.py" });
    this.editor = new TextEditor(words.text);
    this.picker.addEventListener("change", () => this.show(this.picker.value || null));
    this.nodes = [
      el("label", { htmlFor: `${id}-file` }, words.files),
      el("div", { className: "file-row" }, this.picker, actionButton(words.remove, words.remove, () => this.removeFile())),
      ...this.newFile.nodes,
      el("div", { className: "buttons" }, actionButton(words.add, words.add, () => this.addFile())),
      this.editor.holder,
    ];
    this.set({});
  }

  /** Replaces the files (the first is shown). */
  set(files: Record<string, string | undefined>) {
    this.files = new Map(Object.entries(files).map(([path, text]) => [path, text ?? ""]));
    this.list(this.files.keys().next().value ?? null);
  }

  /** The files, with what the editor holds now. */
  value(): Record<string, string> {
    this.keepShown();
    return Object.fromEntries(this.files);
  }

  private keepShown() {
    if (this.shown !== null) this.files.set(this.shown, this.editor.text());
  }

  private show(path: string | null) {
    this.keepShown();
    this.shown = path;
    this.editor.set(path ?? "", path === null ? "" : (this.files.get(path) ?? ""));
    this.editor.holder.hidden = path === null;
  }

  private list(selected: string | null) {
    this.shown = null;
    const paths = [...this.files.keys()].sort();
    this.picker.replaceChildren(
      ...(paths.length ? paths : [""]).map((path) =>
        el("option", { value: path, selected: path === selected }, path || this.words.none),
      ),
    );
    this.show(selected);
  }

  private addFile() {
    const path = this.newFile.input.value.trim();
    if (!path) return;
    this.keepShown();
    if (!this.files.has(path)) this.files.set(path, "");
    this.newFile.input.value = "";
    this.list(path);
  }

  private removeFile() {
    if (this.shown === null) return;
    this.files.delete(this.shown);
    this.shown = null;
    this.list(this.files.keys().next().value ?? null);
  }

  destroy() {
    this.editor.destroy();
  }
}
