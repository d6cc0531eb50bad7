// The tab's one WebSocket session: streams by id, each with its handler; it reconnects by
// itself (with a fresh ticket, never the token in the URL) after a drop, and takes its
// resumable streams (`resume: true`) back with `reattach`, counting what each has received so
// that the server sends exactly the rest. After a reload, the page's first connection takes
// the streams the last page left back too (their token and names are in sessionStorage), and
// holds what they send until the page claims them by name (`claim`).

import { api } from "./api";
import { banner } from "./dom";
import type { ClientMessage, ServerMessage } from "./generated/api";
import { t } from "./i18n";

/** What a stream's handler is given: the server's messages about it, `lost` when the
 * connection dropped under it (for a resumable stream: and it could not be taken back), and
 * `resumed` when a resumable stream was taken back (`lost` bytes of it are gone). */
export type StreamMessage = ServerMessage | { type: "lost" } | { type: "resumed"; lost: number };

export type Handler = {
  onBytes?: (channel: number, bytes: Uint8Array) => void;
  onMessage?: (message: StreamMessage) => void;
  /** The stream was started with `resume: true`. */
  resumable?: boolean;
  /** What a page names a resumable stream by, to claim it after a reload. */
  key?: string;
  /** Bytes received per channel (of a resumable stream). */
  received?: Map<number, number>;
  /** A stream taken back after a reload that no page has claimed yet: what it sent. */
  held?: Array<{ channel: number; bytes: Uint8Array } | { message: StreamMessage }>;
};

/** The resume token of the tab's last session. Kept in sessionStorage (never in a URL), for
 * the one `reattach` after a drop. */
const RESUME_KEY = "berth.resume";
/** The tab's named resumable streams (`[[stream, key]]`), for a reload to take back. */
const STREAMS_KEY = "berth.resume.streams";
/** How long the first connection after a reload waits for its `reattach` to be answered. */
const RELOAD_WAIT_MS = 5000;

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
  /** The page's first connection is yet to be made (it takes back what the last page left). */
  private firstConnection = true;
  /** Resolves when the `reattach` after a reload is answered. */
  private reloadAnswered: (() => void) | null = null;

  private async connect(): Promise<void> {
    // Read before the new connection's `hello` replaces the token.
    const left = this.firstConnection ? { token: sessionStorage.getItem(RESUME_KEY), saved: savedStreams() } : null;
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
    if (left) {
      this.firstConnection = false;
      await this.takeBackAfterReload(left.token, left.saved);
    } else {
      this.reattach();
    }
  }

  /** Whether the last page of this tab left resumable streams to take back. */
  leftBehind(): boolean {
    return savedStreams().length > 0 && sessionStorage.getItem(RESUME_KEY) !== null;
  }

  /** The first connection after a reload: asks for the streams the last page left (all their
   * kept output, since this page has none of it), held until a page claims them. */
  private async takeBackAfterReload(token: string | null, saved: Array<[number, string]>) {
    if (!token || saved.length === 0) return;
    for (const [stream, key] of saved) {
      this.handlers.set(stream, { resumable: true, key, received: new Map(), held: [] });
    }
    this.reattaching = true;
    const answered = new Promise<void>((resolve) => (this.reloadAnswered = resolve));
    this.send({ type: "reattach", token, received: [] });
    await Promise.race([answered, new Promise((r) => setTimeout(r, RELOAD_WAIT_MS))]);
    this.reloadAnswered = null;
    if (this.reattaching) this.giveUp();
  }

  /** Takes over the stream named `key` that a reload took back, if there is one: `handler` is
   * given what it sent meanwhile, and gets the rest. Its stream id, or null. */
  claim(key: string, handler: Handler): number | null {
    const found = [...this.handlers.entries()].find(([, h]) => h.held && h.key === key);
    if (!found) return null;
    const [stream, held] = found;
    this.handlers.set(stream, { ...handler, resumable: true, key, received: held.received });
    // Given once the caller knows the stream's id, and before any frame that comes after.
    queueMicrotask(() => {
      let ended = false;
      for (const event of held.held ?? []) {
        if ("message" in event) {
          handler.onMessage?.(event.message);
          ended ||= ["exit", "end", "error"].includes(event.message.type);
        } else {
          handler.onBytes?.(event.channel, event.bytes);
        }
      }
      if (ended) this.forget(stream);
    });
    return stream;
  }

  /** Whether a reload took back a stream named `key` that no page has claimed. */
  holds(key: string): boolean {
    return [...this.handlers.values()].some((h) => h.held && h.key === key);
  }

  /** A stream's handler is gone (it ended, or was lost). */
  private forget(stream: number) {
    this.handlers.delete(stream);
    this.saveStreams();
  }

  /** Keeps the names of the tab's resumable streams, for a reload. */
  private saveStreams() {
    const named = [...this.handlers.entries()].filter(([, h]) => h.resumable && h.key).map(([id, h]) => [id, h.key]);
    sessionStorage.setItem(STREAMS_KEY, JSON.stringify(named));
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
    this.reattaching = false;
    for (const [stream, handler] of [...this.handlers.entries()]) {
      if (!handler.resumable) continue;
      handler.onMessage?.({ type: "lost" });
      this.handlers.delete(stream);
    }
    this.saveStreams();
  }

  /** Gives a stream's handler a message, or holds it for the page that will claim it. */
  private deliver(stream: number, message: StreamMessage) {
    const handler = this.handlers.get(stream);
    if (handler?.held) handler.held.push({ message });
    else handler?.onMessage?.(message);
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
        for (const [stream, handler] of [...this.handlers.entries()]) {
          if (!handler.resumable) continue;
          const lost = message.streams.filter((s) => s.stream === stream).reduce((sum, s) => sum + s.lost, 0);
          this.deliver(stream, { type: "resumed", lost });
        }
        this.reloadAnswered?.();
        return;
      }
      const stream = "stream" in message ? message.stream : undefined;
      // A refused reattach (its token spent, expired, or another server's) is not about a stream.
      if (stream === undefined || stream === null) {
        if (message.type === "error" && this.reattaching) {
          this.giveUp();
          this.reloadAnswered?.();
        }
        return;
      }
      const handler = this.handlers.get(stream);
      this.deliver(stream, message);
      // An error may be about one input of a live stream, so only exit and end free the id (a
      // held stream's, once it is claimed).
      const over = message.type === "exit" || message.type === "end" || message.type === "detached";
      if (over && !handler?.held) this.forget(stream);
      return;
    }
    const frame = new Uint8Array(event.data);
    const handler = this.handlers.get(frame[0]);
    if (handler?.received) handler.received.set(frame[1], (handler.received.get(frame[1]) ?? 0) + frame.length - 2);
    if (handler?.held) handler.held.push({ channel: frame[1], bytes: frame.slice(2) });
    else handler?.onBytes?.(frame[1], frame.subarray(2));
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
    this.saveStreams();
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
    sessionStorage.removeItem(STREAMS_KEY);
  }

  /** A stream id not in use, and its handler registered. */
  stream(handler: Handler): number {
    if (handler.resumable) handler.received = new Map();
    for (let i = 0; i < 255; i++) {
      const id = this.nextStream;
      this.nextStream = (this.nextStream % 255) + 1;
      if (!this.handlers.has(id)) {
        this.handlers.set(id, handler);
        if (handler.key) this.saveStreams();
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

/** The named resumable streams the last page of this tab left. */
function savedStreams(): Array<[number, string]> {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STREAMS_KEY) ?? "[]");
    return Array.isArray(saved) ? saved.filter((s) => typeof s[0] === "number" && typeof s[1] === "string") : [];
  } catch {
    return [];
  }
}

export const session = new Session();
