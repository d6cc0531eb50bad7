//! The federated image search: Docker Hub (through an engine) and every private registry a user
//! may use, in one list. A source that fails is reported beside the results, not fatal.

use serde::Serialize;

use super::{Found, Registries};
use crate::error::ApiError;
use crate::hosts::Hosts;
use crate::users::User;

/// How one source of a search answered: how many it found, or why it could not.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Source {
    pub source: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
}

/// What every source found, and how each answered.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct SearchResults {
    pub results: Vec<Found>,
    pub sources: Vec<Source>,
}

impl Registries {
    /// Searches for `q` (1–100 characters) on Docker Hub through the local engine of `hosts`
    /// and on the registries `user` may use.
    pub async fn search_everywhere(
        &self,
        user: &User,
        hosts: &Hosts,
        q: &str,
    ) -> Result<SearchResults, ApiError> {
        let q = q.trim();
        if q.is_empty() || q.len() > 100 {
            return Err(ApiError::bad_request("q must be 1-100 characters"));
        }
        let registries = self.visible(user).await?;
        let hub = async {
            let found = hosts.get(None)?.engine.search_hub(q).await?;
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
        let private = futures_util::future::join_all(registries.iter().map(|r| self.search(r, q)));
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
        Ok(SearchResults { results, sources })
    }
}
