// The tab's one WebSocket session: streams by id, each with its handler; it reconnects by
// itself (with a fresh ticket, never the token in the URL) after a drop.

import { api } from "./api";
import { banner } from "./dom";
import type { ClientMessage, ServerMessage } from "./generated/api";
import { t } from "./i18n";

/** What a stream's handler is given: the server's messages about it, and `lost` when the
 * connection dropped under it. */
export type StreamMessage = ServerMessage | { type: "lost" };

type Handler = {
  onBytes?: (channel: number, bytes: Uint8Array) => void;
  onMessage?: (message: StreamMessage) => void;
};

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
  }

  private receive(event: MessageEvent) {
    if (typeof event.data === "string") {
      const message = JSON.parse(event.data) as ServerMessage;
      const stream = "stream" in message ? message.stream : undefined;
      if (stream === undefined) return;
      this.handlers.get(stream)?.onMessage?.(message);
      // An error may be about one input of a live stream, so only exit and end free the id.
      if (message.type === "exit" || message.type === "end") this.handlers.delete(stream);
      return;
    }
    const frame = new Uint8Array(event.data);
    this.handlers.get(frame[0])?.onBytes?.(frame[1], frame.subarray(2));
  }

  private lost(ws: WebSocket) {
    if (this.ws !== ws) return;
    this.ws = null;
    for (const handler of this.handlers.values()) handler.onMessage?.({ type: "lost" });
    this.handlers.clear();
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

  close() {
    this.wanted = false;
    this.ws?.close();
    this.ws = null;
    this.handlers.clear();
  }

  /** A stream id not in use, and its handler registered. */
  stream(handler: Handler): number {
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
