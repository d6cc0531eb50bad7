// The REST client: one `request` that every call goes through (JSON, raw bodies, downloads)
// and one way to read the server's error shape, which uploads (XHR, for their progress) share.
// The bearer token travels in a header, never in a URL.

import type { Role } from "./generated/api";

export type { Role };

/** What a 401 does to the tab (main.ts signs it out); set once at start. */
let unauthorized: () => void = () => {};
export function onUnauthorized(handler: () => void) {
  unauthorized = handler;
}

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
    sessionStorage.removeItem("berth.me");
  },
};

/** Who is signed in. */
export type Account = { username: string; role: Role };

/** The signed-in account, asked once per sign-in: the header shows it, and its role decides
 * which pages the menu offers (the server checks every action whatever the menu shows). */
export async function myAccount(): Promise<Account> {
  const known = sessionStorage.getItem("berth.me");
  if (known) return JSON.parse(known) as Account;
  const me = await api<Account>("GET", "/me");
  const account = { username: me.username, role: me.role };
  sessionStorage.setItem("berth.me", JSON.stringify(account));
  return account;
}

export async function myRole(): Promise<Role> {
  return (await myAccount()).role;
}

/** The failure a response stands for: the server's `{error: {code, message}}`, else its
 * status in words. A 401 (other than a wrong password) signs the tab out. */
export function failure(status: number, statusText: string, body: string, path: string): ApiFailure {
  let error: { code?: string; message?: string } | undefined;
  try {
    error = JSON.parse(body)?.error;
  } catch {
    // not JSON: the status speaks
  }
  const code = error?.code ?? (status === 413 ? "too_large" : "internal");
  const message = error?.message ?? (status === 413 ? "the file is larger than the server accepts" : statusText);
  // A refused sign-in is said on the sign-in page; any other 401 signs the tab out.
  if (code === "unauthorized" && path !== "/auth/login" && path !== "/auth/oidc/token") unauthorized();
  return new ApiFailure(code, message);
}

type Body = { json: unknown } | { raw: BodyInit } | undefined;

/** Sends a request to `/api/v1{path}` with the caller's token; the response when it is a
 * success, else its failure thrown. */
export async function request(method: string, path: string, body?: Body): Promise<Response> {
  const headers: Record<string, string> = {};
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let payload: BodyInit | undefined;
  if (body && "json" in body) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body.json);
  } else if (body) {
    payload = body.raw;
  }
  const response = await fetch(`/api/v1${path}`, { method, headers, body: payload });
  if (!response.ok) throw failure(response.status, response.statusText, await response.text(), path);
  return response;
}

/** A JSON call: the answer, or nothing for a 204. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await request(method, path, body === undefined ? undefined : { json: body });
  if (response.status === 204) return undefined as T;
  return (await response.json().catch(() => ({}))) as T;
}

/** Sends `body` with upload progress (fetch has none), answering as `api` does. */
export function upload<T>(
  method: string,
  path: string,
  body: Blob,
  onProgress: (sent: number, total: number) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, `/api/v1${path}`);
    const bearer = token.get();
    if (bearer) xhr.setRequestHeader("Authorization", `Bearer ${bearer}`);
    xhr.setRequestHeader("Content-Type", body.type || "application/x-tar");
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.total || body.size);
    xhr.onerror = () => reject(new ApiFailure("unavailable", "the upload was cut off"));
    xhr.onload = () => {
      if (xhr.status < 200 || xhr.status >= 300) {
        return reject(failure(xhr.status, xhr.statusText, xhr.responseText, path));
      }
      try {
        resolve((xhr.responseText ? JSON.parse(xhr.responseText) : {}) as T);
      } catch {
        resolve({} as T);
      }
    };
    xhr.send(body);
  });
}

/** Fetches `path` with the token and hands it to the browser as a download named `name`. */
export async function download(path: string, name: string): Promise<void> {
  const response = await request("GET", path);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
