// A plain CodeMirror editor for a text that is not a workspace file (a template's starter
// files): set the text, read it back.

import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { python } from "@codemirror/lang-python";
import { cpp } from "@codemirror/lang-cpp";
import { el } from "../dom";

/** The highlighting for a path's kind of file. */
export function languageOf(path: string) {
  if (path.endsWith(".py")) return [python()];
  if (/\.(c|h|cc|cpp|hpp)$/.test(path)) return [cpp()];
  return [];
}

export class TextEditor {
  readonly holder: HTMLElement;
  private readonly view: EditorView;

  constructor(private readonly label: string) {
    this.holder = el("div", { className: "editor small", role: "region", "aria-label": label });
    this.view = new EditorView({ parent: this.holder, extensions: this.extensions("") });
  }

  private extensions(path: string) {
    return [basicSetup, EditorView.contentAttributes.of({ "aria-label": this.label }), ...languageOf(path)];
  }

  /** Shows `text`, highlighted as the file `path` would be. */
  set(path: string, text: string) {
    this.view.setState(EditorState.create({ doc: text, extensions: this.extensions(path) }));
  }

  text(): string {
    return this.view.state.doc.toString();
  }

  destroy() {
    this.view.destroy();
  }
}
