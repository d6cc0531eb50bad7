// The tab's one WebSocket session: streams by id, each with its handler; it reconnects by
// itself (with a fresh ticket, never the token in the URL) after a drop, and takes its
// resumable streams (`resume: true`) back with `reattach`, counting what each has received so
// that the server sends exactly the rest.

import { api } from "./api";
import { banner } from "./dom";
import type { ClientMessage, ServerMessage } from "./generated/api";
import { t } from "./i18n";

/** What a stream's handler is given: the server's messages about it, `lost` when the
 * connection dropped under it (for a resumable stream: and it could not be taken back), and
 * `resumed` when a resumable stream was taken back (`lost` bytes of it are gone). */
export type StreamMessage = ServerMessage | { type: "lost" } | { type: "resumed"; lost: number };

type Handler = {
  onBytes?: (channel: number, bytes: Uint8Array) => void;
  onMessage?: (message: StreamMessage) => void;
  /** The stream was started with `resume: true`. */
  resumable?: boolean;
  /** Bytes received per channel (of a resumable stream). */
  received?: Map<number, number>;
};

/** The resume token of the tab's last session. Kept in sessionStorage (never in a URL), for
 * the one `reattach` after a drop. */
const RESUME_KEY = "berth.resume";

/** One WebSocket for the tab; reconnects by itself (with a fresh ticket) after a drop. */
export class Session {
  private ws: WebSocket | null = null;
  private handlers = new Map<number, Handler>();
  private nextStream = 1;
  private wanted = false;
  private opened: Promise<void> | null = null;
  onReconnected: (() => void) | null = null;

  async open(): Promise<void> {
    this.wanted = true;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return;
    if (!this.opened) {
      this.opened = this.connect().finally(() => (this.opened = null));
    }
    return this.opened;
  }

  /** The resume token the current connection's `hello` gave. */
  private resumeToken: string | null = null;
  /** A `reattach` was sent and not answered yet. */
  private reattaching = false;

  private async connect(): Promise<void> {
    const { ticket } = await api<{ ticket: string }>("POST", "/ws/ticket");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws?ticket=${encodeURIComponent(ticket)}`);
    ws.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("WebSocket failed"));
    });
    ws.onmessage = (event) => this.receive(event);
    ws.onclose = () => this.lost(ws);
    this.ws = ws;
    banner(null);
    this.reattach();
  }

  /** After a drop: asks for the resumable streams back, saying what each has received. */
  private reattach() {
    const waiting = [...this.handlers.entries()].filter(([, handler]) => handler.resumable);
    const token = this.resumeToken;
    if (waiting.length === 0) return;
    if (!token) return this.giveUp();
    this.reattaching = true;
    const received = waiting.flatMap(([stream, handler]) =>
      [...(handler.received ?? new Map()).entries()].map(([channel, bytes]) => ({ stream, channel, bytes })),
    );
    this.send({ type: "reattach", token, received });
  }

  /** A resumable stream could not be taken back: it is lost after all. */
  private giveUp() {
    for (const [stream, handler] of [...this.handlers.entries()]) {
      if (!handler.resumable) continue;
      handler.onMessage?.({ type: "lost" });
      this.handlers.delete(stream);
    }
  }

  private receive(event: MessageEvent) {
    if (typeof event.data === "string") {
      const message = JSON.parse(event.data) as ServerMessage;
      if (message.type === "hello") {
        this.resumeToken = message.resume_token ?? null;
        if (this.resumeToken) sessionStorage.setItem(RESUME_KEY, this.resumeToken);
        return;
      }
      if (message.type === "reattached") {
        this.reattaching = false;
        for (const [stream, handler] of this.handlers) {
          if (!handler.resumable) continue;
          const lost = message.streams.filter((s) => s.stream === stream).reduce((sum, s) => sum + s.lost, 0);
          handler.onMessage?.({ type: "resumed", lost });
        }
        return;
      }
      const stream = "stream" in message ? message.stream : undefined;
      // A refused reattach (its token spent, expired, or another server's) is not about a stream.
      if (stream === undefined || stream === null) {
        if (message.type === "error" && this.reattaching) {
          this.reattaching = false;
          this.giveUp();
        }
        return;
      }
      this.handlers.get(stream)?.onMessage?.(message);
      // An error may be about one input of a live stream, so only exit and end free the id.
      if (message.type === "exit" || message.type === "end") this.handlers.delete(stream);
      return;
    }
    const frame = new Uint8Array(event.data);
    const handler = this.handlers.get(frame[0]);
    if (handler?.received) handler.received.set(frame[1], (handler.received.get(frame[1]) ?? 0) + frame.length - 2);
    handler?.onBytes?.(frame[1], frame.subarray(2));
  }

  private lost(ws: WebSocket) {
    if (this.ws !== ws) return;
    this.ws = null;
    // Resumable streams wait for the reattach; the others are gone.
    for (const [stream, handler] of [...this.handlers.entries()]) {
      if (handler.resumable && this.wanted) continue;
      handler.onMessage?.({ type: "lost" });
      this.handlers.delete(stream);
    }
    if (!this.wanted) return;
    banner(t("reconnecting"));
    const retry = async (delay: number) => {
      await new Promise((r) => setTimeout(r, delay));
      if (!this.wanted) return;
      try {
        await this.open();
        this.onReconnected?.();
      } catch {
        retry(Math.min(delay * 2, 10_000));
      }
    };
    retry(500);
  }

  /** Ends the session on purpose (signing out): `bye` stops its resumable streams too. */
  close() {
    this.wanted = false;
    if (this.ws?.readyState === WebSocket.OPEN) this.send({ type: "bye" });
    this.ws?.close();
    this.ws = null;
    this.handlers.clear();
    this.resumeToken = null;
    sessionStorage.removeItem(RESUME_KEY);
  }

  /** A stream id not in use, and its handler registered. */
  stream(handler: Handler): number {
    if (handler.resumable) handler.received = new Map();
    for (let i = 0; i < 255; i++) {
      const id = this.nextStream;
      this.nextStream = (this.nextStream % 255) + 1;
      if (!this.handlers.has(id)) {
        this.handlers.set(id, handler);
        return id;
      }
    }
    throw new Error("no free stream");
  }

  send(message: ClientMessage) {
    this.ws?.send(JSON.stringify(message));
  }

  sendBytes(stream: number, bytes: Uint8Array) {
    const frame = new Uint8Array(bytes.length + 2);
    frame[0] = stream;
    frame[1] = 0;
    frame.set(bytes, 2);
    this.ws?.send(frame);
  }
}

export const session = new Session();
