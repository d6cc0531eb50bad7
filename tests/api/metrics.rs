//! `/metrics`, read by Debian's Prometheus: it scrapes berth's `metrics.listen` address and a
//! value is queried through Prometheus' own API. On the main address, only an admin's token
//! reads it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::ServerProcess;
use crate::sign_in_servers::free_ports;

/// Prometheus on loopback, scraping `target` every second, with its data in a directory of
/// its own.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: berth\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let [port] = free_ports();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs (scripts/setup.sh --test-images installs it)");
        Prometheus {
            child,
            port,
            _dir: dir,
        }
    }

    /// The value of an instant query's first series, if it has one.
    async fn query(&self, promql: &str) -> Option<f64> {
        let answer: Value = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/api/v1/query", self.port))
            .query(&[("query", promql)])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn prometheus_scrapes_berth_and_its_figures_follow_what_happens() {
    let [metrics_port] = free_ports();
    let metrics_at = format!("127.0.0.1:{metrics_port}");
    let server = ServerProcess::start(&[("BERTH_METRICS__LISTEN", &metrics_at)]).await;
    let token = server.account("metered").await;
    let id = server.container(&token, &["sleep", "600"]).await;
    let _cleanup = crate::helpers::RemoveOnDrop(id.clone());
    let prometheus = Prometheus::start(&metrics_at);

    // A session with a shell in it: one session, one exec stream.
    let mut ws = server.ws(&token).await;
    ws.send(serde_json::json!({"type": "exec", "stream": 1, "container": id, "cmd": ["sh"], "tty": false}))
        .await;
    ws.expect("started", 1).await;
    let mut sessions = None;
    let mut execs = None;
    for _ in 0..60 {
        sessions = prometheus.query("berth_sessions").await;
        execs = prometheus.query(r#"berth_streams{kind="exec"}"#).await;
        if sessions == Some(1.0) && execs == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        (sessions, execs),
        (Some(1.0), Some(1.0)),
        "while the shell runs"
    );
    let started = prometheus.query("berth_exec_start_seconds_count").await;
    assert_eq!(started, Some(1.0));
    let logins = prometheus
        .query(r#"sum(berth_http_requests_total{route="/api/v1/auth/login",status="200"})"#)
        .await;
    assert_eq!(logins, Some(1.0));
    assert!(prometheus.query("berth_db_ping_seconds_count").await >= Some(1.0));

    // The session ends: Prometheus sees it go.
    ws.close().await;
    let mut after = None;
    for _ in 0..60 {
        after = prometheus.query("berth_sessions").await;
        if after == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(after, Some(0.0));
}

#[tokio::test]
async fn metrics_on_the_main_address_are_for_admins_and_all_named_berth() {
    let server = ServerProcess::start(&[]).await;
    let admin = server.account_with_role("metrics-admin", "admin").await;
    let student = server.account("metrics-student").await;
    let url = format!("http://{}/metrics", server.address);
    let http = reqwest::Client::new();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    let refused = http.get(&url).bearer_auth(&student).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let text = http
        .get(&url)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("berth_sessions 0"), "{text}");
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect();
    assert!(names.len() > 5, "{text}");
    for name in names {
        assert!(name.starts_with("berth_"), "{name}");
    }
}
