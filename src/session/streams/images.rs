//! `build`, `pull` and `push`: image transfers that stop with their request.

use std::sync::Arc;

use bollard::models::ImageId;
use bollard::query_parameters::BuildImageOptions;
use futures_util::{Stream, StreamExt};

use super::{fail, host_lost};
use crate::builds;
use crate::docker::Engine;
use crate::error::ApiError;
use crate::registries;
use crate::session::protocol::{self, StreamId};
use crate::session::protocol::{BuildRequest, TransferRequest};
use crate::session::{SessionCtx, StreamParts};

/// Builds an uploaded context, streaming the log line by line as the engine writes it, then tags
/// the result (never taking a tag from another image unless `force`). Cancelling the stream or
/// ending the session drops the request, which makes the engine stop the build; `forcerm`
/// removes its intermediate containers.
pub(in crate::session) async fn build(
    ctx: Arc<SessionCtx>,
    request: BuildRequest,
    parts: StreamParts,
) {
    let stream = request.stream;
    if let Err(err) =
        builds::require_builder(&ctx.user).and_then(|_| crate::images::check_ref(&request.tag))
    {
        return fail(&ctx, stream, err).await;
    }
    let (repo, tag) = crate::images::split_tag(&request.tag);
    let path = match ctx.contexts.path_for(&ctx.user, &request.context) {
        Ok(path) => path,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let engine = match ctx.hosts.get(request.host.as_deref()) {
        Ok(host) => host.engine,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let docker = match engine.client().await {
        Ok(docker) => docker,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) => return fail(&ctx, stream, ApiError::internal(&e)).await,
    };
    let options = BuildImageOptions {
        dockerfile: request
            .dockerfile
            .clone()
            .unwrap_or_else(|| "Dockerfile".into()),
        rm: true,
        forcerm: true,
        buildargs: request
            .build_args
            .clone()
            .map(|args| args.into_iter().collect()),
        labels: Some([("berth.built_by".to_string(), ctx.user.id.clone())].into()),
        ..Default::default()
    };
    let before = match crate::images::image_ids(&docker).await {
        Ok(ids) => ids,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(file));
    let mut progress = docker.build_image(options, None, Some(body));
    tracing::info!(tag = %request.tag, "build started");
    ctx.send_text(protocol::started(stream)).await;

    let mut image_id = None;
    let mut failure = None;
    loop {
        let item = tokio::select! {
            _ = parts.cancel.cancelled() => break,
            _ = engine.stopped_answering() => {
                failure = Some(host_lost());
                break;
            }
            item = progress.next() => item,
        };
        match item {
            Some(Ok(info)) => {
                if let Some(ImageId { id: Some(id) }) = info.aux {
                    image_id = Some(id);
                }
                if let Some(error) = info.error {
                    failure = Some(ApiError::bad_request(error));
                }
                let text = info.stream.or(info.status).unwrap_or_default();
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    if !ctx.send_text(protocol::progress_log(stream, line)).await {
                        break;
                    }
                }
            }
            Some(Err(bollard::errors::Error::DockerStreamError { error })) => {
                failure = Some(ApiError::bad_request(error));
            }
            Some(Err(e)) => failure = Some(e.into()),
            None => break,
        }
    }
    // Dropping the request is what stops an unfinished build on the engine.
    drop(progress);
    if parts.cancel.is_cancelled() {
        tracing::info!("build cancelled");
        ctx.finish_stream(stream);
        if !ctx.cancel.is_cancelled() {
            ctx.send_text(protocol::built(stream, None)).await;
        }
        return;
    }
    let image_id = match (failure, image_id) {
        (Some(err), _) => return fail(&ctx, stream, err).await,
        (None, None) => {
            let err = ApiError::internal(&std::io::Error::other("build gave no image id"));
            return fail(&ctx, stream, err).await;
        }
        (None, Some(id)) => id,
    };
    if let Err(err) = crate::images::tag_safely(&engine, &image_id, repo, tag, request.force).await
    {
        // A new, untagged result is not left behind; a cached one that other tags name stays.
        crate::images::discard_if_unused(&docker, &image_id, &before).await;
        return fail(&ctx, stream, err).await;
    }
    tracing::info!(image = %image_id, "build done");
    ctx.finish_stream(stream);
    ctx.send_text(protocol::built(stream, Some(&image_id)))
        .await;
}

/// Pulls an image, with the stored credentials of its registry, reporting the engine's progress
/// layer by layer. Cancelling drops the request, which stops the pull.
pub(in crate::session) async fn pull(
    ctx: Arc<SessionCtx>,
    request: TransferRequest,
    parts: StreamParts,
) {
    let stream = request.stream;
    let prepared = async {
        let host = ctx.hosts.get(request.host.as_deref())?;
        crate::images::check_ref(&request.image)?;
        let registry = registries::for_image(
            &ctx.db,
            &ctx.user,
            &request.image,
            request.registry.as_deref(),
        )
        .await?;
        registries::check_image_source(&ctx.user, &request.image, registry.as_ref(), &ctx.egress)
            .await?;
        let credentials = registry.map(|r| r.credentials(&ctx.secrets)).transpose()?;
        Ok::<_, ApiError>((host.engine.client().await?, host.engine, credentials))
    };
    let (docker, engine, credentials) = match prepared.await {
        Ok(prepared) => prepared,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let progress = crate::images::pull(&docker, &request.image, credentials);
    ctx.send_text(protocol::started(stream)).await;
    tracing::info!(image = %request.image, "pull started");
    transfer(
        &ctx,
        stream,
        &engine,
        progress.map(|i| i.map(Transfer::from)),
        &parts,
    )
    .await;
}

/// Pushes an image to a stored registry, tagging it under the registry's host first when its
/// name does not start with it.
pub(in crate::session) async fn push(
    ctx: Arc<SessionCtx>,
    request: TransferRequest,
    parts: StreamParts,
) {
    let stream = request.stream;
    let prepared = async {
        ctx.user.require_staff("push images")?;
        let host = ctx.hosts.get(request.host.as_deref())?;
        crate::images::check_ref(&request.image)?;
        let named = request
            .registry
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("push needs a registry"))?;
        let registry = registries::for_image(&ctx.db, &ctx.user, &request.image, Some(named))
            .await?
            .ok_or_else(|| ApiError::not_found("no such registry"))?;
        if !ctx.user.is_admin() {
            registry
                .egress(&ctx.egress)
                .check_host(registry.host())
                .await?;
        }
        let credentials = registry.credentials(&ctx.secrets)?;
        let docker = host.engine.client().await?;
        let target = if registries::image_host(&request.image) == Some(registry.host()) {
            request.image.clone()
        } else {
            format!("{}/{}", registry.host(), request.image)
        };
        if target != request.image {
            let image = docker.inspect_image(&request.image).await?;
            let (repo, tag) = crate::images::split_tag(&target);
            crate::images::tag_safely(
                &host.engine,
                &image.id.unwrap_or_default(),
                repo,
                tag,
                false,
            )
            .await?;
        }
        Ok::<_, ApiError>((docker, host.engine, credentials, target))
    };
    let (docker, engine, credentials, target) = match prepared.await {
        Ok(prepared) => prepared,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let (repo, tag) = crate::images::split_tag(&target);
    let options = bollard::query_parameters::PushImageOptions {
        tag: Some(tag.to_string()),
        ..Default::default()
    };
    let progress = docker.push_image(repo, Some(options), Some(credentials));
    ctx.send_text(protocol::started(stream)).await;
    tracing::info!(image = %target, "push started");
    transfer(
        &ctx,
        stream,
        &engine,
        progress.map(|i| i.map(Transfer::from)),
        &parts,
    )
    .await;
}

/// One progress report of a pull or push.
struct Transfer {
    id: Option<String>,
    status: Option<String>,
    error: Option<String>,
    current: Option<i64>,
    total: Option<i64>,
}

impl From<bollard::models::CreateImageInfo> for Transfer {
    fn from(i: bollard::models::CreateImageInfo) -> Self {
        let detail = i.progress_detail.unwrap_or_default();
        Transfer {
            id: i.id,
            status: i.status,
            error: i.error,
            current: detail.current,
            total: detail.total,
        }
    }
}

impl From<bollard::models::PushImageInfo> for Transfer {
    fn from(i: bollard::models::PushImageInfo) -> Self {
        let detail = i.progress_detail.unwrap_or_default();
        Transfer {
            id: None,
            status: i.status,
            error: i.error,
            current: detail.current,
            total: detail.total,
        }
    }
}

async fn transfer<S>(
    ctx: &SessionCtx,
    stream: StreamId,
    engine: &Engine,
    progress: S,
    parts: &StreamParts,
) where
    S: Stream<Item = Result<Transfer, bollard::errors::Error>>,
{
    let mut progress = Box::pin(progress);
    let mut failure = None;
    loop {
        let item = tokio::select! {
            _ = parts.cancel.cancelled() => break,
            _ = engine.stopped_answering() => {
                failure = Some(host_lost());
                break;
            }
            item = progress.next() => item,
        };
        match item {
            Some(Ok(t)) => {
                if let Some(error) = t.error {
                    failure = Some(ApiError::bad_request(error));
                    continue;
                }
                let message = protocol::transfer_progress(
                    stream,
                    t.id.as_deref(),
                    t.status.as_deref(),
                    t.current,
                    t.total,
                );
                if !ctx.send_text(message).await {
                    break;
                }
            }
            Some(Err(e)) => failure = Some(crate::images::transfer_error(e)),
            None => break,
        }
    }
    drop(progress); // an unfinished transfer stops with its request
    if let Some(err) = failure {
        return fail(ctx, stream, err).await;
    }
    ctx.finish_stream(stream);
    if !ctx.cancel.is_cancelled() {
        ctx.send_text(protocol::end(stream)).await;
    }
}
