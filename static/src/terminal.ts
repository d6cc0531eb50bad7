// A shell in a container or workspace, in xterm.js, on the tab's one WebSocket: keystrokes go as
// raw bytes, the size follows the panel, and xterm's write callbacks drive `pause`/`resume`, so a
// flood neither freezes the tab nor piles up in the server's memory.

import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import { session } from "./core";
import { errorText, t } from "./i18n";

/** Bytes handed to xterm but not yet drawn above which the server is asked to pause the stream,
 * and below which to resume it. Counted in bytes, not writes: one write can carry 64 KiB, and
 * what is queued here is what a keystroke's echo waits behind. */
const HIGH_WATER = 128 * 1024;
const LOW_WATER = 16 * 1024;

/** What the shell runs in: `{container: id}` or `{workspace: id}`. */
export type Target = { container: string } | { workspace: string };

/** Opens a shell in `target` inside `holder`; returns what closes it (the process is killed). */
export async function openTerminal(holder: HTMLElement, target: Target): Promise<() => void> {
  const term = new Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(holder);
  fit.fit();
  await session.open();
  let pending = 0;
  let paused = false;
  const stream = session.stream({
    onBytes: (_channel, bytes) => {
      const size = bytes.length;
      pending += size;
      if (pending > HIGH_WATER && !paused) {
        paused = true;
        session.send({ type: "pause", stream });
      }
      term.write(bytes.slice(), () => {
        pending -= size;
        if (pending < LOW_WATER && paused) {
          paused = false;
          session.send({ type: "resume", stream });
        }
      });
    },
    onMessage: (message) => {
      if (message.type === "exit") term.write(`\r\n${t("exited", { code: message.code })}\r\n`);
      if (message.type === "error") term.write(`\r\n${errorText(message.code, message.message)}\r\n`);
    },
  });
  const encoder = new TextEncoder();
  const input = term.onData((data) => session.sendBytes(stream, encoder.encode(data)));
  const observer = new ResizeObserver(() => {
    fit.fit();
    session.send({ type: "resize", stream, cols: term.cols, rows: term.rows });
  });
  observer.observe(holder);
  session.send({ type: "exec", stream, ...target, cmd: ["/bin/sh"], tty: true, cols: term.cols, rows: term.rows });
  term.focus();
  return () => {
    observer.disconnect();
    input.dispose();
    session.send({ type: "cancel", stream });
    term.dispose();
  };
}
