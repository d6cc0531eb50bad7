//! `/registries`: add, list, remove, and search Docker Hub and the private registries together.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::registries::{Found, NewRegistry, RegistryView};
use crate::routes::extract::AuthUser;
use crate::state::AppState;

async fn add(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<NewRegistry>,
) -> Result<HttpResponse, ApiError> {
    let registry = state.registries.add(&user.user, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(registry.view()))
}

async fn list(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let views: Vec<RegistryView> = state
        .registries
        .visible(&user.user)
        .await?
        .iter()
        .map(|r| r.view())
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

async fn remove(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.registries.remove(&user.user, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct SearchQuery {
    q: String,
}

#[derive(Serialize)]
struct Source {
    source: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct SearchResults {
    results: Vec<Found>,
    sources: Vec<Source>,
}

/// `GET /registries/search?q=`: one list from Docker Hub (through the engine) and every private
/// registry the user may use. A source that fails is reported, not fatal.
async fn search(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.q.trim();
    if q.is_empty() || q.len() > 100 {
        return Err(ApiError::bad_request("q must be 1-100 characters"));
    }
    let registries = state.registries.visible(&user.user).await?;
    let hub = async {
        let found = state.hosts.get(None)?.engine.search_hub(q).await?;
        Ok::<_, ApiError>(
            found
                .into_iter()
                .map(|item| Found {
                    source: "docker.io".into(),
                    name: item.name.unwrap_or_default(),
                    tags: None,
                    description: item.description,
                    stars: item.star_count,
                    official: item.is_official,
                })
                .collect::<Vec<_>>(),
        )
    };
    let private =
        futures_util::future::join_all(registries.iter().map(|r| state.registries.search(r, q)));
    let (hub, private) = tokio::join!(hub, private);
    let mut results = Vec::new();
    let mut sources = Vec::new();
    let outcomes = std::iter::once(("docker.io".to_string(), hub))
        .chain(registries.iter().map(|r| r.name.clone()).zip(private));
    for (source, outcome) in outcomes {
        match outcome {
            Ok(found) => {
                sources.push(Source {
                    source,
                    ok: true,
                    count: Some(found.len()),
                    error: None,
                });
                results.extend(found);
            }
            Err(err) => sources.push(Source {
                source,
                ok: false,
                count: None,
                error: Some(err.message),
            }),
        }
    }
    Ok(HttpResponse::Ok().json(SearchResults { results, sources }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/registries", web::get().to(list))
        .route("/registries/search", web::get().to(search))
        .route("/registries", web::post().to(add))
        .route("/registries/{id}", web::delete().to(remove));
}
