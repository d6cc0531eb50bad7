//! `logs` and `stats` of a container.

use std::sync::Arc;

use serde_json::json;

use super::{
    engine_went_away, find, host_lost, next_item, pump_output, wait_unpaused, Ending, Interrupted,
    Limits, Outcome, Use,
};
use crate::docker::observe::LogsSpec;
use crate::error::ApiError;
use crate::session::protocol::{self, StreamId};
use crate::session::protocol::{LogsRequest, StatsRequest};
use crate::session::{SessionCtx, StreamParts};

/// Streams a container's logs; with `follow`, until the container stops or the stream ends.
pub(in crate::session) async fn logs(
    ctx: Arc<SessionCtx>,
    request: LogsRequest,
    mut parts: StreamParts,
) -> Outcome {
    let stream = request.stream;
    let target = protocol::target(&request.container, &request.workspace)?;
    let found = find(&ctx, &target, Use::Watch).await?;
    let (info, engine) = (&found.info, &found.engine);
    let since = match request.since.map(i32::try_from) {
        None => 0,
        Some(Ok(since)) if since >= 0 => since,
        _ => return Err(ApiError::bad_request("since is out of range")),
    };
    let spec = LogsSpec {
        follow: request.follow,
        since,
        timestamps: request.timestamps,
        tail: request.tail,
        tty: info.config.as_ref().and_then(|c| c.tty).unwrap_or(false),
    };
    let id = info.id.clone().unwrap_or_default();
    let no_resize = |_, _| tokio::spawn(async {});
    let mut output = engine.logs(&id, spec).await?;
    ctx.send_text(protocol::started(stream)).await;
    let interrupted = pump_output(
        &ctx,
        stream,
        engine,
        &mut output,
        &mut parts,
        Limits::default(),
        no_resize,
    )
    .await;
    // A follow ends when the container stops; an engine that went away is not that.
    if interrupted == Some(Interrupted::HostLost)
        || (interrupted.is_none() && engine_went_away(engine).await)
    {
        return Err(host_lost());
    }
    Ok(Ending::End)
}

/// Sends a container's resource use about once a second until it stops or the stream ends.
pub(in crate::session) async fn stats(
    ctx: Arc<SessionCtx>,
    request: StatsRequest,
    mut parts: StreamParts,
) -> Outcome {
    let stream = request.stream;
    let target = protocol::target(&request.container, &request.workspace)?;
    let found = find(&ctx, &target, Use::Watch).await?;
    let (info, engine) = (&found.info, &found.engine);
    let id = info.id.clone().unwrap_or_default();
    let mut samples = Box::pin(engine.stats_until_stopped(&id).await?);
    ctx.send_text(protocol::started(stream)).await;
    let cancel = parts.cancel.clone();
    loop {
        let next = match wait_unpaused(&mut parts.flow, 0, &cancel, engine).await {
            Some(interrupted) => Err(interrupted),
            None => next_item(&mut samples, &cancel, engine).await,
        };
        match next {
            Err(Interrupted::HostLost) => return Err(host_lost()),
            Ok(None | Some(Err(_))) if engine_went_away(engine).await => return Err(host_lost()),
            Err(_) | Ok(None | Some(Err(_))) => break,
            Ok(Some(Ok(sample))) => {
                if !ctx.send_text(stats_message(stream, &sample)).await {
                    break;
                }
            }
        }
    }
    Ok(Ending::End)
}

/// The `stats` message, computed as `docker stats` does.
fn stats_message(stream: StreamId, s: &bollard::models::ContainerStatsResponse) -> String {
    let usage = |c: &Option<bollard::models::ContainerCpuStats>| {
        let c = c.as_ref();
        (
            c.and_then(|c| c.cpu_usage.as_ref())
                .and_then(|u| u.total_usage)
                .unwrap_or(0),
            c.and_then(|c| c.system_cpu_usage).unwrap_or(0),
        )
    };
    let (cpu, system) = usage(&s.cpu_stats);
    let (pre_cpu, pre_system) = usage(&s.precpu_stats);
    let online = s
        .cpu_stats
        .as_ref()
        .and_then(|c| {
            c.online_cpus.map(u64::from).or_else(|| {
                c.cpu_usage
                    .as_ref()
                    .and_then(|u| u.percpu_usage.as_ref())
                    .map(|p| p.len() as u64)
            })
        })
        .unwrap_or(1);
    let cpu_delta = cpu.saturating_sub(pre_cpu) as f64;
    let system_delta = system.saturating_sub(pre_system) as f64;
    let cpu_percent = if system_delta > 0.0 {
        cpu_delta / system_delta * online as f64 * 100.0
    } else {
        0.0
    };
    let memory = s.memory_stats.as_ref();
    let cache = memory
        .and_then(|m| m.stats.as_ref())
        .and_then(|st| {
            st.get("inactive_file")
                .or_else(|| st.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    let memory_bytes = memory
        .and_then(|m| m.usage)
        .unwrap_or(0)
        .saturating_sub(cache);
    let (rx, tx) = s
        .networks
        .iter()
        .flatten()
        .fold((0, 0), |(rx, tx), (_, n)| {
            (rx + n.rx_bytes.unwrap_or(0), tx + n.tx_bytes.unwrap_or(0))
        });
    json!({
        "type": "stats",
        "stream": stream,
        "cpu_percent": (cpu_percent * 100.0).round() / 100.0,
        "memory_bytes": memory_bytes,
        "memory_limit": memory.and_then(|m| m.limit).unwrap_or(0),
        "pids": s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0),
        "net_rx_bytes": rx,
        "net_tx_bytes": tx,
    })
    .to_string()
}
