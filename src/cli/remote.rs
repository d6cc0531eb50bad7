//! The server as the command line reaches it: the REST API with the stored token, and a
//! WebSocket session (the token in the upgrade's `Authorization` header, never in the URL).

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::credentials::Credentials;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a command names: a container (by name or id), or one of the user's workspaces (by id
/// or name).
pub enum Target {
    Container(String),
    Workspace(String),
}

impl Target {
    /// The field of an `exec` or `logs` message that names it.
    pub fn field(&self) -> (&'static str, &str) {
        match self {
            Target::Container(c) => ("container", c),
            Target::Workspace(w) => ("workspace", w),
        }
    }
}

pub struct Remote {
    http: reqwest::Client,
    base: url::Url,
    token: String,
}

/// The server's `{error: {message}}`, else its status.
async fn refusal(response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match body["error"]["message"].as_str() {
        Some(message) => anyhow::anyhow!("{message} ({status})"),
        None => anyhow::anyhow!("the server answered {status}"),
    }
}

/// Signs in: a token for `username`.
pub async fn sign_in(server: &str, username: &str, password: &str) -> anyhow::Result<String> {
    let base = url::Url::parse(server).with_context(|| format!("{server} is not a URL"))?;
    let response = reqwest::Client::new()
        .post(base.join("/api/v1/auth/login")?)
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .with_context(|| format!("{server} does not answer"))?;
    if !response.status().is_success() {
        return Err(refusal(response).await);
    }
    let body: Value = response.json().await?;
    body["access_token"]
        .as_str()
        .map(str::to_string)
        .context("the server sent no token")
}

impl Remote {
    pub fn new(credentials: &Credentials) -> anyhow::Result<Remote> {
        Ok(Remote {
            http: reqwest::Client::new(),
            base: url::Url::parse(&credentials.server)?,
            token: credentials.token.clone(),
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(self.base.join(&format!("/api/v1{path}"))?)
            .bearer_auth(&self.token)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        Ok(response.json().await?)
    }

    /// A file of a workspace, byte-exact.
    pub async fn read_file(&self, workspace: &str, path: &str) -> anyhow::Result<bytes::Bytes> {
        let mut url = self
            .base
            .join(&format!("/api/v1/workspaces/{workspace}/files/content"))?;
        url.query_pairs_mut().append_pair("path", path);
        let response = self.http.get(url).bearer_auth(&self.token).send().await?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        Ok(response.bytes().await?)
    }

    /// Writes a file of a workspace (its parents are made).
    pub async fn write_file(
        &self,
        workspace: &str,
        path: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<()> {
        let mut url = self
            .base
            .join(&format!("/api/v1/workspaces/{workspace}/files/content"))?;
        url.query_pairs_mut().append_pair("path", path);
        let response = self
            .http
            .put(url)
            .bearer_auth(&self.token)
            .body(bytes)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        Ok(())
    }

    /// One of the user's workspaces by id or name: its id.
    pub async fn workspace(&self, name: &str) -> anyhow::Result<Option<String>> {
        let workspaces = self.get("/workspaces").await?;
        Ok(workspaces
            .as_array()
            .into_iter()
            .flatten()
            .find(|w| w["id"].as_str() == Some(name) || w["name"].as_str() == Some(name))
            .and_then(|w| w["id"].as_str())
            .map(str::to_string))
    }

    /// A workspace of the user's when one has this id or name, else a container of that name.
    pub async fn target(&self, name: &str) -> anyhow::Result<Target> {
        Ok(match self.workspace(name).await? {
            Some(id) => Target::Workspace(id),
            None => Target::Container(name.to_string()),
        })
    }

    /// A WebSocket session, its `hello` read.
    pub async fn session(&self) -> anyhow::Result<Socket> {
        let mut url = self.base.join("/api/v1/ws")?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|_| anyhow::anyhow!("{} cannot be a WebSocket", self.base))?;
        let mut request = url.as_str().into_client_request()?;
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {}", self.token).parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .context("the session did not open")?;
        match socket.next().await {
            Some(Ok(Message::Text(hello))) if hello.contains("\"hello\"") => Ok(socket),
            Some(Ok(Message::Close(Some(frame)))) => bail!("the server closed: {}", frame.reason),
            _ => bail!("the server did not say hello"),
        }
    }
}

/// Sends a JSON message.
pub async fn send(socket: &mut Socket, message: Value) -> anyhow::Result<()> {
    socket.send(Message::text(message.to_string())).await?;
    Ok(())
}

/// Sends bytes to a stream's stdin.
pub async fn send_stdin(socket: &mut Socket, stream: u8, bytes: &[u8]) -> anyhow::Result<()> {
    let mut frame = Vec::with_capacity(bytes.len() + 2);
    frame.extend_from_slice(&[stream, 0]);
    frame.extend_from_slice(bytes);
    socket.send(Message::binary(frame)).await?;
    Ok(())
}
