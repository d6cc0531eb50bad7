//! `attendance_sessions` and `checkins`. Times are Unix milliseconds.

use super::Db;

/// An attendance session as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttendanceRow {
    pub id: String,
    pub course_id: String,
    pub secret: String,
    pub period_s: i64,
    pub opens_at: i64,
    pub closes_at: i64,
}

pub async fn find(db: &Db, id: &str) -> Result<Option<AttendanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, course_id, secret, period_s, opens_at, closes_at FROM attendance_sessions \
         WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Stores a new session unless the course has one open at `now`; the id of the open one if so.
/// The check and the insert share one transaction, which holds the course (see [`super::hold`]).
pub async fn insert_unless_open(
    db: &Db,
    row: &AttendanceRow,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = db.begin().await?;
    super::hold(&mut tx, &format!("attendance:{}", row.course_id)).await?;
    // One statement that writes: on SQLite a transaction that read first and wrote after would
    // fail at once (`database is locked`) when another write came between.
    let inserted = sqlx::query(
        "INSERT INTO attendance_sessions (id, course_id, secret, period_s, opens_at, closes_at) \
         SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS \
           (SELECT 1 FROM attendance_sessions WHERE course_id = $2 AND closes_at > $7)",
    )
    .bind(&row.id)
    .bind(&row.course_id)
    .bind(&row.secret)
    .bind(row.period_s)
    .bind(row.opens_at)
    .bind(row.closes_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 1 {
        tx.commit().await?;
        return Ok(None);
    }
    let open: Option<String> = sqlx::query_scalar(
        "SELECT id FROM attendance_sessions WHERE course_id = $1 AND closes_at > $2",
    )
    .bind(&row.course_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    // The same `now` in one transaction: the session the insert saw open is found.
    open.map(Some).ok_or(sqlx::Error::RowNotFound)
}

/// The course's attendance session open at `now`, if any.
pub async fn open_in_course(
    db: &Db,
    course_id: &str,
    now: i64,
) -> Result<Option<AttendanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, course_id, secret, period_s, opens_at, closes_at FROM attendance_sessions \
         WHERE course_id = $1 AND closes_at > $2 ORDER BY opens_at DESC LIMIT 1",
    )
    .bind(course_id)
    .bind(now)
    .fetch_optional(db)
    .await
}

/// Closes a session at `now` if it is still open.
pub async fn close(db: &Db, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE attendance_sessions SET closes_at = $1 WHERE id = $2 AND closes_at > $1")
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// When a student checked in, if they did.
pub async fn checked_in_at(
    db: &Db,
    attendance_id: &str,
    user_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT at FROM checkins WHERE attendance_id = $1 AND user_id = $2")
            .bind(attendance_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(at,)| at))
}

/// Records a check-in at `now` unless there is one, and returns the time kept (the first) and
/// how many have checked in.
pub async fn check_in(
    db: &Db,
    attendance_id: &str,
    user_id: &str,
    now: i64,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query(
        "INSERT INTO checkins (attendance_id, user_id, at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(attendance_id)
    .bind(user_id)
    .bind(now)
    .execute(db)
    .await?;
    // Read back: a simultaneous second check-in of the same student keeps the first time.
    sqlx::query_as(
        "SELECT (SELECT at FROM checkins WHERE attendance_id = $1 AND user_id = $2), \
                (SELECT COUNT(*) FROM checkins WHERE attendance_id = $1)",
    )
    .bind(attendance_id)
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// Every enrolled student of the session's course, by username: (id, username, checked in at).
pub async fn roster(
    db: &Db,
    attendance_id: &str,
    course_id: &str,
) -> Result<Vec<(String, String, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.username, c.at FROM course_students s JOIN users u ON u.id = s.user_id \
         LEFT JOIN checkins c ON c.attendance_id = $1 AND c.user_id = s.user_id \
         WHERE s.course_id = $2 ORDER BY u.username",
    )
    .bind(attendance_id)
    .bind(course_id)
    .fetch_all(db)
    .await
}

/// A course's attendance sessions, the latest first.
pub async fn of_course(db: &Db, course_id: &str) -> Result<Vec<AttendanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, course_id, secret, period_s, opens_at, closes_at FROM attendance_sessions \
         WHERE course_id = $1 ORDER BY opens_at DESC, id",
    )
    .bind(course_id)
    .fetch_all(db)
    .await
}
