// Running the open file: saved first, then `run` on the session with its output live, and a
// button that stops it.

import { el } from "../../dom";
import { errorText, t } from "../../i18n";
import { problemText } from "../problem";
import { startStream, type StreamHandle } from "../stream";
import type { FileEditor } from "./editor";

export class RunPanel {
  readonly runButton = el("button", { type: "button", disabled: true }, t("run"));
  readonly stopButton = el("button", { type: "button", hidden: true }, t("stopRun"));
  readonly output = el("pre", { className: "output", role: "log", "aria-label": t("output") });
  private running: StreamHandle | null = null;
  private starting = false;

  constructor(
    private readonly workspace: string,
    private readonly editor: FileEditor,
  ) {
    this.runButton.addEventListener("click", () => this.run());
    this.stopButton.addEventListener("click", () => this.stop());
  }

  /** Whether there is a file to run (and nothing running). */
  update() {
    this.runButton.disabled = this.editor.openPath === null || this.running !== null || this.starting;
  }

  private finished(text: string) {
    this.output.textContent += `\n${text}`;
    this.running = null;
    this.stopButton.hidden = true;
    this.update();
  }

  private async run() {
    const path = this.editor.openPath;
    if (!path || this.running !== null || this.starting) return;
    this.starting = true;
    this.update();
    try {
      await this.editor.save();
      this.output.textContent = "";
      this.stopButton.hidden = false;
      const decoder = new TextDecoder();
      this.running = await startStream(
        {
          onBytes: (_channel, bytes) => {
            this.output.textContent += decoder.decode(bytes, { stream: true });
          },
          onEnd: (message) => {
            if (message.type !== "exit" || !("duration_ms" in message)) return;
            let text = t("ranWith", { code: message.code ?? "?", ms: message.duration_ms });
            if (message.killed) text += `\n${t("killedBecause", { why: message.killed })}`;
            this.finished(text);
          },
          onError: (code, message) => this.finished(errorText(code, message)),
          onLost: () => this.finished(t("stoppedByDrop")),
        },
        (stream) => ({ type: "run", stream, workspace: this.workspace, path }),
      );
    } catch (error) {
      // The session could not be opened (the server is away): nothing runs.
      this.finished(problemText(error));
    } finally {
      this.starting = false;
      this.update();
    }
  }

  stop() {
    this.running?.cancel();
  }
}
