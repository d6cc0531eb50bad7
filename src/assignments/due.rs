//! The due time: berth hands in the folder of every student who started an assignment and had
//! not handed it in by then (a snapshot marked `collected`, checked like any other). One task
//! looks every few seconds for assignments that fell due; each is collected once per due time
//! (moving `due_at` collects again at the new one).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::access::Reach;
use super::submissions::{self, Snapshots};
use crate::db::{self, Db};
use crate::error::ApiError;

/// How soon after its due time an assignment is collected, at most.
pub const COLLECT_EVERY: Duration = Duration::from_secs(3);

/// Collects assignments as they fall due, as the leader in `term`, until `stop`.
pub async fn collect_when_due(
    db: &Db,
    term: i64,
    reach: Reach<'_>,
    snapshots: Snapshots<'_>,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(COLLECT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(err) = collect_due(db, term, &reach, &snapshots).await {
            tracing::warn!(error = %err.message, "collecting work at its due time failed");
        }
    }
}

async fn collect_due(
    db: &Db,
    term: i64,
    reach: &Reach<'_>,
    snapshots: &Snapshots<'_>,
) -> Result<(), ApiError> {
    let now = crate::clock::now_s();
    for row in db::assignments::due_uncollected(db, now).await? {
        let Some(due) = row.due_at else { continue };
        let started = db::assignments::started_by(db, &row.id).await?;
        let handed_in = db::assignments::latest_submissions(db, &row.id).await?;
        let students = db::courses::students(db, &row.course_id).await?;
        let mut collected = 0;
        for (student_id, username, _) in students {
            if !started.contains(&student_id) || handed_in.iter().any(|s| s.user_id == student_id) {
                continue;
            }
            let Some(student) = crate::users::find_by_id(db, &student_id).await? else {
                continue;
            };
            // One student's workspace that is gone or on an engine that went away does not
            // hold up the rest of the class: it is said, and the others are collected.
            match submissions::take(db, reach, snapshots, &student, &row, false, Some(term)).await {
                Ok(_) => collected += 1,
                Err(err) => tracing::warn!(
                    assignment = %row.id, student = %username, error = %err.message,
                    "could not collect a student's work at the due time"
                ),
            }
        }
        if db::assignments::mark_collected(db, &row.id, due, now, term).await? {
            tracing::info!(assignment = %row.id, collected, "collected at the due time");
        }
    }
    Ok(())
}
