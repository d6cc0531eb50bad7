//! Live attendance: attendance sessions of a course with rotating check-in codes ([`code`]),
//! check-ins, rosters. The teacher's screen watches on its WebSocket session (see
//! `session::streams::attendance`); this module owns the rules, and [`Attendance`] the live
//! state REST and the sessions share. Handlers are in `routes::attendance`.

pub mod code;

use std::sync::Arc;

use dashmap::DashMap;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::clock::{now_ms, rfc3339};
use crate::courses;
use crate::db::{self, Db};
use crate::error::{ApiError, ErrorCode};
use crate::events::{self, Events};
use crate::users::User;

pub const DEFAULT_PERIOD_S: i64 = 5;
pub const PERIOD_RANGE_S: std::ops::RangeInclusive<i64> = 2..=60;
pub const DEFAULT_DURATION_S: i64 = 600;
pub const MAX_DURATION_S: i64 = 24 * 3600;
/// Wrong codes a student may type per minute before being refused for a while.
const WRONG_CODES_PER_MINUTE: i64 = 5;
const WRONG_CODES_WINDOW_MS: i64 = 60_000;

/// What happened in an attendance session, for the screens watching it.
#[derive(Debug, Clone)]
pub enum Event {
    CheckIn {
        user_id: String,
        username: String,
        at_ms: i64,
        count: i64,
    },
    Closed,
}

/// Check-in state shared by the REST API and the WebSocket sessions. A check-in taken by any
/// replica is an event every replica hears, and hands to the screens it serves.
pub struct Attendance {
    /// One channel per attendance session that someone here watches.
    watchers: DashMap<String, broadcast::Sender<Event>>,
    events: Arc<Events>,
}

impl Attendance {
    pub fn new(events: Arc<Events>) -> Attendance {
        Attendance {
            watchers: DashMap::new(),
            events,
        }
    }

    /// Passes on what a replica published to the screens here that watch its session.
    pub fn deliver(&self, event: &events::Event) {
        match event {
            events::Event::CheckIn {
                attendance,
                user_id,
                username,
                at_ms,
                count,
            } => self.to_watchers(
                attendance,
                Event::CheckIn {
                    user_id: user_id.clone(),
                    username: username.clone(),
                    at_ms: *at_ms,
                    count: *count,
                },
            ),
            events::Event::AttendanceClosed { attendance } => {
                self.to_watchers(attendance, Event::Closed)
            }
            _ => {}
        }
    }

    pub fn subscribe(&self, attendance_id: &str) -> broadcast::Receiver<Event> {
        self.watchers
            .entry(attendance_id.to_string())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }

    /// Forgets the channel of a session nobody watches any more.
    pub fn unsubscribed(&self, attendance_id: &str) {
        self.watchers
            .remove_if(attendance_id, |_, tx| tx.receiver_count() == 0);
    }

    fn to_watchers(&self, attendance_id: &str, event: Event) {
        if let Some(tx) = self.watchers.get(attendance_id) {
            let _ = tx.send(event);
        }
    }

    /// Tells every replica; what it tells of is stored already, so a failure here is logged,
    /// not answered (the roster has it).
    async fn publish(&self, event: events::Event) {
        if let Err(e) = self.events.publish(event).await {
            tracing::warn!(error = %e.message, "could not publish an attendance event");
        }
    }
}

fn wrong_codes_key(user_id: &str) -> String {
    format!("checkin:{user_id}")
}

async fn check_not_throttled(db: &Db, user_id: &str) -> Result<(), ApiError> {
    let start = now_ms() - WRONG_CODES_WINDOW_MS;
    if db::throttle::failures(db, &wrong_codes_key(user_id), start).await? >= WRONG_CODES_PER_MINUTE
    {
        return Err(ApiError::new(
            ErrorCode::TooMany,
            "too many wrong codes; wait a minute",
        ));
    }
    Ok(())
}

async fn record_wrong_code(db: &Db, user_id: &str) -> Result<(), ApiError> {
    let now = now_ms();
    db::throttle::fail(
        db,
        &wrong_codes_key(user_id),
        now,
        now - WRONG_CODES_WINDOW_MS,
    )
    .await?;
    Ok(())
}

/// An attendance session of a course: while open, its code changes every `period_s`.
pub type AttendanceSession = db::attendance::AttendanceRow;

/// An attendance session as the API shows it (never its secret).
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct AttendanceView {
    id: String,
    course_id: String,
    opens_at: String,
    closes_at: String,
    period_s: i64,
    open: bool,
}

pub fn period_ms(session: &AttendanceSession) -> i64 {
    session.period_s * 1000
}

pub fn is_open(session: &AttendanceSession, now_ms: i64) -> bool {
    now_ms < session.closes_at
}

pub fn view(session: &AttendanceSession) -> AttendanceView {
    AttendanceView {
        id: session.id.clone(),
        course_id: session.course_id.clone(),
        opens_at: rfc3339(session.opens_at),
        closes_at: rfc3339(session.closes_at),
        period_s: session.period_s,
        open: is_open(session, now_ms()),
    }
}

pub async fn find(db: &Db, id: &str) -> Result<AttendanceSession, ApiError> {
    db::attendance::find(db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such attendance session"))
}

/// An attendance session whose codes this user may see: they teach its course.
pub async fn watchable(db: &Db, user: &User, id: &str) -> Result<AttendanceSession, ApiError> {
    let session = find(db, id).await?;
    courses::taught(db, user, &session.course_id).await?;
    Ok(session)
}

/// An attendance session the user takes part in: they teach its course or attend it.
pub async fn visible(db: &Db, user: &User, id: &str) -> Result<AttendanceSession, ApiError> {
    let session = find(db, id).await?;
    let course = courses::find(db, &session.course_id).await?;
    if !courses::teaches(user, &course) && !courses::is_enrolled(db, &course.id, &user.id).await? {
        return Err(ApiError::forbidden("you are not in this course"));
    }
    Ok(session)
}

/// The attendance session open now in a course the user teaches or attends (404 when none), so
/// that a student's check-in page knows where to check in.
pub async fn open_in_course(
    db: &Db,
    user: &User,
    course_id: &str,
) -> Result<AttendanceSession, ApiError> {
    let course = courses::find(db, course_id).await?;
    if !courses::teaches(user, &course) && !courses::is_enrolled(db, &course.id, &user.id).await? {
        return Err(ApiError::forbidden("you are not in this course"));
    }
    db::attendance::open_in_course(db, &course.id, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("no attendance session is open in this course"))
}

/// Opens an attendance session of a course the user teaches; one open at a time per course.
pub async fn open(
    db: &Db,
    user: &User,
    course_id: &str,
    duration_s: Option<i64>,
    period_s: Option<i64>,
) -> Result<AttendanceSession, ApiError> {
    let course = courses::taught(db, user, course_id).await?;
    let period_s = period_s.unwrap_or(DEFAULT_PERIOD_S);
    if !PERIOD_RANGE_S.contains(&period_s) {
        return Err(ApiError::bad_request(format!(
            "period_s must be between {} and {}",
            PERIOD_RANGE_S.start(),
            PERIOD_RANGE_S.end()
        )));
    }
    let duration_s = duration_s.unwrap_or(DEFAULT_DURATION_S);
    if !(period_s..=MAX_DURATION_S).contains(&duration_s) {
        return Err(ApiError::bad_request(format!(
            "duration_s must be between period_s and {MAX_DURATION_S}"
        )));
    }
    let now = now_ms();
    let session = AttendanceSession {
        id: uuid::Uuid::new_v4().to_string(),
        course_id: course.id.clone(),
        secret: crate::auth::token::random_token(),
        period_s,
        opens_at: now,
        closes_at: now + duration_s * 1000,
    };
    if let Some(open_id) = db::attendance::insert_unless_open(db, &session, now).await? {
        return Err(ApiError::conflict(format!(
            "attendance session {open_id} is still open for this course"
        )));
    }
    tracing::info!(attendance = %session.id, course = %course.id, "attendance opened");
    Ok(session)
}

/// Closes an attendance session early (the teacher's screens see it end).
pub async fn close(
    db: &Db,
    state: &Attendance,
    user: &User,
    id: &str,
) -> Result<AttendanceSession, ApiError> {
    let session = watchable(db, user, id).await?;
    if is_open(&session, now_ms()) {
        db::attendance::close(db, &session.id, now_ms()).await?;
        let attendance = session.id.clone();
        state
            .publish(events::Event::AttendanceClosed { attendance })
            .await;
    }
    find(db, id).await
}

/// The result of a check-in: when the student was first marked present.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct CheckedIn {
    pub attendance: String,
    pub at: String,
    /// False when the student had already checked in (the first time is kept).
    pub first: bool,
}

/// Checks a student in with a code they typed.
pub async fn check_in(
    db: &Db,
    state: &Attendance,
    user: &User,
    attendance_id: &str,
    typed: &str,
) -> Result<CheckedIn, ApiError> {
    let session = find(db, attendance_id).await?;
    if !courses::is_enrolled(db, &session.course_id, &user.id).await? {
        return Err(ApiError::forbidden("you are not enrolled in this course"));
    }
    if let Some(at) = db::attendance::checked_in_at(db, &session.id, &user.id).await? {
        return Ok(CheckedIn {
            attendance: session.id,
            at: rfc3339(at),
            first: false,
        });
    }
    let now = now_ms();
    if !is_open(&session, now) {
        return Err(ApiError::conflict("this attendance session is closed"));
    }
    check_not_throttled(db, &user.id).await?;
    let step = code::step(now, session.opens_at, period_ms(&session));
    if !code::accepts(session.secret.as_bytes(), step, typed) {
        record_wrong_code(db, &user.id).await?;
        return Err(ApiError::bad_request("wrong or expired code"));
    }
    let (at, count) = db::attendance::check_in(db, &session.id, &user.id, now).await?;
    let first = at == now;
    if first {
        state
            .publish(events::Event::CheckIn {
                attendance: session.id.clone(),
                user_id: user.id.clone(),
                username: user.username.clone(),
                at_ms: at,
                count,
            })
            .await;
    }
    Ok(CheckedIn {
        attendance: session.id,
        at: rfc3339(at),
        first,
    })
}

/// One enrolled student in a roster.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct RosterEntry {
    pub user_id: String,
    pub username: String,
    pub present: bool,
    pub checked_in_at: Option<String>,
}

/// Every enrolled student of a session the user teaches, present or not, by username.
pub async fn roster(
    db: &Db,
    user: &User,
    id: &str,
) -> Result<(AttendanceSession, Vec<RosterEntry>), ApiError> {
    let session = watchable(db, user, id).await?;
    let entries = db::attendance::roster(db, &session.id, &session.course_id)
        .await?
        .into_iter()
        .map(|(user_id, username, at)| RosterEntry {
            user_id,
            username,
            present: at.is_some(),
            checked_in_at: at.map(rfc3339),
        })
        .collect();
    Ok((session, entries))
}

/// One past (or open) attendance session of a course, with who was there and who was not.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct SessionRecord {
    pub attendance: AttendanceView,
    pub present: usize,
    pub enrolled: usize,
    /// The usernames of the enrolled students who did not check in.
    pub absent: Vec<String>,
}

/// Every attendance session of a course `user` teaches, the latest first; each counted
/// against the students enrolled now.
pub async fn history(
    db: &Db,
    user: &User,
    course_id: &str,
) -> Result<Vec<SessionRecord>, ApiError> {
    let course = courses::taught(db, user, course_id).await?;
    let mut records = Vec::new();
    for session in db::attendance::of_course(db, &course.id).await? {
        let roster = db::attendance::roster(db, &session.id, &course.id).await?;
        let absent: Vec<String> = roster
            .iter()
            .filter(|(_, _, at)| at.is_none())
            .map(|(_, name, _)| name.clone())
            .collect();
        records.push(SessionRecord {
            attendance: view(&session),
            present: roster.len() - absent.len(),
            enrolled: roster.len(),
            absent,
        });
    }
    Ok(records)
}
