//! The one error shape every REST answer and WebSocket `error` frame uses. The codes, their
//! HTTP statuses and what each means are written once, on [`ErrorCode`]; docs/protocol.md's
//! table and the UI's words for them are checked against it (tests/error_table.rs, and `tsc`
//! against the generated `ErrorCode` type).

pub mod answers;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    /// A user's quota (workspaces, memory) would be exceeded.
    QuotaExceeded,
    /// An image cannot be removed while a container uses it.
    ImageInUse,
    TooLarge,
    TooMany,
    Internal,
    Unavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::QuotaExceeded,
        ErrorCode::ImageInUse,
        ErrorCode::TooLarge,
        ErrorCode::TooMany,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The code clients read as `name`.
    pub fn named(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| code.name() == name)
    }

    /// The code as clients read it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::ImageInUse => "image_in_use",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::TooMany => "too_many",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    /// What the code means, as docs/protocol.md gives it.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => {
                "unparseable JSON, unknown `type`, missing or mistyped field, invalid value, frame \
                 too large, binary frame without header or on a channel other than 0"
            }
            ErrorCode::Unauthorized => "missing, expired or revoked credentials",
            ErrorCode::Forbidden => "not allowed for this account",
            ErrorCode::NotFound => {
                "no such container (or one that is not yours: others' containers are never \
                 revealed), no such stream"
            }
            ErrorCode::Conflict => "stream id in use, container not running, a name taken",
            ErrorCode::QuotaExceeded => {
                "a user's quota (workspaces, or memory reserved by their containers and \
                 workspaces) would be passed; the message says which"
            }
            ErrorCode::ImageInUse => {
                "an image cannot be removed while a container uses it; the message names the \
                 container"
            }
            ErrorCode::TooLarge => {
                "a request body (an upload, a file, a Dockerfile) over its limit"
            }
            ErrorCode::TooMany => {
                "too many streams in this session, resizing too fast, stdin refused because the \
                 process has not read the `session.max_stdin_bytes` (1 MiB) queued for it, too \
                 many sign-in attempts; at the upgrade, more than \
                 `session.max_sessions_per_user` sessions open"
            }
            ErrorCode::Unavailable => {
                "the Docker engine does not answer (the message names the host when one of \
                 several stopped answering), or cannot do what was asked there"
            }
            ErrorCode::Internal => {
                "a server fault (details are in the server's log, never in the message)"
            }
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict | ErrorCode::QuotaExceeded | ErrorCode::ImageInUse => {
                StatusCode::CONFLICT
            }
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooMany => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An error as the client sees it: a code and a message safe to show.
/// Internal causes are logged where they are converted, never sent.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "missing, invalid or expired credentials",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// Logs the whole cause chain and hides it from the client.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %chain(cause), "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

/// `a: b: c` for an error and its sources.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a ApiError,
}

impl Serialize for ApiError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ApiError", 2)?;
        st.serialize_field("code", &self.code)?;
        st.serialize_field("message", &self.message)?;
        st.end()
    }
}

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(Body { error: self })
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(&e)
    }
}

impl From<bollard::errors::Error> for ApiError {
    fn from(e: bollard::errors::Error) -> Self {
        use bollard::errors::Error as D;
        match &e {
            D::DockerResponseServerError {
                status_code,
                message,
            } => {
                let code = match status_code {
                    404 => ErrorCode::NotFound,
                    409 | 304 => ErrorCode::Conflict,
                    400 => ErrorCode::BadRequest,
                    _ => return ApiError::internal(&e),
                };
                // Docker's own message names the object, which the client asked about.
                ApiError::new(code, message.clone())
            }
            D::IOError { .. }
            | D::HyperResponseError { .. }
            | D::HyperLegacyError { .. }
            | D::RequestTimeoutError
            | D::SocketNotFoundError(_) => {
                tracing::warn!(error = %chain(&e), "Docker engine unreachable");
                ApiError::new(ErrorCode::Unavailable, "the Docker engine is unavailable")
            }
            _ => ApiError::internal(&e),
        }
    }
}

/// JSON body errors from actix become our shape instead of actix's plain text.
pub fn json_config(limit: usize) -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let api = match &err {
                actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
                | actix_web::error::JsonPayloadError::Overflow { .. } => {
                    ApiError::new(ErrorCode::TooLarge, "request body too large")
                }
                other => ApiError::bad_request(other.to_string()),
            };
            api.into()
        })
}

pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default()
        .error_handler(|err, _req| ApiError::bad_request(err.to_string()).into())
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|err, _req| ApiError::bad_request(err.to_string()).into())
}
