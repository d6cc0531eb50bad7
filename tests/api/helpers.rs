use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth::config::Settings;
use berth::live_sessions::Sessions;
use berth::startup::Application;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub const IMAGE: &str = "berth-test/busybox:1";
/// The password of the accounts `ServerProcess::account` makes.
pub const PASSWORD: &str = "password123";
/// The second engine `scripts/setup.sh --test-images` starts: its socket, its TLS address, and
/// the directory holding its CA and berth's client certificate.
pub const ENGINE2_SOCKET: &str = "unix:///run/berth-test-engine2.sock";
pub const ENGINE2_TLS: &str = "tcp://127.0.0.1:2376";
pub const ENGINE2_TLS_DIR: &str = "/var/lib/berth-test-engine2/tls";

/// The PostgreSQL server `scripts/setup.sh --test-images` starts, as the role the tests use.
pub const TEST_POSTGRES: &str = "postgres://berth:berth-test-password@127.0.0.1:5433";
/// The keys a server on a shared database must be given (it refuses to generate its own).
pub const TEST_JWT_SECRET: &str = "berth-test-signing-secret-of-every-replica";
pub const TEST_SECRET_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// The database a test's server uses: a SQLite file in its data dir (the default), or, when
/// `BERTH_TEST_DATABASE=postgres`, a database of its own on the test PostgreSQL, dropped when
/// the test ends. `scripts/test.sh` runs the integration tests both ways.
pub struct TestDatabase {
    url: String,
    postgres_name: Option<String>,
    /// Whether it goes when this goes (a replica's is its first replica's).
    owned: bool,
}

impl TestDatabase {
    pub fn for_data_dir(data_dir: &std::path::Path) -> TestDatabase {
        if std::env::var("BERTH_TEST_DATABASE").as_deref() != Ok("postgres") {
            let file = data_dir.join("berth.db");
            return TestDatabase {
                url: format!("sqlite://{}", file.display()),
                postgres_name: None,
                owned: true,
            };
        }
        Self::postgres()
    }

    /// A new, empty database on the test PostgreSQL.
    pub fn postgres() -> TestDatabase {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        psql(&format!("CREATE DATABASE {name}"));
        TestDatabase {
            url: format!("{TEST_POSTGRES}/{name}"),
            postgres_name: Some(name),
            owned: true,
        }
    }

    /// The same database, for another replica: it stays when this goes.
    pub fn shared(&self) -> TestDatabase {
        TestDatabase {
            url: self.url.clone(),
            postgres_name: self.postgres_name.clone(),
            owned: false,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres_name.is_some()
    }

    /// Everything the database holds, as bytes to search: the SQLite file (and its WAL), or
    /// `pg_dump`'s text.
    pub fn contents(&self) -> Vec<u8> {
        match &self.postgres_name {
            None => {
                let file = self.url.trim_start_matches("sqlite://");
                let mut all = std::fs::read(file).unwrap();
                all.extend(std::fs::read(format!("{file}-wal")).unwrap_or_default());
                all
            }
            Some(_) => {
                let out = Command::new("pg_dump")
                    .arg(&self.url)
                    .output()
                    .expect("pg_dump runs");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let (Some(name), true) = (&self.postgres_name, self.owned) {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            // FORCE may not end an autovacuum worker on the database (replicas' heartbeats
            // leave it dead rows to clean): it is done in a moment, and the drop tried again.
            for _ in 0..50 {
                match try_psql(&drop) {
                    Err(e) if e.contains("pg_signal_backend") => {
                        std::thread::sleep(Duration::from_millis(100))
                    }
                    done => return done.unwrap_or_else(|e| panic!("{drop}: {e}")),
                }
            }
            psql(&drop);
        }
    }
}

/// The keys' settings, for a server process on a shared database.
fn shared_database_keys(database_url: &str) -> Vec<(&'static str, &'static str)> {
    if database_url.starts_with("postgres") {
        vec![
            ("BERTH_JWT_SECRET", TEST_JWT_SECRET),
            ("BERTH_SECRET_KEY", TEST_SECRET_KEY),
        ]
    } else {
        Vec::new()
    }
}

/// Runs one statement on the test PostgreSQL as the tests' role.
fn psql(statement: &str) {
    if let Err(e) = try_psql(statement) {
        panic!("{statement}: {e}");
    }
}

/// As [`psql`]; what PostgreSQL said when it failed.
fn try_psql(statement: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .arg(format!("{TEST_POSTGRES}/postgres"))
        .args(["-qtA", "-v", "ON_ERROR_STOP=1", "-c", statement])
        .output()
        .expect("psql runs (scripts/setup.sh --test-images installs PostgreSQL)");
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

pub struct TestApp {
    pub address: SocketAddr,
    pub http: reqwest::Client,
    pub sessions: std::sync::Arc<Sessions>,
    pub database: TestDatabase,
    pub data_dir: tempfile::TempDir,
    /// Containers to remove when the test ends, with the engine (`-H`) they are on.
    containers: Mutex<Vec<(Option<String>, String)>>,
    /// Volumes (on the local engine) to remove when the test ends, after the containers.
    volumes: Mutex<Vec<String>>,
    /// Images (on the local engine) the test made, removed after the containers.
    images: Mutex<Vec<String>>,
}

pub struct TestUser {
    pub id: String,
    pub username: String,
    pub password: String,
    pub token: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the real application on a free port with a fresh data dir.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let _ = tracing_subscriber_init();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().to_path_buf(),
        ..Settings::default()
    };
    // The tests make their accounts by registering.
    settings.auth.registration = berth::config::Registration::Open;
    let database = TestDatabase::for_data_dir(data_dir.path());
    settings.database_url = Some(database.url().to_string());
    if database.is_postgres() {
        settings.jwt_secret = Some(TEST_JWT_SECRET.into());
        settings.secret_key = Some(TEST_SECRET_KEY.into());
    }
    adjust(&mut settings);
    start_app(settings, database, data_dir).await
}

/// `n` replicas of berth on one PostgreSQL database, each with a data dir of its own, as an
/// institution runs them behind its load balancer. The first one's database is dropped last.
pub async fn spawn_replicas(n: usize) -> Vec<TestApp> {
    spawn_replicas_with(n, |_, _| {}).await
}

/// [`spawn_replicas`], replica `i`'s settings changed by `edit(i, …)` first.
pub async fn spawn_replicas_with(n: usize, edit: impl Fn(usize, &mut Settings)) -> Vec<TestApp> {
    let database = TestDatabase::postgres();
    let mut replicas = Vec::new();
    for _ in 0..n {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.path().to_path_buf(),
            database_url: Some(database.url().to_string()),
            jwt_secret: Some(TEST_JWT_SECRET.into()),
            secret_key: Some(TEST_SECRET_KEY.into()),
            ..Settings::default()
        };
        settings.auth.registration = berth::config::Registration::Open;
        edit(replicas.len(), &mut settings);
        replicas.push(start_app(settings, database.shared(), data_dir).await);
    }
    // The owning handle goes with the first replica: the database is dropped WITH (FORCE), so
    // the replicas still running simply lose their connections as they stop.
    replicas[0].database = database;
    replicas
}

async fn start_app(
    settings: Settings,
    database: TestDatabase,
    data_dir: tempfile::TempDir,
) -> TestApp {
    let app = Application::build(settings).await.expect("app builds");
    let address = app.address();
    let sessions = app.sessions();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        // Idle connections go before the server's keep-alive (5 s) would close them, so that a
        // request is never sent on one the server is closing at that moment.
        http: reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
        sessions,
        database,
        data_dir,
        containers: Mutex::new(Vec::new()),
        volumes: Mutex::new(Vec::new()),
        images: Mutex::new(Vec::new()),
    }
}

fn tracing_subscriber_init() -> Option<()> {
    std::env::var("TEST_LOG")
        .ok()
        .map(|_| berth::telemetry::init())
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for (engine, id) in self.containers.lock().unwrap().drain(..) {
            let _ = docker_cli(engine.as_deref())
                .args(["rm", "-f", &id])
                .output();
        }
        for volume in self.volumes.lock().unwrap().drain(..) {
            let _ = docker_cli(None)
                .args(["volume", "rm", "-f", &volume])
                .output();
        }
        for image in self.images.lock().unwrap().drain(..) {
            let _ = docker_cli(None).args(["rmi", "-f", &image]).output();
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// The keys' settings a `berth` command beside this server needs on its database.
    pub fn database_keys(&self) -> Vec<(&'static str, &'static str)> {
        shared_database_keys(self.database.url())
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn post_bytes(&self, path: &str, token: &str, body: Vec<u8>) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/x-tar")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
        let mut req = self.http.patch(self.url(path)).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.delete(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    pub async fn register(&self, username: &str, password: &str) -> reqwest::Response {
        self.post(
            "/api/v1/auth/register",
            None,
            json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// A fresh student account, logged in.
    pub async fn new_user(&self) -> TestUser {
        let username = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let password = "correct horse battery".to_string();
        let created: Value = self
            .register(&username, &password)
            .await
            .json()
            .await
            .unwrap();
        let login: Value = self.login(&username, &password).await.json().await.unwrap();
        TestUser {
            id: created["id"].as_str().unwrap().to_string(),
            username,
            password,
            token: login["access_token"].as_str().unwrap().to_string(),
        }
    }

    /// A fresh account with `role`, created as `berth user create` does, logged in.
    pub async fn new_user_with_role(&self, role: berth::users::Role) -> TestUser {
        let username = format!(
            "{}{}",
            role.as_str(),
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        let password = "correct horse battery".to_string();
        let db = berth::db::connect(self.database.url()).await.unwrap();
        let user = berth::users::create(&db, &username, &password, role)
            .await
            .unwrap();
        db.close().await;
        let login: Value = self.login(&username, &password).await.json().await.unwrap();
        TestUser {
            id: user.id,
            username,
            password,
            token: login["access_token"].as_str().unwrap().to_string(),
        }
    }

    /// Creates and starts a container of the test image running `cmd`.
    pub async fn running_container(&self, user: &TestUser, cmd: &[&str]) -> String {
        self.running_container_with(user, json!({"image": IMAGE, "cmd": cmd}))
            .await
    }

    pub async fn running_container_with(&self, user: &TestUser, spec: Value) -> String {
        let response = self
            .post("/api/v1/containers", Some(&user.token), spec)
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        let id = body["id"].as_str().unwrap().to_string();
        self.track(&id);
        let path = format!("/api/v1/containers/{id}/start");
        let response = self.post(&path, Some(&user.token), json!({})).await;
        assert_eq!(response.status(), 200);
        id
    }

    /// Removes the container when the test ends.
    pub fn track(&self, id: &str) {
        self.track_on(None, id);
    }

    /// Removes the image (with every tag it has) when the test ends.
    pub fn track_image(&self, id: &str) {
        self.images.lock().unwrap().push(id.to_string());
    }

    /// Removes the volume when the test ends.
    pub fn track_volume(&self, name: &str) {
        self.volumes.lock().unwrap().push(name.to_string());
    }

    /// Removes the container on engine `docker_host` (None: the local one) when the test ends.
    pub fn track_on(&self, docker_host: Option<&str>, id: &str) {
        self.containers
            .lock()
            .unwrap()
            .push((docker_host.map(str::to_string), id.to_string()));
    }

    pub async fn ws(&self, token: &str) -> Ws {
        Ws::connect(&self.address.to_string(), token).await
    }
}

/// The docker CLI, pointed at `docker_host` (None: the local engine).
pub fn docker_cli(docker_host: Option<&str>) -> Command {
    let mut command = Command::new("docker");
    if let Some(host) = docker_host {
        command.args(["-H", host]);
    }
    command
}

/// Processes in a container whose command line contains `needle`, as `docker top` lists them.
pub fn processes_matching(container: &str, needle: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["top", container, "-o", "pid,stat,args"])
        .output()
        .expect("docker top runs");
    // A container that is gone has no processes, but says nothing about whether any were
    // killed: a test must not pass on that.
    assert!(
        out.status.success(),
        "docker top {container}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter(|l| {
            l.contains(needle) && !l.split_whitespace().nth(1).unwrap_or("").starts_with('Z')
        })
        .map(str::to_string)
        .collect()
}

/// Polls until `check` holds or `within` passes; returns how long it took.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if check() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Samples every 250 ms until two samples in a row `agree`, or `within` passes; the last
/// sample. For what settles rather than turns true: memory, descriptors, bytes passed.
pub async fn settled<T>(
    within: Duration,
    mut sample: impl FnMut() -> T,
    agree: impl Fn(&T, &T) -> bool,
) -> T {
    let start = Instant::now();
    let mut last = sample();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = sample();
        if agree(&last, &now) || start.elapsed() >= within {
            return now;
        }
        last = now;
    }
}

/// Two memory samples (KiB) within half a MiB of each other.
pub fn close_kib(a: &u64, b: &u64) -> bool {
    a.abs_diff(*b) < 512
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A protocol-v1 client, as a browser would be.
pub struct Ws {
    socket: Socket,
    pub hello: Value,
}

impl std::fmt::Debug for Ws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ws({})", self.hello)
    }
}

/// What a client saw of one exec stream.
#[derive(Default, Debug)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: Option<i64>,
    /// The `exit` message itself.
    pub exit: Option<Value>,
    pub errors: Vec<Value>,
}

#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Bytes(u8, u8, Vec<u8>),
    Closed(Option<String>),
}

impl Ws {
    /// A session on the server at `address`, authenticated by a bearer token.
    pub async fn connect(address: &str, token: &str) -> Ws {
        let mut request = format!("ws://{address}/api/v1/ws")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        Ws::open(request).await.expect("WebSocket opens")
    }

    /// As [`Ws::connect`], None when the server does not take the session (or is gone).
    #[allow(dead_code)]
    pub async fn try_connect(address: &str, token: &str) -> Option<Ws> {
        let mut request = format!("ws://{address}/api/v1/ws")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().ok()?);
        Ws::open(request).await.ok()
    }

    pub async fn open(
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ws::opened(socket).await
    }

    /// A session over TLS (`wss://`), trusting what `connector` trusts.
    #[allow(dead_code)]
    pub async fn open_with(
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
        connector: tokio_tungstenite::Connector,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let (socket, _) =
            tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector))
                .await?;
        Ws::opened(socket).await
    }

    async fn opened(socket: Socket) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut ws = Ws {
            socket,
            hello: Value::Null,
        };
        match ws.next().await {
            Frame::Json(hello) => ws.hello = hello,
            _ => panic!("no hello"),
        }
        Ok(ws)
    }

    pub async fn send(&mut self, value: Value) {
        self.socket
            .send(Message::text(value.to_string()))
            .await
            .expect("frame sent");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::text(text))
            .await
            .expect("frame sent");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.socket
            .send(Message::binary(bytes))
            .await
            .expect("frame sent");
    }

    /// Sends one text message as fragments: the first frame, then continuation frames.
    pub async fn send_fragments(&mut self, parts: &[&[u8]]) {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        for (n, part) in parts.iter().enumerate() {
            let opcode = OpCode::Data(if n == 0 { Data::Text } else { Data::Continue });
            let frame = Frame::message(part.to_vec(), opcode, n + 1 == parts.len());
            if self.socket.send(Message::Frame(frame)).await.is_err() {
                return; // the server may close the connection before the last fragment
            }
        }
    }

    pub async fn stdin(&mut self, stream: u8, bytes: &[u8]) {
        let mut frame = vec![stream, 0];
        frame.extend_from_slice(bytes);
        self.send_binary(frame).await;
    }

    /// The next data or control frame, within 10 s.
    pub async fn next(&mut self) -> Frame {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("a frame within the time limit")
    }

    pub async fn next_within(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            return Some(match message {
                Some(Ok(Message::Text(t))) => Frame::Json(serde_json::from_str(&t).expect("JSON")),
                Some(Ok(Message::Binary(b))) => {
                    assert!(b.len() >= 2, "binary frame without header");
                    Frame::Bytes(b[0], b[1], b[2..].to_vec())
                }
                Some(Ok(Message::Close(reason))) => {
                    Frame::Closed(reason.map(|r| r.reason.to_string()))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Frame::Closed(None),
            });
        }
    }

    /// The next JSON message, skipping output bytes.
    pub async fn next_json(&mut self) -> Value {
        loop {
            match self.next().await {
                Frame::Json(v) => return v,
                Frame::Bytes(..) => continue,
                Frame::Closed(r) => panic!("socket closed: {r:?}"),
            }
        }
    }

    /// Waits for a JSON message of `kind` on `stream`, keeping nothing else.
    pub async fn expect(&mut self, kind: &str, stream: u8) -> Value {
        loop {
            let v = self.next_json().await;
            if v["type"] == kind && v["stream"] == stream {
                return v;
            }
            assert!(
                !(v["type"] == "error" && v["stream"] == stream),
                "stream {stream} failed: {v}"
            );
        }
    }

    /// Starts an exec and waits until it has started.
    pub async fn exec(&mut self, stream: u8, container: &str, cmd: &[&str], tty: bool) {
        self.send(json!({"type": "exec", "stream": stream, "container": container, "cmd": cmd, "tty": tty, "cols": 80, "rows": 24}))
            .await;
        self.expect("started", stream).await;
    }

    /// Collects the stream's output until its `exit` (or an error).
    pub async fn collect(&mut self, stream: u8) -> ExecOutput {
        let mut out = ExecOutput::default();
        loop {
            match self.next().await {
                Frame::Bytes(s, 1, bytes) if s == stream => out.stdout.extend(bytes),
                Frame::Bytes(s, 2, bytes) if s == stream => out.stderr.extend(bytes),
                Frame::Json(v) if v["stream"] == stream && v["type"] == "exit" => {
                    out.code = v["code"].as_i64();
                    out.exit = Some(v);
                    return out;
                }
                Frame::Json(v) if v["stream"] == stream && v["type"] == "error" => {
                    out.errors.push(v);
                    return out;
                }
                Frame::Closed(r) => panic!("socket closed: {r:?}"),
                _ => {}
            }
        }
    }

    /// Reads stdout of `stream` until it contains `needle`; returns everything read.
    pub async fn read_until(&mut self, stream: u8, needle: &str) -> String {
        let mut seen = Vec::new();
        loop {
            match self.next().await {
                Frame::Bytes(s, _, bytes) if s == stream => {
                    seen.extend(bytes);
                    if String::from_utf8_lossy(&seen).contains(needle) {
                        return String::from_utf8_lossy(&seen).to_string();
                    }
                }
                Frame::Json(v)
                    if v["stream"] == stream && (v["type"] == "exit" || v["type"] == "error") =>
                {
                    panic!(
                        "stream ended before {needle:?} appeared: {v}; saw {:?}",
                        String::from_utf8_lossy(&seen)
                    )
                }
                Frame::Closed(r) => panic!("socket closed: {r:?}"),
                _ => {}
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }

    /// Closes the session as a browser does and waits for the server's side of the closing
    /// handshake and the end of the connection; how long that took.
    pub async fn close_and_wait(mut self) -> Duration {
        let start = Instant::now();
        let _ = self.socket.close(None).await;
        while let Some(Ok(_)) = self.socket.next().await {}
        start.elapsed()
    }

    /// Drops the TCP connection without a closing handshake, as a killed browser tab does.
    pub fn abandon(self) {
        drop(self.socket);
    }

    /// Keeps the connection open but never reads again, so pings go unanswered.
    pub fn into_silent(self) -> Socket {
        self.socket
    }
}

/// The real binary in its own process, so its memory can be read.
pub struct ServerProcess {
    pub child: Child,
    pub address: String,
    pub database: TestDatabase,
    _data: tempfile::TempDir,
    log_dir: Option<tempfile::TempDir>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    pub async fn start(env: &[(&str, &str)]) -> ServerProcess {
        Self::spawn(None, env, Stdio::null()).await
    }

    /// On `port`, for settings that must name the server's address before it starts.
    #[allow(dead_code)]
    pub async fn start_at(port: u16, env: &[(&str, &str)]) -> ServerProcess {
        Self::spawn(Some(port), env, Stdio::null()).await
    }

    /// `n` processes of berth on one new PostgreSQL database, each with a data dir of its own:
    /// replicas that can be killed as a crash would. The last one owns the database.
    #[allow(dead_code)]
    pub async fn replicas(n: usize, env: &[(&str, &str)]) -> Vec<ServerProcess> {
        let mut database = Some(TestDatabase::postgres());
        let mut replicas = Vec::new();
        for i in 0..n {
            let data = tempfile::tempdir().unwrap();
            let address = format!("127.0.0.1:{}", free_port());
            let shared = database.as_ref().unwrap().shared();
            let database = match i + 1 == n {
                true => database.take().unwrap(),
                false => shared,
            };
            let child = Self::serve(&address, data.path(), database.url(), env, Stdio::null());
            replicas.push(ServerProcess {
                child,
                address,
                database,
                _data: data,
                log_dir: None,
            });
        }
        for replica in &replicas {
            replica.wait_until_up().await;
        }
        replicas
    }

    /// Starts the server with its log (stderr) kept in a file in its data dir.
    pub async fn start_logging(env: &[(&str, &str)]) -> ServerProcess {
        let data = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(data.path().join("server.log")).unwrap();
        let mut server = Self::spawn(None, env, Stdio::from(log)).await;
        server.log_dir = Some(data);
        server
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._data.path()
    }

    /// Stops the server (SIGTERM) and returns what it logged.
    pub fn stop_and_read_log(&mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let dir = self.log_dir.as_ref().expect("started with start_logging");
        std::fs::read_to_string(dir.path().join("server.log")).unwrap()
    }

    async fn spawn(port: Option<u16>, env: &[(&str, &str)], stderr: Stdio) -> ServerProcess {
        let data = tempfile::tempdir().unwrap();
        let port = port.unwrap_or_else(free_port);
        let address = format!("127.0.0.1:{port}");
        let database = TestDatabase::for_data_dir(data.path());
        let child = Self::serve(&address, data.path(), database.url(), env, stderr);
        let server = ServerProcess {
            child,
            address,
            database,
            _data: data,
            log_dir: None,
        };
        server.wait_until_up().await;
        server
    }

    fn serve(
        address: &str,
        data: &std::path::Path,
        database_url: &str,
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Child {
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["serve", "--listen", address, "--data-dir"])
            .arg(data)
            .env("RUST_LOG", "warn")
            .env("BERTH_DATABASE_URL", database_url)
            .envs(shared_database_keys(database_url))
            // The tests make their accounts by registering.
            .env("BERTH_AUTH__REGISTRATION", "open")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    }

    /// Kills the server with SIGKILL, as a crash would, and starts it again on the same
    /// address and data dir.
    #[allow(dead_code)]
    pub async fn crash_and_restart(&mut self, env: &[(&str, &str)]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let url = self.database.url().to_string();
        self.child = Self::serve(&self.address, self._data.path(), &url, env, Stdio::null());
        self.wait_until_up().await;
    }

    async fn wait_until_up(&self) {
        for _ in 0..100 {
            if reqwest::get(format!("http://{}/healthz", self.address))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server did not start");
    }

    /// Registers and logs in an account; returns its token.
    pub async fn account(&self, username: &str) -> String {
        let creds = json!({"username": username, "password": PASSWORD});
        let registered = reqwest::Client::new()
            .post(format!("http://{}/api/v1/auth/register", self.address))
            .json(&creds)
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), 201);
        self.login(username).await
    }

    /// Creates an account with `role` through `berth user create` beside the running server,
    /// and logs it in; returns its token. (The benchmarks use it.)
    #[allow(dead_code)]
    pub async fn account_with_role(&self, username: &str, role: &str) -> String {
        let created = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args([
                "user",
                "create",
                "--username",
                username,
                "--password",
                PASSWORD,
            ])
            .args(["--role", role, "--data-dir"])
            .arg(self.data_dir())
            .env("RUST_LOG", "warn")
            .env("BERTH_DATABASE_URL", self.database.url())
            .envs(shared_database_keys(self.database.url()))
            .output()
            .unwrap();
        assert!(created.status.success());
        self.login(username).await
    }

    async fn login(&self, username: &str) -> String {
        let login: Value = reqwest::Client::new()
            .post(format!("http://{}/api/v1/auth/login", self.address))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        login["access_token"].as_str().unwrap().to_string()
    }

    /// Creates and starts a container of the test image; the caller removes it.
    pub async fn container(&self, token: &str, cmd: &[&str]) -> String {
        self.container_with(token, json!({"image": IMAGE, "cmd": cmd}))
            .await
    }

    /// GETs `path` (under `/api/v1`) as `token`: the JSON of a 200 answer.
    #[allow(dead_code)]
    pub async fn get(&self, path: &str, token: &str) -> Value {
        let answer = reqwest::Client::new()
            .get(format!("http://{}/api/v1{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "GET {path}");
        answer.json().await.unwrap()
    }

    /// POSTs `body` to `path` (under `/api/v1`) as `token`.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("http://{}/api/v1{path}", self.address))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates and starts a container as `spec` says; the caller removes it.
    pub async fn container_with(&self, token: &str, spec: Value) -> String {
        let http = reqwest::Client::new();
        let base = format!("http://{}/api/v1", self.address);
        let created: Value = self
            .post("/containers", token, spec)
            .await
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_string();
        let started = http
            .post(format!("{base}/containers/{id}/start"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 200);
        id
    }

    pub async fn ws(&self, token: &str) -> Ws {
        Ws::connect(&self.address, token).await
    }

    /// Resident memory of the server process.
    pub fn rss_kib(&self) -> u64 {
        rss_kib_of(self.child.id()).unwrap()
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The resident memory of process `pid`, in KiB; None once it is gone.
#[allow(dead_code)]
pub fn rss_kib_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

/// Removes a container when dropped, however the test or benchmark ends.
pub struct RemoveOnDrop(pub String);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}
