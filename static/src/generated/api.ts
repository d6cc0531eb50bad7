// Generated from berth's Rust types by tests/ui_types.rs (ts-rs). Do not edit.

export type ServerMessage = { "type": "hello", protocol: number, session: string, heartbeat_ms: number, } | { "type": "started", stream: number, } | { "type": "exit", stream: number, code: number | null, } | { "type": "exit", stream: number, code: number | null, duration_ms: number, killed: Killed | null, } | { "type": "end", stream: number, } | { "type": "end", stream: number, image_id: string | null, } | { "type": "end", stream: number, image_id: string, template: string, } | { "type": "stats", stream: number, 
/**
 * Of one CPU: 200 is two CPUs busy.
 */
cpu_percent: number, 
/**
 * Without the page cache.
 */
memory_bytes: number, memory_limit: number, pids: number, net_rx_bytes: number, net_tx_bytes: number, } | { "type": "pong", t: JsonValue, } | { "type": "progress", stream: number, status: string | null, 
/**
 * The layer.
 */
id?: string, 
/**
 * Bytes, while the layer moves.
 */
current?: number, total?: number, } | { "type": "progress", stream: number, log: string, } | { "type": "attendance.code", stream: number, code: string, expires_at: string, } | { "type": "attendance.checkin", stream: number, user_id: string, username: string, at: string, count: number, } | { "type": "attendance.checked_in", attendance: string, at: string, 
/**
 * False when they had already checked in (the first time is kept).
 */
first: boolean, } | { "type": "error", stream?: number, code: ErrorCode, message: string, };

export type ClientMessage = { "type": "exec" } & ExecRequest | { "type": "resize", stream: number, cols: number, rows: number, } | { "type": "eof", stream: number, } | { "type": "cancel", stream: number, } | { "type": "pause", stream: number, } | { "type": "resume", stream: number, } | { "type": "ack", stream: number, bytes: number, } | { "type": "logs" } & LogsRequest | { "type": "stats" } & StatsRequest | { "type": "run" } & RunRequest | { "type": "ping", t: JsonValue, } | { "type": "build" } & BuildRequest | { "type": "derive" } & DeriveRequest | { "type": "pull" } & TransferRequest | { "type": "push" } & TransferRequest | { "type": "attendance.watch", stream: number, attendance: string, } | { "type": "attendance.checkin", attendance: string, code: string, };

export type ExecRequest = { stream: number, 
/**
 * The container, or (`workspace`) the workspace, to run in: exactly one of them.
 */
container?: string, workspace?: string, cmd: Array<string>, tty?: boolean, cols?: number, rows?: number, env?: { [key in string]?: string }, workdir?: string, 
/**
 * Output bytes the server may send ahead of the client's `ack`s; unbounded when absent.
 */
window?: number, };

export type TransferRequest = { stream: number, image: string, 
/**
 * A stored registry's id or name; for a pull, by default the one the image's host names.
 */
registry?: string, 
/**
 * The host to pull to or push from; `local` when none.
 */
host?: string, };

export type BuildRequest = { stream: number, 
/**
 * An id from `POST /api/v1/builds/contexts`.
 */
context: string, 
/**
 * `repo[:tag]` the image gets once built; refused if it names another image, unless `force`.
 */
tag: string, dockerfile?: string, build_args?: { [key in string]?: string }, force?: boolean, 
/**
 * The host to build on; `local` when none.
 */
host?: string, };

export type DeriveRequest = { stream: number, 
/**
 * The template to start from (id or name).
 */
template: string, 
/**
 * The new template's name.
 */
name: string, 
/**
 * Dockerfile lines after `FROM <its image>`, such as `RUN pip install numpy`.
 */
lines: Array<string>, 
/**
 * The host to build on; `local` when none.
 */
host?: string, };

export type LogsRequest = { stream: number, container?: string, workspace?: string, follow?: boolean, tail?: number, 
/**
 * Unix seconds.
 */
since?: number, timestamps?: boolean, };

export type StatsRequest = { stream: number, container?: string, workspace?: string, };

export type RunRequest = { stream: number, workspace: string, 
/**
 * The file to run, relative to /workspace.
 */
path: string, args?: Array<string>, time_limit_s?: number, output_limit_kb?: number, };

export type ErrorCode = "bad_request" | "unauthorized" | "forbidden" | "not_found" | "conflict" | "quota_exceeded" | "image_in_use" | "too_large" | "too_many" | "internal" | "unavailable";

export type Killed = "timeout" | "output" | "cancelled" | "memory";

export type Usage = { 
/**
 * Of one CPU: 200 is two CPUs busy.
 */
cpu_percent: number, 
/**
 * Without the page cache.
 */
memory_bytes: number, memory_limit: number, pids: number, net_rx_bytes: number, net_tx_bytes: number, };

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

