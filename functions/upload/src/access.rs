//! Who may upload now: an upload token of an enabled project within its request rate.

use crate::Limits;
use lambda_http::Request;
use verdict_http::{authenticate, ApiError};
use verdict_store::{now_ms, Project, Scope, Store, TokenInfo};

/// Authenticates an upload-scoped request and checks the project may ingest now; returns the
/// token and its project.
pub(crate) async fn uploader(
    store: &Store,
    limits: &Limits,
    request: &Request,
) -> Result<(TokenInfo, Project), ApiError> {
    let token = authenticate(store, request, &[Scope::Upload]).await?;
    let project = store
        .get_project(&token.project)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if !project.enabled {
        return Err(ApiError::unavailable(format!(
            "ingestion is switched off for project {}",
            project.name
        )));
    }
    if !store
        .take_rate(&token.project, now_ms(), limits.rate_per_minute)
        .await?
    {
        return Err(ApiError::rate_limited(format!(
            "more than {} requests a minute for project {}; retry in a minute",
            limits.rate_per_minute, token.project
        )));
    }
    Ok((token, project))
}
