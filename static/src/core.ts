// What every page shares: the REST client, the tab's one WebSocket session, and small DOM
// helpers.

import type { ClientMessage, ServerMessage } from "./generated/api";
import { errorText, t } from "./i18n";

// ---- REST ----

export class ApiFailure extends Error {
  constructor(
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

export const token = {
  get: () => sessionStorage.getItem("berth.token"),
  set: (value: string | null) => {
    if (value) sessionStorage.setItem("berth.token", value);
    else sessionStorage.removeItem("berth.token");
    sessionStorage.removeItem("berth.role");
  },
};

export type Role = "student" | "teacher" | "admin";

/** The signed-in user's role, asked once per sign-in: it decides which pages the menu offers
 * (the server checks every action whatever the menu shows). */
export async function myRole(): Promise<Role> {
  const known = sessionStorage.getItem("berth.role") as Role | null;
  if (known) return known;
  const me = await api<{ role: Role }>("GET", "/me");
  sessionStorage.setItem("berth.role", me.role);
  return me.role;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return undefined as T;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error ?? { code: "internal", message: response.statusText };
    if (error.code === "unauthorized" && path !== "/auth/login") {
      token.set(null);
      session.close();
      go("#/signin");
    }
    throw new ApiFailure(error.code, error.message);
  }
  return data as T;
}

// ---- the session's WebSocket ----

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

// ---- page furniture ----

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, any> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node) (node as any)[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

export function banner(text: string | null) {
  const node = document.getElementById("banner")!;
  node.hidden = !text;
  node.textContent = text ?? "";
}

export function alertBox(error: unknown): HTMLElement {
  const text =
    error instanceof ApiFailure
      ? errorText(error.code, error.message)
      : error instanceof Error
        ? error.message // our own checks, already in words (no "Error:" prefix)
        : String(error);
  return el("p", { className: "error", role: "alert" }, text);
}

/** Goes to a page (the router listens for hash changes; the same page is drawn again). */
export function go(hash: string) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}


// ---- uploads and downloads (the bearer token in a header, never in a URL) ----

/** Sends `body` with upload progress (fetch has none), answering as `api` does. */
export function upload<T>(
  method: string,
  path: string,
  body: Blob,
  onProgress: (sent: number, total: number) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, `/api/v1${path}`);
    const bearer = token.get();
    if (bearer) request.setRequestHeader("Authorization", `Bearer ${bearer}`);
    request.setRequestHeader("Content-Type", body.type || "application/x-tar");
    request.upload.onprogress = (event) => onProgress(event.loaded, event.total || body.size);
    request.onerror = () => reject(new ApiFailure("unavailable", "the upload was cut off"));
    request.onload = () => {
      let data: any = {};
      try {
        data = request.responseText ? JSON.parse(request.responseText) : {};
      } catch {
        // not JSON: the status speaks
      }
      if (request.status >= 200 && request.status < 300) return resolve(data as T);
      const error = data.error ?? {
        code: request.status === 413 ? "bad_request" : "internal",
        message: request.status === 413 ? "the file is larger than the server accepts" : request.statusText,
      };
      reject(new ApiFailure(error.code, error.message));
    };
    request.send(body);
  });
}

/** Fetches `path` with the token and hands it to the browser as a download named `name`. */
export async function download(path: string, name: string): Promise<void> {
  const response = await fetch(`/api/v1${path}`, { headers: { Authorization: `Bearer ${token.get()}` } });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new ApiFailure(data.error?.code ?? "internal", data.error?.message ?? response.statusText);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
