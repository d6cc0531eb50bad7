//! Downloads the handlers share.

use actix_web::HttpResponse;

/// A tar the browser saves as `<name>.tar`, streamed as it is read.
pub fn tar_download<S, E>(name: &str, tar: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + 'static,
    E: Into<Box<dyn std::error::Error>> + 'static,
{
    HttpResponse::Ok()
        .content_type("application/x-tar")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}.tar\""),
        ))
        .streaming(tar)
}
