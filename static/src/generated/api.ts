// Generated from berth's Rust types by tests/ui_types.rs (ts-rs). Do not edit.

export type ServerMessage = { "type": "hello", protocol: number, session: string, heartbeat_ms: number, 
/**
 * The secret a later session's `reattach` names to take over this one's resumable
 * streams; absent when resume is off.
 */
resume_token?: string, } | { "type": "shared", stream: number, share: string, } | { "type": "watchers", workspace: string, stream: number, by: Array<string>, } | { "type": "resized", stream: number, cols: number, rows: number, } | { "type": "reattached", streams: Array<ReattachedStream>, } | { "type": "job", stream: number, job: string, } | { "type": "attached", stream: number, job: string, output: Array<ReattachedStream>, } | { "type": "detached", stream: number, job: string, } | { "type": "started", stream: number, } | { "type": "exit", stream: number, code: number | null, } | { "type": "exit", stream: number, code: number | null, duration_ms: number, killed: Killed | null, } | { "type": "end", stream: number, } | { "type": "end", stream: number, image_id: string | null, } | { "type": "end", stream: number, image_id: string, template: string, } | { "type": "stats", stream: number, 
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

export type ClientMessage = { "type": "exec" } & ExecRequest | { "type": "resize", stream: number, cols: number, rows: number, } | { "type": "eof", stream: number, } | { "type": "cancel", stream: number, } | { "type": "pause", stream: number, } | { "type": "resume", stream: number, } | { "type": "ack", stream: number, bytes: number, } | { "type": "logs" } & LogsRequest | { "type": "stats" } & StatsRequest | { "type": "run" } & RunRequest | { "type": "ping", t: JsonValue, } | { "type": "reattach", token: string, received?: Array<Received>, } | { "type": "bye" } | { "type": "attach", stream: number, job: string, } | { "type": "detach", stream: number, } | { "type": "share", stream: number, course: string, } | { "type": "unshare", stream: number, } | { "type": "watch", stream: number, share?: string, workspace?: string, source?: string, } | { "type": "build" } & BuildRequest | { "type": "derive" } & DeriveRequest | { "type": "pull" } & TransferRequest | { "type": "push" } & TransferRequest | { "type": "attendance.watch", stream: number, attendance: string, } | { "type": "attendance.checkin", attendance: string, code: string, };

export type ExecRequest = { stream: number, 
/**
 * The container, or (`workspace`) the workspace, to run in: exactly one of them.
 */
container?: string, workspace?: string, cmd: Array<string>, tty?: boolean, cols?: number, rows?: number, env?: { [key in string]?: string }, workdir?: string, 
/**
 * Output bytes the server may send ahead of the client's `ack`s; unbounded when absent.
 */
window?: number, 
/**
 * Keep it running, for `session.resume_grace_s`, when the session ends without `bye`.
 */
resume?: boolean, 
/**
 * Run it as a background job (workspaces only): it goes on after every session ends, up
 * to its template's `job_max_s`, and `attach` takes it back.
 */
detach?: boolean, };

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
path: string, args?: Array<string>, time_limit_s?: number, output_limit_kb?: number, 
/**
 * As `exec`'s.
 */
resume?: boolean, 
/**
 * As `exec`'s. A detached run has no output limit unless it asks for one, and its time
 * limit is the template's `job_max_s` (or `time_limit_s`, if that is less).
 */
detach?: boolean, };

export type Received = { stream: number, channel: number, bytes: number, };

export type ReattachedStream = { stream: number, channel: number, from: number, lost: number, 
/**
 * The bytes that follow are the terminal's current screen, not the missing output (a TTY
 * whose missing output was no longer all kept): clear the terminal and draw them.
 */
screen: boolean, };

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

export type User = { id: string, username: string, role: Role, };

export type Role = "admin" | "teacher" | "student";

export type LoggedIn = { access_token: string, token_type: string, expires_in: number, };

export type Ticket = { ticket: string, expires_in: number, };

export type Providers = { 
/**
 * `open`: the page may offer to register.
 */
registration: Registration, 
/**
 * The login form checks passwords against an LDAP directory (besides local accounts).
 */
ldap: boolean, 
/**
 * An OpenID Connect provider, and what its button says after "Sign in with".
 */
oidc: OidcButton | null, };

export type AuditView = { id: string, 
/**
 * RFC 3339, UTC.
 */
at: string, user_id: string | null, username: string | null, action: string, target: string | null, 
/**
 * `ok`, or `refused`.
 */
outcome: string, 
/**
 * Why it was refused.
 */
reason: string | null, client: string | null, detail: Record<string, unknown>, };

export type ServerUsage = { users: Array<UserUsage>, every_host_answered: boolean, };

export type UserUsage = { user_id: string, username: string, role: string, 
/**
 * Live WebSocket sessions on every replica, and the streams they run (those of the other
 * replicas as each recorded them within the last second; a stream relayed from another
 * replica is counted only when the replica holding it answers).
 */
sessions: number, streams: number, 
/**
 * Containers (workspaces not counted), running and not.
 */
containers_running: number, containers_stopped: number, workspaces_running: number, workspaces_stopped: number, 
/**
 * Memory their containers and workspaces reserve (their limits), running or not.
 */
memory_mb: number, 
/**
 * Of one CPU, summed over their running containers and workspaces (200: two CPUs busy).
 */
cpu_percent: number, };

export type Ended = { 
/**
 * Sessions that were open and are closing.
 */
sessions: number, };

export type OidcButton = { label: string, };

export type Registration = "open" | "closed" | "sso_only";

export type ContainerView = { id: string, name: string, image: string, state: string, owner: string | null, 
/**
 * The Docker host it lives on.
 */
host: string, limits: LimitsView, };

export type LimitsView = { memory_mb: number | null, cpus: number | null, pids_limit: number | null, };

export type Created = { 
/**
 * Whether its image was pulled first.
 */
pulled: boolean, id: string, name: string, image: string, state: string, owner: string | null, 
/**
 * The Docker host it lives on.
 */
host: string, limits: LimitsView, };

export type ImageView = { id: string, tags: Array<string>, 
/**
 * Bytes.
 */
size: number, 
/**
 * Unix seconds.
 */
created: number, containers: number, };

export type ImageDetails = { id: string | null, tags: Array<string> | null, 
/**
 * Bytes.
 */
size: number | null, created: string | null, architecture: string | null, os: string | null, config: ImageConfigView | null, };

export type ImageConfigView = { cmd: Array<string> | null, entrypoint: Array<string> | null, env: Array<string> | null, working_dir: string | null, exposed_ports: Array<string> | null, };

export type Tagged = { id: string | null, tag: string, };

export type Removed = { untagged: Array<string>, deleted: Array<string>, };

export type Pruned = { deleted: Array<string>, space_reclaimed: number, };

export type Loaded = { loaded: Array<string>, };

export type Uploaded = { context: string, size: number, expires_in: number, };

export type RegistryView = { id: string, name: string, server: string, username: string, shared: boolean, };

export type Found = { source: string, name: string, tags?: JsonValue, description?: string, stars?: number, official?: boolean, };

export type Source = { source: string, ok: boolean, count?: number, error?: string, };

export type SearchResults = { results: Array<Found>, sources: Array<Source>, };

export type HostStatus = { id: string, name: string, url: string | null, tls: boolean, healthy: boolean, api_version?: string, error?: string, };

export type CourseView = { id: string, name: string, join_code?: string, 
/**
 * `teacher` or `student`: the caller's part in it.
 */
role?: "teacher" | "student", };

export type Student = { id: string, username: string, joined_at: string, };

export type AttendanceView = { id: string, course_id: string, opens_at: string, closes_at: string, period_s: number, open: boolean, };

export type SessionRecord = { attendance: AttendanceView, present: number, enrolled: number, 
/**
 * The usernames of the enrolled students who did not check in.
 */
absent: Array<string>, };

export type ShareView = { share: string, course_id: string, 
/**
 * Who shares it (a username).
 */
by: string, started_at: string, };

export type JobView = { 
/**
 * What `attach` and `DELETE /workspaces/{id}/jobs/{job}` name.
 */
id: string, workspace: string, 
/**
 * `exec` or `run`.
 */
kind: string, 
/**
 * What it runs (for a run, the template's command for the file).
 */
command: Array<string>, tty: boolean, 
/**
 * `running`, `exited`, `killed` (see `killed`), `failed` (see `error`) or `lost` (berth
 * stopped while it ran, and killed what was left at its next start).
 */
state: string, code: number | null, 
/**
 * What killed it: `cancelled` (cancel or DELETE), `timeout` (the template's `job_max_s`)
 * or `memory`.
 */
killed: string | null, error: string | null, started_at: string, ended_at: string | null, 
/**
 * Whether its output is still kept, to `attach`.
 */
attachable: boolean, };

export type SourceView = { 
/**
 * What `watch` names as its `source`.
 */
id: string, 
/**
 * `exec` or `run`.
 */
kind: string, started_at: string, 
/**
 * A TTY exec (a terminal) or not.
 */
tty: boolean, };

export type CheckedIn = { attendance: string, at: string, 
/**
 * False when the student had already checked in (the first time is kept).
 */
first: boolean, };

export type RosterEntry = { user_id: string, username: string, present: boolean, checked_in_at: string | null, };

export type Roster = { attendance: AttendanceView, present: number, enrolled: number, students: Array<RosterEntry>, };

export type Template = { id: string, 
/**
 * The account that made it; only it and admins may change or delete it, since a template's
 * commands run in every workspace made from it.
 */
created_by: string | null, name: string, image: string, description: string | null, memory_mb: number | null, cpus: number | null, pids: number | null, 
/**
 * NVIDIA GPUs to give each workspace.
 */
gpus: number | null, network: Network, idle_timeout_s: number | null, 
/**
 * The longest a background job (`detach: true`) of its workspaces runs, in seconds; a day
 * when absent.
 */
job_max_s?: number, 
/**
 * How a file is run, by extension: `{".py": ["python3", "{file}"]}`.
 */
run: { [key in string]?: Array<string> }, 
/**
 * Starter files copied into a new workspace: path (relative to /workspace) to text.
 */
files: { [key in string]?: string }, };

export type TemplateSpec = { name: string, image: string, description: string | null, memory_mb: number | null, cpus: number | null, pids: number | null, 
/**
 * NVIDIA GPUs to give each workspace.
 */
gpus: number | null, network: Network, idle_timeout_s: number | null, 
/**
 * The longest a background job (`detach: true`) of its workspaces runs, in seconds; a day
 * when absent.
 */
job_max_s?: number, 
/**
 * How a file is run, by extension: `{".py": ["python3", "{file}"]}`.
 */
run: { [key in string]?: Array<string> }, 
/**
 * Starter files copied into a new workspace: path (relative to /workspace) to text.
 */
files: { [key in string]?: string }, };

export type Network = "none" | "bridge";

export type WorkspaceView = { id: string, name: string, owner: string, 
/**
 * The template's id.
 */
template: string, 
/**
 * The container's state (`running`, `exited`, ...), or `unavailable` when its host does not
 * answer.
 */
state: string, host: string, created_at: string, last_active_at: string, };

export type Entry = { name: string, 
/**
 * `file`, `dir` or `symlink`.
 */
kind: "file" | "dir" | "symlink", size: number, 
/**
 * RFC 3339.
 */
modified: string, };

export type AssignmentView = { id: string, course_id: string, title: string, 
/**
 * The template's id.
 */
template: string, 
/**
 * Markdown.
 */
instructions: string, 
/**
 * RFC 3339, or null for no due time.
 */
due_at: string | null, accept_late: boolean, files: { [key in string]?: string }, check?: Check, 
/**
 * Where its files are in the workspace, relative to /workspace.
 */
folder: string, created_at: string, 
/**
 * The caller's own part in it, for a student of the course.
 */
mine?: MyPart, };

export type MyPart = { 
/**
 * `not_started`, `started` (opened), `submitted`, or `late` (the latest submission came
 * after the due time, or nothing came and the due time passed).
 */
state: "not_started" | "started" | "submitted" | "late", submitted_at?: string, };

export type NewAssignment = { title: string, 
/**
 * A template's id or name.
 */
template: string, instructions?: string, 
/**
 * RFC 3339.
 */
due_at?: string, 
/**
 * Whether a submission after `due_at` is taken (marked late); true by default.
 */
accept_late?: boolean, files?: { [key in string]?: string }, check?: Check, };

export type AssignmentPatch = { title?: string, instructions?: string, 
/**
 * RFC 3339; null removes the due time.
 */
due_at?: string | null, accept_late?: boolean, files?: { [key in string]?: string }, 
/**
 * null removes the check.
 */
check?: Check | null, };

export type Check = { command: Array<string>, files?: { [key in string]?: string }, 
/**
 * Whether students see the check's result (always its pass or fail to the teacher).
 */
show_students?: boolean, };

export type WorkspaceOfAssignment = { workspace: string, 
/**
 * The assignment's folder, relative to /workspace.
 */
path: string, };

export type CheckResult = { 
/**
 * `queued` and `running` until it ends; `done` when it ran (however it ended), `failed`
 * when berth could not run it (`error` says why).
 */
state: "queued" | "running" | "done" | "failed", code?: number, 
/**
 * Its command exited with 0 (and was not killed).
 */
passed?: boolean, duration_ms?: number, 
/**
 * The limit berth killed it at.
 */
killed?: "timeout" | "output" | "memory", 
/**
 * stdout and stderr as they came, at most `checks.output_kb`.
 */
output: string, error?: string, finished_at?: string, };

export type Submitted = { 
/**
 * The submission's id (its sandbox, while its check runs, is `berth-check-<id>`).
 */
id: string, submitted_at: string, late: boolean, 
/**
 * Taken by berth at the due time (the student had started and not handed in).
 */
collected: boolean, 
/**
 * Regular files in it.
 */
files: number, 
/**
 * Their bytes.
 */
bytes: number, 
/**
 * Its check: always to the teacher, to the student when the check says `show_students`.
 */
check?: CheckResult, };

export type SubmissionState = { user_id: string, username: string, 
/**
 * `missing` (never opened), `started` (opened, nothing handed in) or `submitted`.
 */
state: "missing" | "started" | "submitted", submitted_at?: string, late?: boolean, files?: number, bytes?: number, collected?: boolean, 
/**
 * The latest submission's check.
 */
check?: CheckResult, 
/**
 * The workspace the student does it in (the teacher may read it), once they opened it.
 */
workspace?: string, };

