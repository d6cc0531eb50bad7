//! The error answers as the OpenAPI document describes them: the body every error has, and one
//! named answer per HTTP status that handlers list (`response = NotFound`), each described from
//! [`ErrorCode`]'s table, so the codes a status carries are written once.

use serde::Serialize;
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::ToSchema;

use super::ErrorCode;

/// Every error the API answers: `{"error": {"code", "message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
struct ErrorDetail {
    code: ErrorCode,
    /// Safe to show to the person: it never holds a server's internals.
    message: String,
}

macro_rules! error_responses {
    ($($name:ident => $status:literal),* $(,)?) => {
        $(
            pub struct $name;
            impl<'r> utoipa::ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), RefOr::T(error_response($status)))
                }
            }
        )*
        /// Every name above, for the document's components.
        pub fn components() -> Vec<(&'static str, RefOr<Response>)> {
            vec![$((stringify!($name), RefOr::T(error_response($status)))),*]
        }
    };
}

error_responses! {
    BadRequest => 400,
    Unauthorized => 401,
    Forbidden => 403,
    NotFound => 404,
    Conflict => 409,
    TooLarge => 413,
    TooMany => 429,
    Internal => 500,
    Unavailable => 503,
}

/// An error answer with its status, listing the codes that come with it and what each means.
fn error_response(status: u16) -> Response {
    let codes: Vec<String> = ErrorCode::ALL
        .iter()
        .filter(|code| code.status().as_u16() == status)
        .map(|code| format!("`{}`: {}", code.name(), code.meaning()))
        .collect();
    ResponseBuilder::new()
        .description(codes.join("; "))
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build()
}
