//! The command-line client in the same binary: `berth login`, `exec`, `logs`, `cp` and `run`,
//! on the same REST API and WebSocket protocol as the browser. It knows nothing of the server's
//! insides, only what docs/protocol.md says.

pub mod credentials;
pub mod remote;

use std::io::{IsTerminal, Write};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

use credentials::Credentials;
use remote::{Remote, Socket};

/// The one stream a command runs.
const STREAM: u8 = 1;

/// `berth login`: asks for what it was not given (the password without echo), signs in and
/// keeps the token for the other commands.
pub async fn login(
    server: String,
    username: Option<String>,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let username = match username {
        Some(username) => username,
        None => {
            eprint!("Username: ");
            std::io::stderr().flush()?;
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_string()
        }
    };
    let password = if password_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        rpassword::prompt_password("Password: ")?
    };
    let server = server.trim_end_matches('/').to_string();
    let token = remote::sign_in(&server, &username, &password).await?;
    let path = credentials::save(&Credentials {
        server: server.clone(),
        username: username.clone(),
        token,
    })?;
    eprintln!(
        "signed in to {server} as {username} (token in {})",
        path.display()
    );
    Ok(())
}

/// The terminal in raw mode while it lives: every key, Ctrl-C included, goes to the remote
/// process, and the remote terminal does the echoing.
struct RawMode;

impl RawMode {
    fn enable() -> anyhow::Result<RawMode> {
        crossterm::terminal::enable_raw_mode().context("the terminal cannot go raw")?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// `berth exec [-t] TARGET -- CMD…`: runs CMD in the container or workspace with this
/// terminal's input and output; the remote exit code is the answer.
pub async fn exec(tty: bool, target: String, cmd: Vec<String>) -> anyhow::Result<i32> {
    if cmd.is_empty() {
        bail!("no command: berth exec TARGET -- CMD…");
    }
    let remote = Remote::new(&credentials::load()?)?;
    let target = remote.target(&target).await?;
    let mut socket = remote.session().await?;
    let (field, name) = target.field();
    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    let mut request = json!({"type": "exec", "stream": STREAM, "cmd": cmd, "tty": tty});
    request[field] = json!(name);
    if tty {
        request["cols"] = json!(cols);
        request["rows"] = json!(rows);
    }
    remote::send(&mut socket, request).await?;
    let _raw = (tty && std::io::stdin().is_terminal())
        .then(RawMode::enable)
        .transpose()?;
    relay(&mut socket, tty, true).await
}

/// Copies stdin to the stream (when `with_stdin`) and its output to stdout and stderr, passes
/// on window size changes, and answers with the stream's exit code.
async fn relay(socket: &mut Socket, tty: bool, with_stdin: bool) -> anyhow::Result<i32> {
    let mut stdin = tokio::io::stdin();
    let mut input = vec![0u8; 8192];
    let mut stdin_open = with_stdin;
    let mut resized =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    loop {
        tokio::select! {
            frame = socket.next() => match frame {
                Some(Ok(Message::Binary(bytes))) if bytes.len() >= 2 && bytes[0] == STREAM => {
                    let out: &mut dyn Write = if bytes[1] == 2 { &mut stderr } else { &mut stdout };
                    out.write_all(&bytes[2..])?;
                    out.flush()?;
                }
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if let Some(code) = ended(&message)? {
                        return Ok(code);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let why = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    bail!("the session was closed: {why}");
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("the connection broke: {e}"),
                None => bail!("the connection closed"),
            },
            read = stdin.read(&mut input), if stdin_open => match read? {
                0 => {
                    stdin_open = false;
                    if !tty {
                        remote::send(socket, json!({"type": "eof", "stream": STREAM})).await?;
                    }
                }
                n => remote::send_stdin(socket, STREAM, &input[..n]).await?,
            },
            _ = resized.recv(), if tty => {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    let resize = json!({"type": "resize", "stream": STREAM, "cols": cols, "rows": rows});
                    remote::send(socket, resize).await?;
                }
            }
        }
    }
}

/// The exit code of an `exit` of the stream (137 when it has none: killed), 0 for the `end` of
/// a stream that has no code (logs), or the refusal of an `error`; None for anything else.
fn ended(message: &Value) -> anyhow::Result<Option<i32>> {
    if message["stream"] != STREAM {
        return Ok(None);
    }
    match message["type"].as_str() {
        Some("exit") => Ok(Some(message["code"].as_i64().unwrap_or(137) as i32)),
        Some("end") => Ok(Some(0)),
        Some("error") => bail!(
            "{}",
            message["message"].as_str().unwrap_or("the server refused")
        ),
        _ => Ok(None),
    }
}

/// `berth logs [-f] TARGET`: the container's or workspace's output, following it with `-f`.
pub async fn logs(follow: bool, tail: Option<u64>, target: String) -> anyhow::Result<i32> {
    let remote = Remote::new(&credentials::load()?)?;
    let target = remote.target(&target).await?;
    let mut socket = remote.session().await?;
    let (field, name) = target.field();
    let mut request = json!({"type": "logs", "stream": STREAM, "follow": follow});
    request[field] = json!(name);
    if let Some(tail) = tail {
        request["tail"] = json!(tail);
    }
    remote::send(&mut socket, request).await?;
    relay(&mut socket, false, false).await
}

/// A path inside a workspace as the files API takes it (relative to /workspace).
fn in_workspace(path: &str) -> &str {
    let path = path.strip_prefix("/workspace").unwrap_or(path);
    path.trim_start_matches('/')
}

/// `berth cp SRC DST`, one of them `WORKSPACE:PATH`: copies a file into or out of a workspace,
/// byte-exact. A local destination that is a directory gets the file under its own name.
pub async fn cp(source: String, destination: String) -> anyhow::Result<()> {
    let remote = Remote::new(&credentials::load()?)?;
    let remote_side = |arg: &str| {
        arg.split_once(':')
            .filter(|(w, _)| !w.is_empty() && !w.contains('/'))
            .map(|(w, p)| (w.to_string(), p.to_string()))
    };
    let id_of = |workspace: String| {
        let remote = &remote;
        async move {
            remote
                .workspace(&workspace)
                .await?
                .with_context(|| format!("no workspace of yours is called {workspace}"))
        }
    };
    match (remote_side(&source), remote_side(&destination)) {
        (Some(_), Some(_)) => bail!("one of the two must be a local path"),
        (None, None) => bail!("one of the two must be WORKSPACE:PATH"),
        (Some((workspace, path)), None) => {
            let id = id_of(workspace).await?;
            let bytes = remote.read_file(&id, in_workspace(&path)).await?;
            let mut target = std::path::PathBuf::from(&destination);
            if target.is_dir() {
                let name = std::path::Path::new(&path)
                    .file_name()
                    .context("the workspace path names no file")?;
                target.push(name);
            }
            std::fs::write(&target, &bytes)
                .with_context(|| format!("writing {}", target.display()))?;
        }
        (None, Some((workspace, path))) => {
            let id = id_of(workspace).await?;
            let bytes = std::fs::read(&source).with_context(|| format!("reading {source}"))?;
            let mut path = in_workspace(&path).to_string();
            if path.is_empty() || path.ends_with('/') {
                let name = std::path::Path::new(&source)
                    .file_name()
                    .context("the local path names no file")?;
                path.push_str(&name.to_string_lossy());
            }
            remote.write_file(&id, &path, bytes).await?;
        }
    }
    Ok(())
}

/// `berth run WORKSPACE FILE [-- ARGS…]`: runs a file of the workspace as its template says
/// (`.py` with python3, say), with this terminal's input and output; its exit code is berth's.
pub async fn run(workspace: String, file: String, args: Vec<String>) -> anyhow::Result<i32> {
    let remote = Remote::new(&credentials::load()?)?;
    let id = remote
        .workspace(&workspace)
        .await?
        .with_context(|| format!("no workspace of yours is called {workspace}"))?;
    let mut socket = remote.session().await?;
    let request = json!({"type": "run", "stream": STREAM, "workspace": id,
                         "path": in_workspace(&file), "args": args});
    remote::send(&mut socket, request).await?;
    relay(&mut socket, false, true).await
}
