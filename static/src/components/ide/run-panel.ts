// Running the open file: saved first, then `run` on the session with its output live, and a
// button that stops it. "Run in background" makes it a job (`detach: true`) that goes on when
// the tab closes; a job's output is shown here again when it is attached from the jobs list.

import { el } from "../../dom";
import { errorText, t } from "../../i18n";
import type { ClientMessage } from "../../generated/api";
import { problemText } from "../problem";
import { startStream, type StreamHandle } from "../stream";
import type { FileEditor } from "./editor";
import { session } from "../../session";

export class RunPanel {
  readonly runButton = el("button", { type: "button", disabled: true }, t("run"));
  readonly backgroundButton = el("button", { type: "button", disabled: true }, t("runInBackground"));
  readonly stopButton = el("button", { type: "button", hidden: true }, t("stopRun"));
  readonly output = el("pre", { className: "output", role: "log", "aria-label": t("output") });
  private running: StreamHandle | null = null;
  /** The job the output shows, if it is one: leaving lets it go rather than stopping it. */
  private job: string | null = null;
  private starting = false;
  /** Told when a job started or ended here (the jobs list follows). */
  onJobs: () => void = () => {};

  constructor(
    private readonly workspace: string,
    private readonly editor: FileEditor,
  ) {
    this.runButton.addEventListener("click", () => this.run(false));
    this.backgroundButton.addEventListener("click", () => this.run(true));
    this.stopButton.addEventListener("click", () => this.stop());
  }

  /** Whether there is a file to run (and nothing running). */
  update() {
    const busy = this.running !== null || this.starting;
    this.runButton.disabled = this.editor.openPath === null || busy;
    this.backgroundButton.disabled = this.runButton.disabled;
  }

  private finished(text: string) {
    this.output.textContent += `\n${text}`;
    this.running = null;
    if (this.job) this.onJobs();
    this.job = null;
    this.stopButton.hidden = true;
    this.stopButton.textContent = t("stopRun");
    this.update();
  }

  private async run(background: boolean) {
    const path = this.editor.openPath;
    if (!path || this.running !== null || this.starting) return;
    this.starting = true;
    this.update();
    try {
      await this.editor.save();
      await this.follow((stream) => ({ type: "run", stream, workspace: this.workspace, path, detach: background }));
    } catch (error) {
      // The session could not be opened (the server is away): nothing runs.
      this.finished(problemText(error));
    } finally {
      this.starting = false;
      this.update();
    }
  }

  /** Shows job `job`'s output from its first kept byte, then live. */
  async attach(job: string) {
    // A run of the open file is not stopped to show a job.
    if (this.running && !this.job) return;
    this.leave();
    this.job = job;
    this.update();
    await this.follow((stream) => ({ type: "attach", stream, job }));
  }

  /** Starts `request`'s stream with its output in the panel. */
  private async follow(request: (stream: number) => ClientMessage) {
    this.output.textContent = "";
    this.stopButton.hidden = false;
    const decoder = new TextDecoder();
    this.running = await startStream(
      {
        onBytes: (_channel, bytes) => {
          // Follows the end of the output, unless the reader scrolled up to look back.
          const atEnd = this.output.scrollHeight - this.output.scrollTop - this.output.clientHeight < 24;
          this.output.textContent += decoder.decode(bytes, { stream: true });
          if (atEnd) this.output.scrollTop = this.output.scrollHeight;
        },
        onMessage: (message) => {
          if (message.type !== "job" && message.type !== "attached") return;
          this.job = message.job;
          this.stopButton.textContent = t("stopJob");
          if (message.type === "job") this.onJobs();
        },
        onEnd: (message) => {
          if (message.type !== "exit") return;
          let text =
            "duration_ms" in message
              ? t("ranWith", { code: message.code ?? "?", ms: message.duration_ms })
              : t("exitedWith", { code: message.code ?? "?" });
          if ("killed" in message && message.killed) text += `\n${t("killedBecause", { why: message.killed })}`;
          this.finished(text);
        },
        onError: (code, message) => this.finished(errorText(code, message)),
        onLost: () => this.finished(this.job ? t("jobGoesOn") : t("stoppedByDrop")),
      },
      request,
    );
  }

  /** Stops what runs here (a job too). */
  stop() {
    this.running?.cancel();
  }

  /** Leaving the page: a run stops, a job goes on (its stream is let go). */
  leave() {
    if (this.running && this.job) {
      session.send({ type: "detach", stream: this.running.id });
      this.running = null;
      this.job = null;
      this.stopButton.hidden = true;
    } else {
      this.stop();
    }
  }
}
