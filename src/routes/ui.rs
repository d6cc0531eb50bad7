//! The browser UI, embedded in the binary: static/dist, which `scripts/setup.sh` builds from
//! static/ with npm and esbuild. Every path that is not the API's gets a file of the bundle, or
//! the UI's page (its routes live after the `#`); `/docs` is the API reader's page.

use actix_web::http::{header, Method};
use actix_web::{HttpRequest, HttpResponse};

#[derive(rust_embed::Embed)]
#[folder = "static/dist/"]
#[allow_missing = true]
struct Bundle;

/// What the page may load: only its own files and its own API (xterm.js sets inline styles).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

pub async fn serve(req: HttpRequest) -> HttpResponse {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return HttpResponse::MethodNotAllowed().finish();
    }
    let path = match req.path().trim_start_matches('/') {
        "docs" | "docs/" => "docs.html",
        path => path,
    };
    let looks_like_file = path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'));
    let file = match Bundle::get(path) {
        Some(file) if !path.is_empty() => file,
        _ if looks_like_file => return HttpResponse::NotFound().finish(),
        _ => match Bundle::get("index.html") {
            Some(index) => index,
            None => {
                return HttpResponse::ServiceUnavailable()
                    .content_type("text/plain; charset=utf-8")
                    .body("this berth was built without its UI: run scripts/setup.sh --ui, then build again\n")
            }
        },
    };
    // Chunks are named by their content's hash: a new build names them anew.
    let cache = if path.starts_with("chunks/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    HttpResponse::Ok()
        .content_type(file.metadata.mimetype())
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .body(file.data.into_owned())
}
