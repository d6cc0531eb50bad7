// A shell in a container or workspace, in xterm.js, on the tab's one WebSocket: keystrokes go as
// raw bytes, the size follows the panel, and xterm's write callbacks acknowledge what it has
// drawn, so the server runs at most a window ahead: a flood neither freezes the tab nor piles up
// in the server's memory, and a keystroke's echo (or Ctrl-C) is not stuck behind megabytes.

import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { el } from "../dom";
import { errorText, t } from "../i18n";
import { session, type Handler, type StreamMessage } from "../session";

/** Output bytes the server may send ahead of what xterm has drawn. What is queued between the
 * shell and the screen is what a keystroke's echo waits behind, so it is kept small: at the ~1
 * MiB/s xterm draws a flood here, 64 KiB is ~60 ms. */
const WINDOW = 64 * 1024;
/** Drawn bytes are acknowledged in batches of this much, not per write. */
const ACK_EVERY = 16 * 1024;

/** What the shell runs in: `{container: id}` or `{workspace: id}`. */
export type Target = { container: string } | { workspace: string };

/** An open shell: its stream (to share it) and what closes it (the process is killed). */
export type OpenTerminal = { stream: number; close: () => void };

/** What a page names its shell in `target` by, to take it back after a reload. */
export function shellKey(target: Target): string {
  return `shell:${JSON.stringify(target)}`;
}

/** Opens a shell in `target` inside `holder`. The shell survives a dropped connection and a
 * reload: the session takes it back, with what it printed meanwhile (after a reload, the shell
 * the last page left in `target` is taken back rather than a new one started). `onLost` is
 * told when it could not be taken back; `onOther` gets its other messages (`shared`). */
export async function openTerminal(
  holder: HTMLElement,
  target: Target,
  onLost?: () => void,
  onOther?: (message: StreamMessage) => void,
): Promise<OpenTerminal> {
  const term = new Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(holder);
  fit.fit();
  // Who watches this shell (a teacher looking over the shoulder), said above it.
  const watchedBy = el("p", { className: "watched-by", role: "status", "aria-label": t("watchedBy") });
  holder.before(watchedBy);
  await session.open();
  let drawn = 0; // drawn but not yet acknowledged
  let ended = false; // the id may be someone else's once the stream ends: no acks after
  let stream = 0;
  const key = shellKey(target);
  const handler: Handler = {
    resumable: true,
    key,
    onBytes: (_channel, bytes) => {
      const size = bytes.length;
      term.write(bytes.slice(), () => {
        drawn += size;
        if (drawn >= ACK_EVERY && !ended) {
          session.send({ type: "ack", stream, bytes: drawn });
          drawn = 0;
        }
      });
    },
    onMessage: (message) => {
      if (message.type === "resumed") {
        // Output was lost while away: start a clean screen rather than show a torn one.
        if (message.lost > 0) term.reset();
        session.send({ type: "resize", stream, cols: term.cols, rows: term.rows });
        return;
      }
      if (message.type === "watchers") {
        watchedBy.textContent = message.by.length ? t("watchedByNames", { names: message.by.join(", ") }) : "";
        return;
      }
      if (["exit", "error", "lost"].includes(message.type)) ended = true;
      if (message.type === "lost") onLost?.();
      if (message.type === "exit") term.write(`\r\n${t("exited", { code: message.code ?? "?" })}\r\n`);
      if (message.type === "error") term.write(`\r\n${errorText(message.code, message.message)}\r\n`);
      onOther?.(message);
    },
  };
  const taken = session.claim(key, handler);
  stream = taken ?? session.stream(handler);
  const encoder = new TextEncoder();
  const input = term.onData((data) => session.sendBytes(stream, encoder.encode(data)));
  const observer = new ResizeObserver(() => {
    fit.fit();
    session.send({ type: "resize", stream, cols: term.cols, rows: term.rows });
  });
  observer.observe(holder);
  if (taken === null) {
    session.send({
      type: "exec",
      stream,
      ...target,
      cmd: ["/bin/sh"],
      tty: true,
      cols: term.cols,
      rows: term.rows,
      window: WINDOW,
      resume: true,
    });
  }
  term.focus();
  const close = () => {
    watchedBy.remove();
    observer.disconnect();
    input.dispose();
    session.send({ type: "cancel", stream });
    term.dispose();
  };
  return { stream, close };
}

/** A shared terminal, read-only, in `holder`: its screen, then its output, at its sharer's
 * size. Returns what stops watching. */
/** What a watch names: a terminal shared with a course, or a live stream of a workspace. */
export type Watched = { share: string } | { workspace: string; source: string };

export async function watchTerminal(holder: HTMLElement, what: Watched, onEnd: (why: string) => void): Promise<() => void> {
  const term = new Terminal({ convertEol: false, disableStdin: true, scrollback: 5000 });
  term.open(holder);
  await session.open();
  const stream = session.stream({
    onBytes: (_channel, bytes) => term.write(bytes.slice()),
    onMessage: (message) => {
      if (message.type === "resized") term.resize(message.cols, message.rows);
      if (message.type === "end") onEnd(t("sharingEnded"));
      if (message.type === "error") onEnd(errorText(message.code, message.message));
      if (message.type === "lost") onEnd(t("stoppedByDrop"));
    },
  });
  session.send({ type: "watch", stream, ...what });
  return () => {
    session.send({ type: "cancel", stream });
    term.dispose();
  };
}
