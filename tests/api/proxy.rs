//! Proxies a test puts in front of a Docker engine or a registry, to make it go away, hang or
//! crawl. They run on a runtime of their own, as the separate processes they replace did, so a
//! test that blocks its thread (running `docker`, say) does not stall them.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| Runtime::new().unwrap());

/// Runs `task` on the proxies' runtime until `run` is cancelled.
fn spawn_until(run: &CancellationToken, task: impl Future<Output = ()> + Send + 'static) {
    RUNTIME.spawn(run.clone().run_until_cancelled_owned(task));
}

/// A unix socket in front of the local engine's, which a test can stop, serve again on the same
/// path, or make hang.
pub struct EngineProxy {
    dir: tempfile::TempDir,
    hung: watch::Sender<bool>,
    /// The current run: dropping it closes the listener and cuts its connections.
    run: Option<DropGuard>,
}

impl EngineProxy {
    pub fn start() -> EngineProxy {
        let mut proxy = EngineProxy {
            dir: tempfile::tempdir().unwrap(),
            hung: watch::channel(false).0,
            run: None,
        };
        proxy.restart();
        proxy
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    pub fn url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Serves on the socket (again).
    pub fn restart(&mut self) {
        let run = CancellationToken::new();
        let listener = std::os::unix::net::UnixListener::bind(self.socket()).unwrap();
        listener.set_nonblocking(true).unwrap();
        let hung = self.hung.subscribe();
        let connections = run.clone();
        spawn_until(&run, async move {
            let listener = UnixListener::from_std(listener).unwrap();
            while let Ok((mut client, _)) = listener.accept().await {
                let hung = hung.clone();
                spawn_until(&connections, async move {
                    let Ok(mut engine) = UnixStream::connect("/var/run/docker.sock").await else {
                        return;
                    };
                    let (from_client, to_client) = client.split();
                    let (from_engine, to_engine) = engine.split();
                    tokio::join!(
                        pass(from_client, to_engine, hung.clone()),
                        pass(from_engine, to_client, hung),
                    );
                });
            }
        });
        self.run = Some(run.drop_guard());
    }

    /// Stops answering: the socket goes away and the connections through it are cut.
    pub fn stop(&mut self) {
        self.run = None;
        let _ = std::fs::remove_file(self.socket());
    }

    /// While hung, connections are accepted and held, but nothing passes either way.
    pub fn hang(&self, hang: bool) {
        self.hung.send_replace(hang);
    }
}

/// Passes bytes from `from` to `to`, holding each chunk while the proxy hangs, until `from`
/// ends; then ends `to` the same way.
async fn pass(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut hung: watch::Receiver<bool>,
) {
    let mut chunk = vec![0; 65536];
    while let Ok(n @ 1..) = from.read(&mut chunk).await {
        if hung.wait_for(|hung| !hung).await.is_err() || to.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// A loopback TCP proxy that passes at most `RATE` bytes a second each way and counts the bytes
/// it passed, so a test can see a transfer in flight, and see it stop. Dropping it stops it.
pub struct SlowProxy {
    pub address: String,
    passed: Arc<AtomicU64>,
    _run: DropGuard,
}

impl SlowProxy {
    const RATE: u64 = 2 << 20;

    pub fn start(upstream: &str) -> SlowProxy {
        let run = CancellationToken::new();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let passed = Arc::new(AtomicU64::new(0));
        let (counted, upstream, connections) = (passed.clone(), upstream.to_string(), run.clone());
        spawn_until(&run, async move {
            let listener = TcpListener::from_std(listener).unwrap();
            while let Ok((mut client, _)) = listener.accept().await {
                let (counted, upstream) = (counted.clone(), upstream.clone());
                spawn_until(&connections, async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (from_client, to_client) = client.split();
                    let (from_server, to_server) = server.split();
                    // Either way ending ends the connection.
                    tokio::select! {
                        _ = crawl(from_client, to_server, &counted) => {}
                        _ = crawl(from_server, to_client, &counted) => {}
                    }
                });
            }
        });
        SlowProxy {
            address,
            passed,
            _run: run.drop_guard(),
        }
    }

    /// Bytes passed so far, both ways.
    pub fn passed(&self) -> u64 {
        self.passed.load(Ordering::Relaxed)
    }
}

/// Passes bytes from `from` to `to` at `SlowProxy::RATE` at most, counting them in `passed`,
/// until either end fails or `from` ends.
async fn crawl(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    passed: &AtomicU64,
) {
    let mut chunk = vec![0; 16384];
    while let Ok(n @ 1..) = from.read(&mut chunk).await {
        passed.fetch_add(n as u64, Ordering::Relaxed);
        if to.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        let pause = n as f64 / SlowProxy::RATE as f64;
        tokio::time::sleep(Duration::from_secs_f64(pause)).await;
    }
}
