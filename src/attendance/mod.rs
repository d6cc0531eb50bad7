//! Live attendance: courses and their students, attendance sessions with rotating check-in codes,
//! check-ins, rosters. The teacher's screen watches on its WebSocket session (see
//! `session::streams::attendance_watch`); this module owns the data and the rules.

pub mod code;

use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use dashmap::DashMap;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::accounts::User;
use crate::auth::AuthUser;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode};

pub const DEFAULT_PERIOD_S: i64 = 5;
pub const PERIOD_RANGE_S: std::ops::RangeInclusive<i64> = 2..=60;
pub const DEFAULT_DURATION_S: i64 = 600;
pub const MAX_DURATION_S: i64 = 24 * 3600;
/// Wrong codes a student may type per minute before being refused for a while.
const WRONG_CODES_PER_MINUTE: u32 = 5;

pub use crate::db::now_ms;

/// RFC 3339 with milliseconds, UTC.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

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

/// Check-in state shared by the REST API and the WebSocket sessions.
#[derive(Default)]
pub struct Attendance {
    /// One channel per attendance session that someone watches.
    watchers: DashMap<String, broadcast::Sender<Event>>,
    wrong_codes: DashMap<String, (u32, Instant)>,
}

impl Attendance {
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

    fn publish(&self, attendance_id: &str, event: Event) {
        if let Some(tx) = self.watchers.get(attendance_id) {
            let _ = tx.send(event);
        }
    }
}

/// An attendance session as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub course_id: String,
    pub secret: String,
    pub period_s: i64,
    pub opens_at: i64,
    pub closes_at: i64,
}

impl Session {
    pub fn period_ms(&self) -> i64 {
        self.period_s * 1000
    }
    pub fn is_open(&self, now_ms: i64) -> bool {
        now_ms < self.closes_at
    }
    fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "course_id": self.course_id,
            "opens_at": rfc3339(self.opens_at),
            "closes_at": rfc3339(self.closes_at),
            "period_s": self.period_s,
            "open": self.is_open(now_ms()),
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Course {
    id: String,
    teacher_id: String,
}

async fn course(db: &Db, id: &str) -> Result<Course, ApiError> {
    sqlx::query_as("SELECT id, teacher_id FROM courses WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| ApiError::not_found("no such course"))
}

fn teaches(user: &User, course: &Course) -> bool {
    course.teacher_id == user.id || user.is_admin()
}

/// A course the user teaches; others' courses are forbidden.
async fn taught_course(db: &Db, user: &User, id: &str) -> Result<Course, ApiError> {
    let course = course(db, id).await?;
    if teaches(user, &course) {
        Ok(course)
    } else {
        Err(ApiError::forbidden("only the course's teacher may do this"))
    }
}

async fn is_enrolled(db: &Db, course_id: &str, user_id: &str) -> Result<bool, ApiError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT user_id FROM course_students WHERE course_id = ? AND user_id = ?")
            .bind(course_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    Ok(row.is_some())
}

pub async fn session(db: &Db, id: &str) -> Result<Session, ApiError> {
    sqlx::query_as(
        "SELECT id, course_id, secret, period_s, opens_at, closes_at FROM attendance_sessions WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| ApiError::not_found("no such attendance session"))
}

/// An attendance session whose codes this user may see: they teach its course.
pub async fn watchable_session(db: &Db, user: &User, id: &str) -> Result<Session, ApiError> {
    let session = session(db, id).await?;
    taught_course(db, user, &session.course_id).await?;
    Ok(session)
}

/// The result of a check-in: when the student was first marked present.
#[derive(Debug, Serialize)]
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
    let session = session(db, attendance_id).await?;
    if !is_enrolled(db, &session.course_id, &user.id).await? {
        return Err(ApiError::forbidden("you are not enrolled in this course"));
    }
    let existing: Option<(i64,)> =
        sqlx::query_as("SELECT at FROM checkins WHERE attendance_id = ? AND user_id = ?")
            .bind(&session.id)
            .bind(&user.id)
            .fetch_optional(db)
            .await?;
    if let Some((at,)) = existing {
        return Ok(CheckedIn {
            attendance: session.id,
            at: rfc3339(at),
            first: false,
        });
    }
    let now = now_ms();
    if !session.is_open(now) {
        return Err(ApiError::conflict("this attendance session is closed"));
    }
    check_not_throttled(state, &user.id)?;
    let step = code::step(now, session.opens_at, session.period_ms());
    if !code::accepts(session.secret.as_bytes(), step, typed) {
        record_wrong_code(state, &user.id);
        return Err(ApiError::bad_request("wrong or expired code"));
    }
    sqlx::query(
        "INSERT INTO checkins (attendance_id, user_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(&session.id)
    .bind(&user.id)
    .bind(now)
    .execute(db)
    .await?;
    // Read back: a simultaneous second check-in of the same student keeps the first time.
    let (at, count): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT at FROM checkins WHERE attendance_id = ? AND user_id = ?), \
                (SELECT COUNT(*) FROM checkins WHERE attendance_id = ?)",
    )
    .bind(&session.id)
    .bind(&user.id)
    .bind(&session.id)
    .fetch_one(db)
    .await?;
    let first = at == now;
    if first {
        state.publish(
            &session.id,
            Event::CheckIn {
                user_id: user.id.clone(),
                username: user.username.clone(),
                at_ms: at,
                count,
            },
        );
    }
    Ok(CheckedIn {
        attendance: session.id,
        at: rfc3339(at),
        first,
    })
}

fn check_not_throttled(state: &Attendance, user_id: &str) -> Result<(), ApiError> {
    let throttled = state.wrong_codes.get(user_id).is_some_and(|entry| {
        entry.1.elapsed() < Duration::from_secs(60) && entry.0 >= WRONG_CODES_PER_MINUTE
    });
    if throttled {
        Err(ApiError::new(
            ErrorCode::TooMany,
            "too many wrong codes; wait a minute",
        ))
    } else {
        Ok(())
    }
}

fn record_wrong_code(state: &Attendance, user_id: &str) {
    let mut entry = state
        .wrong_codes
        .entry(user_id.to_string())
        .or_insert((0, Instant::now()));
    if entry.1.elapsed() >= Duration::from_secs(60) {
        *entry = (0, Instant::now());
    }
    entry.0 += 1;
}

// ---- REST ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCourse {
    name: String,
}

/// Join codes avoid characters that are easy to misread (0/O, 1/I/L).
fn new_join_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

async fn create_course(
    user: AuthUser,
    db: web::Data<Db>,
    body: web::Json<NewCourse>,
) -> Result<HttpResponse, ApiError> {
    if !user.user.is_staff() {
        return Err(ApiError::forbidden("only teachers create courses"));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1-100 characters"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    for _ in 0..5 {
        let join_code = new_join_code();
        let inserted = sqlx::query(
            "INSERT INTO courses (id, name, join_code, teacher_id, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(name)
        .bind(&join_code)
        .bind(&user.user.id)
        .bind(crate::db::now_s())
        .execute(db.get_ref())
        .await;
        match inserted {
            Ok(_) => {
                return Ok(HttpResponse::Created().json(serde_json::json!({
                    "id": id, "name": name, "join_code": join_code,
                })))
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(&std::io::Error::other(
        "no free join code",
    )))
}

async fn list_courses(user: AuthUser, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let taught: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, name, join_code FROM courses WHERE teacher_id = ? ORDER BY created_at",
    )
    .bind(&user.user.id)
    .fetch_all(db.get_ref())
    .await?;
    let attended: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.id, c.name FROM courses c JOIN course_students s ON s.course_id = c.id \
         WHERE s.user_id = ? ORDER BY s.joined_at",
    )
    .bind(&user.user.id)
    .fetch_all(db.get_ref())
    .await?;
    let mut courses: Vec<serde_json::Value> = taught
        .into_iter()
        .map(|(id, name, join_code)| {
            serde_json::json!({"id": id, "name": name, "join_code": join_code, "role": "teacher"})
        })
        .collect();
    courses.extend(
        attended
            .into_iter()
            .map(|(id, name)| serde_json::json!({"id": id, "name": name, "role": "student"})),
    );
    Ok(HttpResponse::Ok().json(courses))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Join {
    join_code: String,
}

async fn join_course(
    user: AuthUser,
    db: web::Data<Db>,
    body: web::Json<Join>,
) -> Result<HttpResponse, ApiError> {
    let code = body.join_code.trim().to_ascii_uppercase();
    let course: Option<(String, String, String)> =
        sqlx::query_as("SELECT id, name, teacher_id FROM courses WHERE join_code = ?")
            .bind(&code)
            .fetch_optional(db.get_ref())
            .await?;
    let (id, name, teacher_id) =
        course.ok_or_else(|| ApiError::not_found("no course has that join code"))?;
    if teacher_id == user.user.id {
        return Err(ApiError::conflict("you teach this course"));
    }
    sqlx::query(
        "INSERT INTO course_students (course_id, user_id, joined_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(&id)
    .bind(&user.user.id)
    .bind(crate::db::now_s())
    .execute(db.get_ref())
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"id": id, "name": name, "role": "student"})))
}

async fn list_students(
    user: AuthUser,
    db: web::Data<Db>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let course = taught_course(&db, &user.user, &id).await?;
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.username, s.joined_at FROM course_students s JOIN users u ON u.id = s.user_id \
         WHERE s.course_id = ? ORDER BY u.username",
    )
    .bind(&course.id)
    .fetch_all(db.get_ref())
    .await?;
    let students: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(id, username, joined)| {
            serde_json::json!({"id": id, "username": username, "joined_at": rfc3339(joined * 1000)})
        })
        .collect();
    Ok(HttpResponse::Ok().json(students))
}

async fn remove_student(
    user: AuthUser,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (course_id, student_id) = path.into_inner();
    let course = taught_course(&db, &user.user, &course_id).await?;
    let removed = sqlx::query("DELETE FROM course_students WHERE course_id = ? AND user_id = ?")
        .bind(&course.id)
        .bind(&student_id)
        .execute(db.get_ref())
        .await?;
    if removed.rows_affected() == 0 {
        return Err(ApiError::not_found("no such student in this course"));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewAttendance {
    duration_s: Option<i64>,
    period_s: Option<i64>,
}

async fn open_attendance(
    user: AuthUser,
    db: web::Data<Db>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let course = taught_course(&db, &user.user, &id).await?;
    // Every field is optional, so an empty body means the defaults.
    let body: NewAttendance = if body.iter().all(u8::is_ascii_whitespace) {
        NewAttendance::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let period_s = body.period_s.unwrap_or(DEFAULT_PERIOD_S);
    if !PERIOD_RANGE_S.contains(&period_s) {
        return Err(ApiError::bad_request(format!(
            "period_s must be between {} and {}",
            PERIOD_RANGE_S.start(),
            PERIOD_RANGE_S.end()
        )));
    }
    let duration_s = body.duration_s.unwrap_or(DEFAULT_DURATION_S);
    if !(period_s..=MAX_DURATION_S).contains(&duration_s) {
        return Err(ApiError::bad_request(format!(
            "duration_s must be between period_s and {MAX_DURATION_S}"
        )));
    }
    let now = now_ms();
    let session = Session {
        id: uuid::Uuid::new_v4().to_string(),
        course_id: course.id.clone(),
        secret: crate::auth::token::random_token(),
        period_s,
        opens_at: now,
        closes_at: now + duration_s * 1000,
    };
    // One open session per course: the check and the insert happen in one transaction, which
    // SQLite runs one writer at a time.
    let mut tx = db.begin().await?;
    let open: Option<(String,)> =
        sqlx::query_as("SELECT id FROM attendance_sessions WHERE course_id = ? AND closes_at > ?")
            .bind(&course.id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((open_id,)) = open {
        return Err(ApiError::conflict(format!(
            "attendance session {open_id} is still open for this course"
        )));
    }
    sqlx::query(
        "INSERT INTO attendance_sessions (id, course_id, secret, period_s, opens_at, closes_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&session.id)
    .bind(&session.course_id)
    .bind(&session.secret)
    .bind(session.period_s)
    .bind(session.opens_at)
    .bind(session.closes_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(attendance = %session.id, course = %course.id, "attendance opened");
    Ok(HttpResponse::Created().json(session.view()))
}

async fn get_attendance(
    user: AuthUser,
    db: web::Data<Db>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = session(&db, &id).await?;
    let course = course(&db, &session.course_id).await?;
    if !teaches(&user.user, &course) && !is_enrolled(&db, &course.id, &user.user.id).await? {
        return Err(ApiError::forbidden("you are not in this course"));
    }
    Ok(HttpResponse::Ok().json(session.view()))
}

async fn close_attendance(
    user: AuthUser,
    db: web::Data<Db>,
    state: web::Data<Attendance>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = watchable_session(&db, &user.user, &id).await?;
    let now = now_ms();
    if session.is_open(now) {
        sqlx::query("UPDATE attendance_sessions SET closes_at = ? WHERE id = ? AND closes_at > ?")
            .bind(now)
            .bind(&session.id)
            .bind(now)
            .execute(db.get_ref())
            .await?;
        state.publish(&session.id, Event::Closed);
    }
    let session = self::session(&db, &id).await?;
    Ok(HttpResponse::Ok().json(session.view()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckInBody {
    code: String,
}

async fn check_in_route(
    user: AuthUser,
    db: web::Data<Db>,
    state: web::Data<Attendance>,
    id: web::Path<String>,
    body: web::Json<CheckInBody>,
) -> Result<HttpResponse, ApiError> {
    let checked = check_in(&db, &state, &user.user, &id, &body.code).await?;
    Ok(HttpResponse::Ok().json(checked))
}

#[derive(Deserialize)]
struct RosterQuery {
    format: Option<String>,
}

async fn roster(
    user: AuthUser,
    db: web::Data<Db>,
    id: web::Path<String>,
    query: web::Query<RosterQuery>,
) -> Result<HttpResponse, ApiError> {
    let session = watchable_session(&db, &user.user, &id).await?;
    let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT u.id, u.username, c.at FROM course_students s JOIN users u ON u.id = s.user_id \
         LEFT JOIN checkins c ON c.attendance_id = ? AND c.user_id = s.user_id \
         WHERE s.course_id = ? ORDER BY u.username",
    )
    .bind(&session.id)
    .bind(&session.course_id)
    .fetch_all(db.get_ref())
    .await?;
    match query.format.as_deref() {
        None | Some("json") => {
            let present = rows.iter().filter(|r| r.2.is_some()).count();
            let students: Vec<serde_json::Value> = rows
                .into_iter()
                .map(|(id, username, at)| {
                    serde_json::json!({
                        "user_id": id,
                        "username": username,
                        "present": at.is_some(),
                        "checked_in_at": at.map(rfc3339),
                    })
                })
                .collect();
            Ok(HttpResponse::Ok().json(serde_json::json!({
                "attendance": session.view(),
                "present": present,
                "enrolled": students.len(),
                "students": students,
            })))
        }
        Some("csv") => {
            // Usernames are letters, digits, '.', '_' and '-': nothing to quote.
            let mut csv = String::from("username,present,checked_in_at\r\n");
            for (_, username, at) in rows {
                let at = at.map(rfc3339).unwrap_or_default();
                csv.push_str(&format!(
                    "{username},{},{at}\r\n",
                    if at.is_empty() { "no" } else { "yes" }
                ));
            }
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"attendance-{}.csv\"", session.id),
                ))
                .body(csv))
        }
        Some(_) => Err(ApiError::bad_request("format must be json or csv")),
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/courses", web::post().to(create_course))
        .route("/courses", web::get().to(list_courses))
        .route("/courses/join", web::post().to(join_course))
        .route("/courses/{id}/students", web::get().to(list_students))
        .route(
            "/courses/{id}/students/{user_id}",
            web::delete().to(remove_student),
        )
        .route("/courses/{id}/attendance", web::post().to(open_attendance))
        .route("/attendance/{id}", web::get().to(get_attendance))
        .route("/attendance/{id}/close", web::post().to(close_attendance))
        .route("/attendance/{id}/checkin", web::post().to(check_in_route))
        .route("/attendance/{id}/roster", web::get().to(roster));
}
