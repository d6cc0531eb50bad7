//! The command-line client (`berth login`, `berth exec`, `berth logs`), run as a person runs it:
//! the real binary, `exec -t` under a real pseudo-terminal (portable-pty), against a real
//! server and engine.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};
use serde_json::Value;

use crate::helpers::{RemoveOnDrop, ServerProcess, PASSWORD};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// `berth login` with the password on stdin, its credentials under `config`.
fn login(
    server: &ServerProcess,
    config: &std::path::Path,
    username: &str,
    password: &str,
) -> std::process::Output {
    let mut child = Command::new(BERTH)
        .args(["login", "--server", &format!("http://{}", server.address)])
        .args(["--username", username, "--password-stdin"])
        .env("XDG_CONFIG_HOME", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// berth in a pseudo-terminal: what it writes is collected, what is typed goes in.
struct Terminal {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    keys: Box<dyn Write + Send>,
    screen: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    fn start(args: &[&str], config: &std::path::Path) -> Terminal {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut command = CommandBuilder::new(BERTH);
        command.args(args);
        command.env("XDG_CONFIG_HOME", config);
        command.env("TERM", "xterm");
        let child = pair.slave.spawn_command(command).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let screen = Arc::new(Mutex::new(Vec::new()));
        let collected = screen.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                collected.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        let keys = pair.master.take_writer().unwrap();
        Terminal {
            child,
            master: pair.master,
            keys,
            screen,
        }
    }

    fn type_bytes(&mut self, bytes: &[u8]) {
        self.keys.write_all(bytes).unwrap();
        self.keys.flush().unwrap();
    }

    /// Waits until the screen, from `from` on, shows `needle`; where it ends.
    async fn shows(&self, needle: &str, from: usize, within: Duration) -> Option<usize> {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            let screen = self.screen.lock().unwrap().clone();
            let text = String::from_utf8_lossy(&screen[from.min(screen.len())..]).into_owned();
            if let Some(at) = text.find(needle) {
                return Some(from + at + needle.len());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    fn seen(&self) -> usize {
        self.screen.lock().unwrap().len()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn login_keeps_the_token_for_its_owner_only_and_a_wrong_password_keeps_nothing() {
    let server = ServerProcess::start(&[]).await;
    server.account("cli-owner").await;
    let config = tempfile::tempdir().unwrap();

    let refused = login(&server, config.path(), "cli-owner", "not-the-password");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("wrong username or password"));
    assert!(!config.path().join("berth/credentials.json").exists());

    let signed_in = login(&server, config.path(), "cli-owner", PASSWORD);
    assert!(
        signed_in.status.success(),
        "{}",
        String::from_utf8_lossy(&signed_in.stderr)
    );
    let file = config.path().join("berth/credentials.json");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&config.path().join("berth")), 0o700);
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let me = server.get("/me", kept["token"].as_str().unwrap()).await;
    assert_eq!(me["username"], "cli-owner");
    // The password is not kept, and the token is not said.
    let said = String::from_utf8_lossy(&signed_in.stderr).into_owned();
    assert!(!std::fs::read_to_string(&file).unwrap().contains(PASSWORD));
    assert!(!said.contains(kept["token"].as_str().unwrap()), "{said}");
}

#[tokio::test]
async fn exec_in_a_real_terminal_is_raw_byte_exact_follows_resizes_and_answers_the_exit_code() {
    let server = ServerProcess::start(&[]).await;
    let token = server.account("cli-typist").await;
    let id = server.container(&token, &["sleep", "600"]).await;
    let _cleanup = RemoveOnDrop(id.clone());
    let name = server.get(&format!("/containers/{id}"), &token).await["name"]
        .as_str()
        .unwrap()
        .to_string();
    let config = tempfile::tempdir().unwrap();
    assert!(login(&server, config.path(), "cli-typist", PASSWORD)
        .status
        .success());

    let mut terminal = Terminal::start(&["exec", "-t", &name, "--", "sh"], config.path());
    terminal.type_bytes(b"stty size\r");
    let at = terminal.shows("24 80", 0, Duration::from_secs(15)).await;
    assert!(at.is_some(), "{}", terminal.text());

    // The window grows: the remote terminal follows (the engine applies it on its own time).
    terminal
        .master
        .resize(PtySize {
            rows: 30,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut followed = None;
    for _ in 0..20 {
        let from = terminal.seen();
        terminal.type_bytes(b"stty size\r");
        followed = terminal
            .shows("30 100", from, Duration::from_millis(500))
            .await;
        if followed.is_some() {
            break;
        }
    }
    assert!(followed.is_some(), "{}", terminal.text());

    // Bytes typed reach the remote process as they are: a control byte and UTF-8.
    let from = terminal.seen();
    terminal.type_bytes(b"od -An -tx1 -N4\r");
    tokio::time::sleep(Duration::from_millis(300)).await;
    terminal.type_bytes(&[0x01, 0xe2, 0x82, 0xac, b'\r']);
    let exact = terminal
        .shows("01 e2 82 ac", from, Duration::from_secs(10))
        .await;
    assert!(exact.is_some(), "{}", terminal.text());

    // Ctrl-C goes to the remote process: a long sleep ends at once, and the shell goes on.
    terminal.type_bytes(b"sleep 100\r");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let from = terminal.seen();
    terminal.type_bytes(&[0x03]);
    terminal.type_bytes(b"echo after-$((1+1))\r");
    let interrupted = terminal
        .shows("after-2", from, Duration::from_secs(10))
        .await;
    assert!(interrupted.is_some(), "{}", terminal.text());

    // The remote exit code is berth's.
    terminal.type_bytes(b"exit 7\r");
    let mut child = terminal.child;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.exit_code(), 7);
}

#[tokio::test]
async fn logs_prints_a_containers_output_and_exec_without_a_terminal_passes_stdin_through() {
    let server = ServerProcess::start(&[]).await;
    let token = server.account("cli-reader").await;
    let id = server
        .container(&token, &["sh", "-c", "echo logged-line; sleep 600"])
        .await;
    let _cleanup = RemoveOnDrop(id.clone());
    let config = tempfile::tempdir().unwrap();
    assert!(login(&server, config.path(), "cli-reader", PASSWORD)
        .status
        .success());

    let mut logs = None;
    for _ in 0..20 {
        let out = Command::new(BERTH)
            .args(["logs", &id])
            .env("XDG_CONFIG_HOME", config.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if String::from_utf8_lossy(&out.stdout).contains("logged-line") {
            logs = Some(out);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(logs.is_some(), "berth logs never showed the line");

    // No terminal: stdin goes through, byte for byte, to its end.
    let mut child = Command::new(BERTH)
        .args(["exec", &id, "--", "sh", "-c", "cat; exit 3"])
        .env("XDG_CONFIG_HOME", config.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let sent: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writing = sent.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&writing).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        out.stdout == sent,
        "{} bytes back of {}",
        out.stdout.len(),
        sent.len()
    );
}

#[tokio::test]
async fn cp_moves_files_in_and_out_of_a_workspace_byte_exact_and_run_answers_the_exit_code() {
    let server = ServerProcess::start(&[]).await;
    let teacher = server.account_with_role("cli-teacher", "teacher").await;
    let template = serde_json::json!({"name": "CLI shell", "image": crate::helpers::IMAGE,
        "memory_mb": 128, "run": {".sh": ["sh", "{file}"]}});
    let made = server.post("/templates", &teacher, template).await;
    assert_eq!(made.status(), 201);
    let template: Value = made.json().await.unwrap();
    let student = server.account("cli-student").await;
    let made = server
        .post(
            "/workspaces",
            &student,
            serde_json::json!({"template": template["id"], "name": "homework"}),
        )
        .await;
    assert_eq!(made.status(), 201);
    let workspace: Value = made.json().await.unwrap();
    let config = tempfile::tempdir().unwrap();
    assert!(login(&server, config.path(), "cli-student", PASSWORD)
        .status
        .success());
    let berth = |args: &[&str]| {
        Command::new(BERTH)
            .args(args)
            .env("XDG_CONFIG_HOME", config.path())
            .output()
            .unwrap()
    };

    // Every byte value, up and back down again.
    let local = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    std::fs::write(local.path().join("data.bin"), &bytes).unwrap();
    let up = berth(&[
        "cp",
        local.path().join("data.bin").to_str().unwrap(),
        "homework:in/data.bin",
    ]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let back = local.path().join("back");
    std::fs::create_dir(&back).unwrap();
    let down = berth(&[
        "cp",
        "homework:/workspace/in/data.bin",
        back.to_str().unwrap(),
    ]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(std::fs::read(back.join("data.bin")).unwrap() == bytes);
    // A workspace that is not the student's is not found.
    let elsewhere = berth(&[
        "cp",
        local.path().join("data.bin").to_str().unwrap(),
        "someone-else:x",
    ]);
    assert!(!elsewhere.status.success());
    assert!(String::from_utf8_lossy(&elsewhere.stderr).contains("no workspace of yours"));

    // A script copied in, run as the template runs `.sh` files.
    std::fs::write(
        local.path().join("hello.sh"),
        "echo run-$((2+3)) \"$1\"; exit 4\n",
    )
    .unwrap();
    let up = berth(&[
        "cp",
        local.path().join("hello.sh").to_str().unwrap(),
        "homework:",
    ]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let ran = berth(&["run", "homework", "hello.sh", "--", "an-argument"]);
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "run-5 an-argument\n");
    assert_eq!(ran.status.code(), Some(4));

    let gone = reqwest::Client::new()
        .delete(format!(
            "http://{}/api/v1/workspaces/{}",
            server.address,
            workspace["id"].as_str().unwrap()
        ))
        .bearer_auth(&student)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
}
