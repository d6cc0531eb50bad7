//! Builds, requested by berth itself: the engine's build API takes a parent cgroup for the step
//! containers (`cgroupparent`, which `docker build --cgroup-parent` sends) that bollard's
//! options leave out, and that parent is where a build's process limit is held.

use bollard::models::BuildInfo;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use tokio_util::codec::{FramedRead, LinesCodec};

use super::cgroup::BuildCgroup;
use super::endpoint::Endpoint;
use super::tty::{engine_error, send_to_engine, unavailable};
use super::Engine;
use crate::error::ApiError;

/// What a build is asked for besides its context.
pub struct BuildSpec {
    pub dockerfile: String,
    pub build_args: std::collections::BTreeMap<String, String>,
    /// The user the image is labelled as built by.
    pub built_by: String,
    /// Limits of each container that runs a step.
    pub memory_mb: u64,
    pub cpus: f64,
}

/// The engine takes a build's memory limit in bytes as a 32-bit number.
const MAX_MEMORY_MB: u64 = (i32::MAX as u64) >> 20;
/// A longer line of the engine's log (one JSON object) is reported as an error, not buffered.
const MAX_LINE_BYTES: usize = 4 << 20;

pub type BuildContext = futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>;

impl Engine {
    /// A cgroup for one build with at most `pids` processes, where berth can make one that the
    /// engine will use: an engine on this machine (a unix socket) whose cgroups are managed as
    /// plain directories (the `cgroupfs` driver). The reason when not.
    pub async fn build_cgroup(&self, pids: u64) -> Result<BuildCgroup, String> {
        if !matches!(self.endpoint, Endpoint::Unix(_)) {
            return Err("the engine is not on berth's machine".into());
        }
        let info = async { self.client().await?.info().await.map_err(ApiError::from) };
        let info = info.await.map_err(|e| e.message)?;
        let driver = info
            .cgroup_driver
            .map(|d| d.to_string())
            .unwrap_or_default();
        if driver != "cgroupfs" {
            return Err(format!(
                "the engine's cgroup driver is {driver:?}, not \"cgroupfs\""
            ));
        }
        let version = info
            .cgroup_version
            .map(|v| v.to_string())
            .unwrap_or_default();
        BuildCgroup::create(&uuid::Uuid::new_v4().simple().to_string(), &version, pids)
    }

    /// Starts building `context` (a tar, sent as it arrives), its steps' containers beneath
    /// `cgroup` when given. Intermediate containers are removed even when a step fails;
    /// dropping the stream ends the request, which stops the build on the engine.
    pub async fn build(
        &self,
        spec: BuildSpec,
        context: BuildContext,
        cgroup: Option<&BuildCgroup>,
    ) -> Result<impl Stream<Item = Result<BuildInfo, ApiError>> + Send + 'static, ApiError> {
        let query = build_query(&spec, cgroup.map(BuildCgroup::parent));
        let body = StreamBody::new(context.map_ok(Frame::data));
        let request = Request::post(format!(
            "/v{}/build?{query}",
            self.api_version_path().await?
        ))
        .header(HOST, "docker")
        .header(CONTENT_TYPE, "application/x-tar")
        .body(body)
        .map_err(|e| ApiError::internal(&e))?;
        let response = send_to_engine(&self.endpoint, request).await?;
        if response.status() != StatusCode::OK {
            return Err(engine_error(response).await);
        }
        let body = http_body_util::BodyDataStream::new(response.into_body())
            .map_err(std::io::Error::other);
        let lines = FramedRead::new(
            tokio_util::io::StreamReader::new(body),
            LinesCodec::new_with_max_length(MAX_LINE_BYTES),
        );
        Ok(lines.filter_map(|line| async move {
            match line {
                Ok(line) if line.trim().is_empty() => None,
                Ok(line) => Some(serde_json::from_str::<BuildInfo>(&line).map_err(|e| {
                    ApiError::internal(&std::io::Error::other(format!("build log: {e}")))
                })),
                Err(tokio_util::codec::LinesCodecError::Io(e)) => Some(Err(unavailable(&e))),
                Err(e) => Some(Err(ApiError::internal(&e))),
            }
        }))
    }
}

/// The build API's query for `spec`.
fn build_query(spec: &BuildSpec, cgroup_parent: Option<&str>) -> String {
    let memory = (spec.memory_mb.min(MAX_MEMORY_MB) << 20).to_string();
    let json = |value: serde_json::Value| value.to_string();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("dockerfile", &spec.dockerfile)
        .append_pair("rm", "1")
        .append_pair("forcerm", "1")
        .append_pair("buildargs", &json(serde_json::json!(spec.build_args)))
        .append_pair(
            "labels",
            &json(serde_json::json!({"berth.built_by": spec.built_by})),
        )
        .append_pair("memory", &memory)
        // No swap beyond the memory limit.
        .append_pair("memswap", &memory)
        .append_pair("cpuperiod", "100000")
        .append_pair("cpuquota", &((spec.cpus * 100_000.0) as i64).to_string());
    if let Some(parent) = cgroup_parent {
        query.append_pair("cgroupparent", parent);
    }
    query.finish()
}
