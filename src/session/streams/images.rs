//! `build`, `pull` and `push`: image transfers that stop with their request.

use std::sync::Arc;

use bollard::models::{BuildInfo, ImageId};
use futures_util::{Stream, StreamExt};

use super::{host_lost, next_item, Ending, Interrupted, Outcome};
use crate::builds;
use crate::docker::build::{BuildContext, BuildSpec};
use crate::docker::images::{self, tag_safely, ImageRef};
use crate::docker::Engine;
use crate::error::ApiError;
use crate::session::protocol::ServerMessage;
use crate::session::protocol::StreamId;
use crate::session::protocol::{BuildRequest, DeriveRequest, TransferRequest};
use crate::session::{SessionCtx, StreamParts};
use crate::templates;

/// Builds an uploaded context, streaming the log line by line as the engine writes it, then tags
/// the result (never taking a tag from another image unless `force`). Cancelling the stream or
/// ending the session drops the request, which makes the engine stop the build; `forcerm`
/// removes its intermediate containers.
pub(in crate::session) async fn build(
    ctx: Arc<SessionCtx>,
    request: BuildRequest,
    parts: StreamParts,
) -> Outcome {
    ctx.user.require_staff("build images")?;
    let tag = ImageRef::parse(&request.tag)?;
    let path = ctx.state.contexts.path_for(&ctx.user, &request.context)?;
    let engine = ctx.state.hosts.get(request.host.as_deref())?.engine;
    let dockerfile = request.dockerfile.unwrap_or_else(|| "Dockerfile".into());
    let text = builds::read_dockerfile(path.clone(), dockerfile.clone()).await?;
    builds::vet_dockerfile(&ctx.user, &text, &ctx.state.registries, &engine).await?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let context = Box::pin(tokio_util::io::ReaderStream::new(file));
    let build = Build {
        dockerfile,
        build_args: request.build_args.unwrap_or_default(),
        tag,
        force: request.force,
    };
    let entry = ctx
        .audit("image.build")
        .target(build.tag.to_string())
        .detail("host", request.host.clone());
    ctx.state.audit.record(entry).await;
    let image = build_and_tag(&ctx, request.stream, &engine, context, build, &parts).await?;
    Ok(Ending::Built(image))
}

/// Derives a template from another: builds `FROM <its image>` plus the given Dockerfile lines
/// with the live build log, and registers a template with the result and the rest of the
/// other's settings. Cancelled: no image is kept and no template made.
pub(in crate::session) async fn derive(
    ctx: Arc<SessionCtx>,
    request: DeriveRequest,
    parts: StreamParts,
) -> Outcome {
    ctx.user.require_staff("derive templates")?;
    let base = templates::find(&ctx.state.db, &request.template).await?;
    let (spec, dockerfile) = templates::derived(
        &base,
        &request.name,
        &request.lines,
        &ctx.state.settings.limits,
    )?;
    let engine = ctx.state.hosts.get(request.host.as_deref())?.engine;
    builds::vet_dockerfile(&ctx.user, &dockerfile, &ctx.state.registries, &engine).await?;
    let context =
        builds::dockerfile_tar(dockerfile.as_bytes()).map_err(|e| ApiError::internal(&e))?;
    let context = Box::pin(futures_util::stream::once(async move {
        Ok::<_, std::io::Error>(bytes::Bytes::from(context))
    }));
    let build = Build {
        dockerfile: "Dockerfile".into(),
        build_args: Default::default(),
        tag: ImageRef::parse(&spec.image)?,
        force: false,
    };
    let entry = ctx
        .audit("template.derive")
        .target(build.tag.to_string())
        .detail("from", base.id.clone())
        .detail("name", request.name.clone());
    ctx.state.audit.record(entry).await;
    let Some(image) = build_and_tag(&ctx, request.stream, &engine, context, build, &parts).await?
    else {
        return Ok(Ending::Built(None));
    };
    let template =
        templates::create(&ctx.state.db, &ctx.user, spec, &ctx.state.settings.limits).await?;
    Ok(Ending::Derived {
        image,
        template: template.id,
    })
}

/// What to build and how to tag it.
struct Build {
    dockerfile: String,
    build_args: std::collections::BTreeMap<String, String>,
    tag: ImageRef,
    force: bool,
}

/// Builds a context, streaming the log as `progress` messages, and tags the result; the image's
/// id, or None when the stream was cancelled.
async fn build_and_tag(
    ctx: &SessionCtx,
    stream: StreamId,
    engine: &Engine,
    context: BuildContext,
    build: Build,
    parts: &StreamParts,
) -> Result<Option<String>, ApiError> {
    let docker = engine.client().await?;
    let limits = &ctx.state.settings.builds;
    let spec = BuildSpec {
        dockerfile: build.dockerfile.clone(),
        build_args: build.build_args.clone(),
        built_by: ctx.user.id.clone(),
        memory_mb: limits.memory_mb,
        cpus: limits.cpus,
    };
    let processes = builds::process_limit(&ctx.user, engine, limits.pids).await?;
    let cgroup = match &processes {
        builds::ProcessLimit::Held(cgroup) => Some(cgroup),
        _ => None,
    };
    // What was there before, so that the cleanup of a refused build can tell what it made.
    let before = images::image_ids(&docker).await?;
    tracing::info!(tag = %build.tag, "build started");
    ctx.send(ServerMessage::Started { stream }).await;
    if let builds::ProcessLimit::NotHeld(reason) = &processes {
        let note = format!("note: this build has no process limit: {reason}");
        ctx.send(ServerMessage::log(stream, &note)).await;
    }
    // The request goes out with its context and is answered: a cancel, or a host that stops
    // answering, ends it meanwhile too.
    let answered = tokio::select! {
        _ = parts.cancel.cancelled() => None,
        _ = engine.stopped_answering() => return Err(host_lost()),
        answered = engine.build(spec, context, cgroup) => Some(answered?),
    };
    let Some(progress) = answered else {
        tracing::info!("build cancelled");
        return Ok(None);
    };
    let (image_id, failure) = relay_log(ctx, stream, engine, Box::pin(progress), parts).await;
    if parts.cancel.is_cancelled() {
        tracing::info!("build cancelled");
        return Ok(None);
    }
    if let Some(err) = failure {
        return Err(err);
    }
    let image_id = image_id
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("build gave no image id")))?;
    if let Err(err) = tag_safely(engine, &image_id, &build.tag, build.force).await {
        // A new, untagged result is not left behind; a cached one that other tags name stays.
        images::discard_if_unused(&docker, &image_id, &before).await;
        return Err(err);
    }
    tracing::info!(image = %image_id, "build done");
    Ok(Some(image_id))
}

/// Sends a build's log as `progress` messages, a line each, until it ends; the image id it
/// gave, and what failed. Dropping `progress` on return is what stops an unfinished build on
/// the engine.
async fn relay_log(
    ctx: &SessionCtx,
    stream: StreamId,
    engine: &Engine,
    mut progress: std::pin::Pin<Box<impl Stream<Item = Result<BuildInfo, ApiError>>>>,
    parts: &StreamParts,
) -> (Option<String>, Option<ApiError>) {
    let mut image_id = None;
    let mut failure = None;
    loop {
        match next_item(&mut progress, &parts.cancel, engine).await {
            Err(Interrupted::HostLost) => {
                failure = Some(host_lost());
                break;
            }
            Err(_) | Ok(None) => break,
            Ok(Some(Ok(info))) => {
                if let Some(ImageId { id: Some(id) }) = info.aux {
                    image_id = Some(id);
                }
                if let Some(error) = info.error {
                    failure = Some(ApiError::bad_request(error));
                }
                let text = info.stream.or(info.status).unwrap_or_default();
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    if !ctx.send(ServerMessage::log(stream, line)).await {
                        break;
                    }
                }
            }
            Ok(Some(Err(e))) => failure = Some(e),
        }
    }
    (image_id, failure)
}

/// Pulls an image, with the stored credentials of its registry, reporting the engine's progress
/// layer by layer. Cancelling drops the request, which stops the pull.
pub(in crate::session) async fn pull(
    ctx: Arc<SessionCtx>,
    request: TransferRequest,
    parts: StreamParts,
) -> Outcome {
    let host = ctx.state.hosts.get(request.host.as_deref())?;
    let image = ImageRef::parse(&request.image)?;
    let registries = &ctx.state.registries;
    let credentials = registries
        .pull_credentials(&ctx.user, &image, request.registry.as_deref())
        .await?;
    let source = credentials.as_ref().and_then(|c| c.serveraddress.clone());
    let docker = host.engine.client().await?;
    let progress = images::pull(&docker, &image, credentials)?;
    ctx.send(ServerMessage::Started {
        stream: request.stream,
    })
    .await;
    tracing::info!(image = %request.image, "pull started");
    let entry = ctx
        .audit("image.pull")
        .target(image.to_string())
        .detail("host", request.host.clone())
        .detail("registry", source.clone());
    ctx.state.audit.record(entry).await;
    let progress = progress.map(|i| i.map(Transfer::from));
    let ending = transfer(&ctx, request.stream, &host.engine, progress, &parts).await?;
    if let (Some(source), false) = (source, parts.cancel.is_cancelled()) {
        registries.record_pull(&host.engine, &image, &source).await;
    }
    Ok(ending)
}

/// Pushes an image to a stored registry, tagging it under the registry's host first when its
/// name does not start with it.
pub(in crate::session) async fn push(
    ctx: Arc<SessionCtx>,
    request: TransferRequest,
    parts: StreamParts,
) -> Outcome {
    ctx.user.require_staff("push images")?;
    let host = ctx.state.hosts.get(request.host.as_deref())?;
    let image = ImageRef::parse(&request.image)?;
    let named = request
        .registry
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("push needs a registry"))?;
    let registry = ctx
        .state
        .registries
        .visible(&ctx.user)
        .await?
        .into_iter()
        .find(|r| r.id == named || r.name == named)
        .ok_or_else(|| ApiError::not_found(format!("no such registry: {named}")))?;
    let target = if image.registry_host() == Some(registry.canonical_host()) {
        image.clone()
    } else {
        ImageRef::parse(&format!("{}/{image}", registry.host()))?
    };
    let credentials = ctx
        .state
        .registries
        .push_credentials(&ctx.user, &registry, &target)
        .await?;
    let docker = host.engine.client().await?;
    if target != image {
        let id = host
            .engine
            .inspect_image(&image)
            .await?
            .id
            .unwrap_or_default();
        tag_safely(&host.engine, &id, &target, false).await?;
    }
    let progress = images::push(&docker, &target, credentials);
    ctx.send(ServerMessage::Started {
        stream: request.stream,
    })
    .await;
    tracing::info!(image = %target, "push started");
    let entry = ctx
        .audit("image.push")
        .target(target.to_string())
        .detail("registry", registry.id.clone());
    ctx.state.audit.record(entry).await;
    let progress = progress.map(|i| i.map(Transfer::from));
    transfer(&ctx, request.stream, &host.engine, progress, &parts).await
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

/// Relays a pull's or push's progress until it ends, fails, or is cancelled (which drops the
/// request and so stops the transfer on the engine).
async fn transfer<S>(
    ctx: &SessionCtx,
    stream: StreamId,
    engine: &Engine,
    progress: S,
    parts: &StreamParts,
) -> Outcome
where
    S: Stream<Item = Result<Transfer, bollard::errors::Error>>,
{
    let mut progress = Box::pin(progress);
    let mut failure = None;
    loop {
        match next_item(&mut progress, &parts.cancel, engine).await {
            Err(Interrupted::HostLost) => {
                failure = Some(host_lost());
                break;
            }
            Err(_) | Ok(None) => break,
            Ok(Some(Ok(t))) => {
                if let Some(error) = t.error {
                    failure = Some(ApiError::bad_request(error));
                    continue;
                }
                let message = ServerMessage::Progress {
                    stream,
                    status: t.status,
                    id: t.id,
                    current: t.current,
                    total: t.total,
                };
                if !ctx.send(message).await {
                    break;
                }
            }
            Ok(Some(Err(e))) => failure = Some(images::transfer_error(e)),
        }
    }
    drop(progress); // an unfinished transfer stops with its request
    match failure {
        Some(err) => Err(err),
        None => Ok(Ending::End),
    }
}
