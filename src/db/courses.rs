//! `courses` and `course_students`.

use super::Db;

#[derive(Debug, sqlx::FromRow)]
pub struct CourseRow {
    pub id: String,
    pub name: String,
    pub join_code: String,
    pub teacher_id: String,
}

pub async fn find(db: &Db, id: &str) -> Result<Option<CourseRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, join_code, teacher_id FROM courses WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn by_join_code(db: &Db, code: &str) -> Result<Option<CourseRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, join_code, teacher_id FROM courses WHERE join_code = $1")
        .bind(code)
        .fetch_optional(db)
        .await
}

/// Fails with a unique violation when the join code is taken.
pub async fn insert(db: &Db, course: &CourseRow, created_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO courses (id, name, join_code, teacher_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&course.id)
    .bind(&course.name)
    .bind(&course.join_code)
    .bind(&course.teacher_id)
    .bind(created_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The courses a user teaches, oldest first.
pub async fn taught_by(db: &Db, user_id: &str) -> Result<Vec<CourseRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, join_code, teacher_id FROM courses WHERE teacher_id = $1 \
         ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// The courses a user attends, in the order they joined.
pub async fn attended_by(db: &Db, user_id: &str) -> Result<Vec<CourseRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.name, c.join_code, c.teacher_id FROM courses c \
         JOIN course_students s ON s.course_id = c.id WHERE s.user_id = $1 ORDER BY s.joined_at",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

pub async fn is_enrolled(db: &Db, course_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT user_id FROM course_students WHERE course_id = $1 AND user_id = $2")
            .bind(course_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    Ok(row.is_some())
}

/// Enrolls a student; enrolling twice is the same as once.
pub async fn enroll(db: &Db, course_id: &str, user_id: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO course_students (course_id, user_id, joined_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(course_id)
    .bind(user_id)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether the student was enrolled.
pub async fn unenroll(db: &Db, course_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query("DELETE FROM course_students WHERE course_id = $1 AND user_id = $2")
        .bind(course_id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(removed.rows_affected() > 0)
}

/// A course's students by username: (id, username, joined_at in seconds).
pub async fn students(db: &Db, course_id: &str) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.username, s.joined_at FROM course_students s \
         JOIN users u ON u.id = s.user_id WHERE s.course_id = $1 ORDER BY u.username",
    )
    .bind(course_id)
    .fetch_all(db)
    .await
}

/// Whether `teacher_id` teaches a course that `student_id` attends.
pub async fn teaches_student(
    db: &Db,
    teacher_id: &str,
    student_id: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT c.id FROM courses c JOIN course_students s ON s.course_id = c.id \
         WHERE c.teacher_id = $1 AND s.user_id = $2 LIMIT 1",
    )
    .bind(teacher_id)
    .bind(student_id)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}
