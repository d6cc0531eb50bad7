//! A client of a registry's v2 API with stored credentials: basic auth, or, when the registry
//! answers with a bearer challenge, a token from its token service (as `docker login` does).
//! Every connection it makes, redirects and token services included, goes only where its
//! [`Egress`] allows.

use std::net::IpAddr;
use std::sync::Arc;

use super::egress::{Egress, GuardedResolver};
use crate::error::{ApiError, ErrorCode};

/// The header every registry speaking the v2 API sends, on errors too.
const API_VERSION_HEADER: &str = "Docker-Distribution-API-Version";

pub struct V2 {
    client: reqwest::Client,
    egress: Egress,
    base: String,
    host: String,
    username: String,
    password: String,
}

/// The registry's host, as it prefixes image names (`127.0.0.1:5000`, `registry.example.com`).
pub fn host_of(server: &str) -> &str {
    server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
}

impl V2 {
    pub fn new(
        server: &str,
        username: &str,
        password: &str,
        egress: Egress,
    ) -> Result<V2, ApiError> {
        let host = host_of(server).to_string();
        let loopback = host.starts_with("localhost") || host.starts_with("127.");
        let base = if server.starts_with("http://") || (loopback && !server.starts_with("https://"))
        {
            format!("http://{host}")
        } else {
            format!("https://{host}")
        };
        // Names resolve only to permitted addresses; a redirect to an address literal is
        // checked here, since no resolver sees it.
        let redirects = egress.clone();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .dns_resolver(Arc::new(GuardedResolver(egress.clone())))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("too many redirects")
                } else if literal_permitted(&redirects, attempt.url()) {
                    attempt.follow()
                } else {
                    attempt.error("redirect to an address berth may not reach")
                }
            }))
            .build()
            .map_err(|e| ApiError::internal(&e))?;
        Ok(V2 {
            client,
            egress,
            base,
            host,
            username: username.to_string(),
            password: password.to_string(),
        })
    }

    fn unreachable(&self, e: reqwest::Error) -> ApiError {
        tracing::info!(error = %crate::error::chain(&e), host = %self.host, "registry unreachable");
        ApiError::new(
            ErrorCode::Unavailable,
            format!("registry {} does not answer", self.host),
        )
    }

    /// A GET with the credentials, refused before any connection when the URL is an address
    /// the egress forbids.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
        let request = request.build().map_err(|e| self.unreachable(e))?;
        if !literal_permitted(&self.egress, request.url()) {
            tracing::info!(url = %request.url(), "registry connection refused by egress policy");
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!("registry {} does not answer", self.host),
            ));
        }
        self.client
            .execute(request)
            .await
            .map_err(|e| self.unreachable(e))
    }

    async fn get(&self, path: &str) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}{path}", self.base);
        let first = self
            .send(
                self.client
                    .get(&url)
                    .basic_auth(&self.username, Some(&self.password)),
            )
            .await?;
        let challenge = first
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        let (reqwest::StatusCode::UNAUTHORIZED, Some(challenge)) = (first.status(), challenge)
        else {
            return Ok(first);
        };
        let param = |key: &str| {
            challenge
                .split(',')
                .find_map(|part| part.trim().strip_prefix(&format!("{key}=")))
                .map(|v| v.trim_matches('"').to_string())
        };
        let Some(realm) = param("realm") else {
            return Ok(first);
        };
        let query: Vec<(&str, String)> = [("service", param("service")), ("scope", param("scope"))]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let token: serde_json::Value = self
            .send(
                self.client
                    .get(&realm)
                    .query(&query)
                    .basic_auth(&self.username, Some(&self.password)),
            )
            .await?
            .json()
            .await
            .unwrap_or_default();
        let Some(token) = token["token"].as_str().or(token["access_token"].as_str()) else {
            return Ok(first);
        };
        self.send(self.client.get(&url).bearer_auth(token)).await
    }

    /// Succeeds when a registry answers at the server and accepts the credentials. Anything
    /// that is not a registry (no answer, or an answer without the registry API's header) gets
    /// the same refusal, so that adding a registry cannot be used to tell open ports from
    /// closed ones.
    pub async fn login(&self) -> Result<(), ApiError> {
        let not_a_registry = || {
            ApiError::new(
                ErrorCode::Unavailable,
                format!("{} does not answer as a Docker registry", self.host),
            )
        };
        let response = self.get("/v2/").await.map_err(|_| not_a_registry())?;
        if !response.headers().contains_key(API_VERSION_HEADER) {
            tracing::info!(host = %self.host, status = %response.status(), "answer without the registry API header");
            return Err(not_a_registry());
        }
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status == reqwest::StatusCode::UNAUTHORIZED
            || status == reqwest::StatusCode::FORBIDDEN
        {
            Err(ApiError::bad_request(format!(
                "registry {} refused these credentials",
                self.host
            )))
        } else {
            Err(not_a_registry())
        }
    }

    pub async fn json(&self, path: &str) -> Result<serde_json::Value, ApiError> {
        let response = self.get(path).await?;
        if !response.status().is_success() {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!("registry {} answered {}", self.host, response.status()),
            ));
        }
        response.json().await.map_err(|_| {
            ApiError::new(
                ErrorCode::Unavailable,
                format!("registry {} sent no JSON", self.host),
            )
        })
    }
}

/// False for a URL whose host is an address literal the egress forbids (names are left to the
/// resolver).
fn literal_permitted(egress: &Egress, url: &reqwest::Url) -> bool {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return true,
    };
    egress.permits(ip)
}
