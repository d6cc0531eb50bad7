//! Files in a container through the engine's archive API, which works whether the container
//! runs or not: what a path is (without following a final symlink), a path's contents as a tar,
//! and a tar unpacked into a directory.

use base64::Engine as _;
use bytes::Bytes;
use futures_util::Stream;
use http_body_util::Full;
use hyper::header::HOST;
use hyper::{Request, StatusCode};
use serde::Deserialize;

use super::{tty, Engine};
use crate::error::ApiError;

/// Go's `os.FileMode` bits, as the engine reports modes.
const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;

/// What the engine says of a path.
#[derive(Debug, Deserialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    pub fn is_dir(&self) -> bool {
        self.mode & MODE_DIR != 0
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & MODE_SYMLINK != 0
    }
}

impl Engine {
    /// The path's kind, size and time, or None when there is nothing there. A symlink at the
    /// end of the path is described, not followed.
    pub async fn stat_path(
        &self,
        container: &str,
        path: &str,
    ) -> Result<Option<PathStat>, ApiError> {
        let query: String = url_query(&[("path", path)]);
        let request = Request::head(format!(
            "/v{}/containers/{container}/archive?{query}",
            self.api_version_path().await?
        ))
        .header(HOST, "docker")
        .body(Full::new(Bytes::new()))
        .map_err(|e| ApiError::internal(&e))?;
        let response = tty::send_to_engine(&self.endpoint, request).await?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(tty::engine_error(response).await),
        }
        let header = response
            .headers()
            .get("X-Docker-Container-Path-Stat")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let json = base64::engine::general_purpose::STANDARD
            .decode(header)
            .map_err(|e| ApiError::internal(&e))?;
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| ApiError::internal(&e))
    }

    /// A tar of the path (a file, or a directory and all below it), streamed.
    pub async fn download(
        &self,
        container: &str,
        path: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, bollard::errors::Error>> + use<>, ApiError> {
        let options = bollard::query_parameters::DownloadFromContainerOptions {
            path: path.to_string(),
        };
        Ok(self
            .client()
            .await?
            .download_from_container(container, Some(options)))
    }

    /// Unpacks a tar into the directory `dir` (which must exist).
    pub async fn upload(
        &self,
        container: &str,
        dir: &str,
        tar: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    ) -> Result<(), ApiError> {
        let options = bollard::query_parameters::UploadToContainerOptions {
            path: dir.to_string(),
            no_overwrite_dir_non_dir: Some("true".to_string()),
            ..Default::default()
        };
        self.client()
            .await?
            .upload_to_container(container, Some(options), bollard::body_try_stream(tar))
            .await?;
        Ok(())
    }
}

fn url_query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().copied())
        .finish()
}
