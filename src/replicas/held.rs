//! What this replica holds in memory that a client of another replica may ask for: terminals
//! shared with a course, live streams in workspaces (to watch) and parked resumable streams (to
//! reattach). Each is recorded with this replica while it lasts, so that another replica finds
//! the holder and relays the request to it (see `session::relay`). Lists are read from the
//! records, so every replica lists the same.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{Replicas, BEAT, DEAD_AFTER};
use crate::db::{self, held::ShareRow, held::SourceRow, Db};
use crate::error::ApiError;
use crate::live_sessions::Sessions;

/// How often a replica checks the rows of its sessions against the sessions it holds.
const SEATS_CHECKED_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// A live share, as `GET /courses/{id}/shares` lists it.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct ShareView {
    pub share: String,
    pub course_id: String,
    /// Who shares it (a username).
    pub by: String,
    pub started_at: String,
}

/// A live stream in a workspace, as `GET /workspaces/{id}/streams` lists it.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct SourceView {
    /// What `watch` names as its `source`.
    pub id: String,
    /// `exec` or `run`.
    pub kind: String,
    pub started_at: String,
    /// A TTY exec (a terminal) or not.
    pub tty: bool,
}

/// Where something asked for is: here, on another replica (reached at its address), or
/// nowhere alive.
#[derive(Debug, PartialEq, Eq)]
pub enum Place {
    Here,
    Replica(String),
    Nowhere,
}

impl Replicas {
    /// The oldest heartbeat of a replica still alive.
    fn alive_since(&self) -> i64 {
        crate::clock::now_ms() - DEAD_AFTER.as_millis() as i64
    }

    fn place(&self, holder: Option<db::held::Holder>) -> Place {
        match holder {
            None => Place::Nowhere,
            Some(holder) if holder.replica_id == self.id => Place::Here,
            Some(holder) => holder.address.map_or(Place::Nowhere, Place::Replica),
        }
    }

    pub async fn share_added(&self, id: &str, course_id: &str, by: &str) -> Result<(), ApiError> {
        let row = ShareRow {
            id: id.to_string(),
            replica_id: self.id.clone(),
            course_id: course_id.to_string(),
            by_username: by.to_string(),
            started_ms: crate::clock::now_ms(),
        };
        Ok(db::held::share_added(&self.db, &row).await?)
    }

    pub async fn share_ended(&self, id: &str) {
        if let Err(e) = db::held::share_ended(&self.db, id).await {
            tracing::warn!(error = %e, "could not forget an ended share");
        }
    }

    /// The shares of a course, on every replica, oldest first.
    pub async fn shares_of_course(&self, course_id: &str) -> Result<Vec<ShareView>, ApiError> {
        let rows = db::held::shares_of_course(&self.db, course_id, self.alive_since()).await?;
        Ok(rows
            .into_iter()
            .map(|row| ShareView {
                share: row.id,
                course_id: row.course_id,
                by: row.by_username,
                started_at: crate::clock::rfc3339(row.started_ms),
            })
            .collect())
    }

    pub async fn share_place(&self, id: &str) -> Result<Place, ApiError> {
        let holder = db::held::share_holder(&self.db, id, self.alive_since()).await?;
        Ok(self.place(holder))
    }

    pub async fn source_added(
        &self,
        id: &str,
        workspace_id: &str,
        kind: &str,
        tty: bool,
    ) -> Result<(), ApiError> {
        let row = SourceRow {
            id: id.to_string(),
            replica_id: self.id.clone(),
            workspace_id: workspace_id.to_string(),
            kind: kind.to_string(),
            tty: i64::from(tty),
            started_ms: crate::clock::now_ms(),
        };
        Ok(db::held::source_added(&self.db, &row).await?)
    }

    pub async fn source_ended(&self, id: &str) {
        if let Err(e) = db::held::source_ended(&self.db, id).await {
            tracing::warn!(error = %e, "could not forget an ended workspace stream");
        }
    }

    /// The live streams of a workspace, on every replica, oldest first.
    pub async fn sources_of_workspace(
        &self,
        workspace_id: &str,
    ) -> Result<Vec<SourceView>, ApiError> {
        let rows =
            db::held::sources_of_workspace(&self.db, workspace_id, self.alive_since()).await?;
        Ok(rows
            .into_iter()
            .map(|row| SourceView {
                id: row.id,
                kind: row.kind,
                started_at: crate::clock::rfc3339(row.started_ms),
                tty: row.tty != 0,
            })
            .collect())
    }

    pub async fn source_place(&self, workspace_id: &str, id: &str) -> Result<Place, ApiError> {
        let holder =
            db::held::source_holder(&self.db, workspace_id, id, self.alive_since()).await?;
        Ok(self.place(holder))
    }

    /// Where job `id`'s output is kept: on the replica that runs (or ran) it.
    pub async fn job_place(&self, id: &str) -> Result<Place, ApiError> {
        let holder = db::jobs::holder(&self.db, id, self.alive_since()).await?;
        Ok(self.place(holder))
    }

    /// Records `user_id`'s streams parked here under `resume_hash` for `grace_ms`.
    pub async fn parked(&self, resume_hash: &str, user_id: &str, grace_ms: i64) {
        let until = crate::clock::now_ms() + grace_ms;
        if let Err(e) = db::held::parked(&self.db, resume_hash, &self.id, user_id, until).await {
            // A reattach through another replica will not find them; one through this one will.
            tracing::warn!(error = %e, "could not record parked streams");
        }
    }

    pub async fn unparked(&self, resume_hash: &str) {
        if let Err(e) = db::held::unparked(&self.db, resume_hash, &self.id).await {
            tracing::warn!(error = %e, "could not forget parked streams");
        }
    }

    /// Where `user_id`'s streams parked under `resume_hash` are, within their grace.
    pub async fn parked_place(&self, resume_hash: &str, user_id: &str) -> Result<Place, ApiError> {
        let now = crate::clock::now_ms();
        let holder =
            db::held::parked_holder(&self.db, resume_hash, user_id, now, self.alive_since())
                .await?;
        Ok(self.place(holder))
    }

    /// Takes one of `user_id`'s `max` sessions, counted across the replicas alive; None when
    /// all are taken. The seat is given back when dropped.
    pub async fn seat_session(&self, user_id: &str, max: usize) -> Result<Option<Seat>, ApiError> {
        // The guard first: an upgrade cut off during the INSERT still gives the row back.
        let mut seat = Seat {
            db: self.db.clone(),
            id: uuid::Uuid::new_v4().simple().to_string(),
        };
        let now = crate::clock::now_ms();
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let admitted = db::held::admit_session(
            &self.db,
            &seat.id,
            user_id,
            &self.id,
            max,
            now,
            self.alive_since(),
        )
        .await?;
        if !admitted {
            seat.id.clear(); // no row to give back
            return Ok(None);
        }
        Ok(Some(seat))
    }

    /// Each user's sessions on every replica alive, and the streams they run on the others (as
    /// each last recorded them; this one's own are counted live): user id → (sessions, streams).
    pub async fn sessions_per_user(&self) -> Result<HashMap<String, (usize, usize)>, ApiError> {
        let rows = db::held::sessions_per_user(&self.db, self.alive_since(), &self.id).await?;
        let count = |n: i64| usize::try_from(n).unwrap_or(0);
        Ok(rows
            .into_iter()
            .map(|(user, sessions, streams)| (user, (count(sessions), count(streams))))
            .collect())
    }

    /// Keeps the rows of this replica's sessions (`sessions`) true until `stop`: every [`BEAT`]
    /// the streams of those whose count changed, and every [`SEATS_CHECKED_EVERY`] the rows
    /// themselves (see [`Replicas::check_seats`]).
    pub async fn keep_seats(self: Arc<Self>, sessions: Arc<Sessions>, stop: CancellationToken) {
        let mut written: HashMap<String, usize> = HashMap::new();
        let mut ticks = tokio::time::interval(BEAT);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_check = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticks.tick() => {}
            }
            if last_check.elapsed() >= SEATS_CHECKED_EVERY {
                last_check = tokio::time::Instant::now();
                if let Err(e) = self.check_seats(&sessions).await {
                    tracing::warn!(error = %e.message, "could not check the sessions' rows");
                }
            }
            let now: HashMap<String, usize> = sessions
                .seats()
                .into_iter()
                .map(|(seat, s)| (seat, s.streams))
                .collect();
            let changed: Vec<(String, i64)> = now
                .iter()
                .filter(|(seat, n)| written.get(*seat).copied().unwrap_or(0) != **n)
                .map(|(seat, n)| (seat.clone(), i64::try_from(*n).unwrap_or(i64::MAX)))
                .collect();
            if changed.is_empty() {
                written = now;
                continue;
            }
            match db::held::session_streams(&self.db, &changed).await {
                Ok(()) => written = now,
                Err(e) => tracing::warn!(error = %e, "could not record the sessions' streams"),
            }
        }
    }

    /// Mends what went wrong with this replica's session rows: one whose session is over (its
    /// DELETE failed, or the upgrade was cut off after the seat) is forgotten, so it does not
    /// count against its user for the replica's life; a live session's row the leader forgot
    /// (this replica was silent long enough to be thought dead) is recorded again. The rows are
    /// read before the sessions, so a seat taken in between is only recorded again, which does
    /// nothing to a row that is there.
    async fn check_seats(&self, sessions: &Sessions) -> Result<(), ApiError> {
        let now = crate::clock::now_ms();
        let settled = now - SEATS_CHECKED_EVERY.as_millis() as i64;
        let rows = db::held::sessions_of_replica(&self.db, &self.id).await?;
        let seats = sessions.seats();
        let recorded: std::collections::HashSet<&str> =
            rows.iter().map(|(id, _)| id.as_str()).collect();
        for (id, opened_ms) in &rows {
            // A seat just taken may not be registered yet: only rows older than a check count.
            if !seats.contains_key(id) && *opened_ms < settled {
                db::held::session_closed(&self.db, id).await?;
                tracing::info!(seat = %id, "forgot the row of a session that is over");
            }
        }
        for (seat, s) in &seats {
            if !recorded.contains(seat.as_str()) {
                let again = db::held::LiveSessionRow {
                    id: seat,
                    user_id: &s.user_id,
                    replica_id: &self.id,
                    opened_ms: now,
                    streams: i64::try_from(s.streams).unwrap_or(i64::MAX),
                };
                db::held::session_recorded_again(&self.db, &again).await?;
                tracing::info!(seat = %seat, "recorded a live session's row again");
            }
        }
        Ok(())
    }
}

/// A session counted against its user's limit on every replica, until dropped.
pub struct Seat {
    db: Db,
    id: String,
}

impl Seat {
    /// The session's row, which [`Replicas::keep_seats`] writes its streams to.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        if self.id.is_empty() {
            return;
        }
        let db = self.db.clone();
        let id = std::mem::take(&mut self.id);
        super::forget_soon("a closed session", async move {
            db::held::session_closed(&db, &id).await
        });
    }
}
