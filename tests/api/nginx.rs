//! Debian's nginx running deploy/nginx.conf, its ports, upstreams and certificate swapped for
//! the test's: in front of one berth (tests/api/deploy.rs) or of several replicas.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::sign_in_servers::{free_ports, LDAP_TLS_DIR};

pub struct Nginx {
    child: Child,
    pub http_port: u16,
    pub https_port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// deploy/nginx.conf in front of berth at `upstreams` (one, or each replica), with the
    /// test certificate for 127.0.0.1 (scripts/setup.sh makes it, with its CA).
    pub async fn start(upstreams: &[&str]) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let [http_port, https_port] = free_ports();
        let site =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
                .unwrap();
        let mut swapped = site.clone();
        for (given, ours) in [
            (
                "server 127.0.0.1:8080;",
                upstreams
                    .iter()
                    .map(|upstream| format!("server {upstream};"))
                    .collect::<Vec<_>>()
                    .join("\n    "),
            ),
            ("listen 80;", format!("listen 127.0.0.1:{http_port};")),
            (
                "listen 443 ssl http2;",
                format!("listen 127.0.0.1:{https_port} ssl http2;"),
            ),
            (
                "/etc/ssl/berth/fullchain.pem",
                format!("{LDAP_TLS_DIR}/cert.pem"),
            ),
            (
                "/etc/ssl/berth/privkey.pem",
                format!("{LDAP_TLS_DIR}/key.pem"),
            ),
        ] {
            assert!(
                swapped.contains(given),
                "deploy/nginx.conf no longer says {given}"
            );
            swapped = swapped.replace(given, &ours);
        }
        std::fs::write(dir.path().join("berth.conf"), swapped).unwrap();
        let path = dir.path().display();
        let main = format!(
            "daemon off;\nuser root;\nworker_processes 1;\npid {path}/nginx.pid;\n\
             error_log {path}/error.log warn;\nevents {{}}\n\
             http {{\n  access_log off;\n  client_body_temp_path {path}/body;\n\
             proxy_temp_path {path}/proxy;\n  fastcgi_temp_path {path}/fastcgi;\n\
             uwsgi_temp_path {path}/uwsgi;\n  scgi_temp_path {path}/scgi;\n\
             include {path}/berth.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs (scripts/setup.sh --test-images installs it)");
        let log = dir.path().join("error.log");
        let nginx = Nginx {
            child,
            http_port,
            https_port,
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", https_port))
                .await
                .is_ok()
            {
                return nginx;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(log).unwrap_or_default();
        panic!("nginx did not start: {log}");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what nginx said of it.
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self._dir.path().join("error.log"));
            eprintln!("nginx's error log:\n{}", log.unwrap_or_default());
        }
    }
}
