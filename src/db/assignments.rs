//! `assignments` and `assignment_workspaces`.

use super::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AssignmentRow {
    pub id: String,
    pub course_id: String,
    pub title: String,
    pub template_id: String,
    pub instructions: String,
    pub due_at: Option<i64>,
    #[sqlx(try_from = "super::Flag")]
    pub accept_late: bool,
    pub files: String,
    pub checking: Option<String>,
    pub folder: String,
    pub created_by: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, course_id, title, template_id, instructions, due_at, accept_late, \
                       files, checking, folder, created_by, created_at";
/// [`COLUMNS`] as read (see [`super::Flag`]).
const SELECTED: &str = "id, course_id, title, template_id, instructions, due_at, \
                        CASE WHEN accept_late THEN 1 ELSE 0 END AS accept_late, \
                        files, checking, folder, created_by, created_at";

pub async fn insert(db: &Db, a: &AssignmentRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO assignments ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&a.id)
    .bind(&a.course_id)
    .bind(&a.title)
    .bind(&a.template_id)
    .bind(&a.instructions)
    .bind(a.due_at)
    .bind(a.accept_late)
    .bind(&a.files)
    .bind(&a.checking)
    .bind(&a.folder)
    .bind(&a.created_by)
    .bind(a.created_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces what may change of an assignment (not its course, template or folder).
pub async fn update(db: &Db, a: &AssignmentRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE assignments SET title = $2, instructions = $3, due_at = $4, accept_late = $5, \
         files = $6, checking = $7 WHERE id = $1",
    )
    .bind(&a.id)
    .bind(&a.title)
    .bind(&a.instructions)
    .bind(a.due_at)
    .bind(a.accept_late)
    .bind(&a.files)
    .bind(&a.checking)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: &Db, id: &str) -> Result<Option<AssignmentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SELECTED} FROM assignments WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// A course's assignments, oldest first.
pub async fn of_course(db: &Db, course_id: &str) -> Result<Vec<AssignmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SELECTED} FROM assignments WHERE course_id = $1 ORDER BY created_at, id"
    ))
    .bind(course_id)
    .fetch_all(db)
    .await
}

pub async fn delete(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM assignments WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The workspace a student does a template's assignments in, if one was made.
pub async fn workspace_for(
    db: &Db,
    owner_id: &str,
    template_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT workspace_id FROM assignment_workspaces WHERE owner_id = $1 AND template_id = $2",
    )
    .bind(owner_id)
    .bind(template_id)
    .fetch_optional(db)
    .await
}

/// Records (or replaces, when the old one is gone) a student's workspace for a template.
pub async fn set_workspace(
    db: &Db,
    owner_id: &str,
    template_id: &str,
    workspace_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO assignment_workspaces (owner_id, template_id, workspace_id) \
         VALUES ($1, $2, $3) \
         ON CONFLICT (owner_id, template_id) DO UPDATE SET workspace_id = excluded.workspace_id",
    )
    .bind(owner_id)
    .bind(template_id)
    .bind(workspace_id)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubmissionRow {
    pub id: String,
    pub assignment_id: String,
    pub user_id: String,
    pub submitted_at: i64,
    #[sqlx(try_from = "super::Flag")]
    pub late: bool,
    pub files: i64,
    pub bytes: i64,
    pub archive: String,
    /// Taken by berth at the due time rather than handed in.
    #[sqlx(try_from = "super::Flag")]
    pub collected: bool,
}

const SUBMISSION_COLUMNS: &str =
    "id, assignment_id, user_id, submitted_at, late, files, bytes, archive, collected";
/// [`SUBMISSION_COLUMNS`] as read (see [`super::Flag`]).
const SUBMISSION_SELECTED: &str = "id, assignment_id, user_id, submitted_at, \
     CASE WHEN late THEN 1 ELSE 0 END AS late, files, bytes, archive, \
     CASE WHEN collected THEN 1 ELSE 0 END AS collected";

/// Records a submission and, when its assignment has a check, that check as queued for the
/// replica `check_by`: both or neither. `collecting_in`: the leader's term, when the leader
/// collects it at the due time; then it is recorded only while that term holds and the student
/// has handed nothing in (false otherwise), so that a stale leader, or a student's own
/// submission just before, makes no second one. The student's submissions of the assignment are
/// held meanwhile, so that a hand-in and a collection at the same instant see each other.
pub async fn insert_submission(
    db: &Db,
    s: &SubmissionRow,
    check_by: Option<&str>,
    collecting_in: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    super::hold(
        &mut tx,
        &format!("submission:{}:{}", s.assignment_id, s.user_id),
    )
    .await?;
    let inserted = sqlx::query(&format!(
        "INSERT INTO submissions ({SUBMISSION_COLUMNS}) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
         WHERE $10 IS NULL OR (\
           EXISTS (SELECT 1 FROM leadership WHERE id = 1 AND term = $10) \
           AND NOT EXISTS (SELECT 1 FROM submissions WHERE assignment_id = $2 AND user_id = $3))"
    ))
    .bind(&s.id)
    .bind(&s.assignment_id)
    .bind(&s.user_id)
    .bind(s.submitted_at)
    .bind(s.late)
    .bind(s.files)
    .bind(s.bytes)
    .bind(&s.archive)
    .bind(s.collected)
    .bind(collecting_in)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    if let Some(replica) = check_by {
        sqlx::query(
            "INSERT INTO checks (submission_id, state, output, replica_id) \
             VALUES ($1, 'queued', '', $2)",
        )
        .bind(&s.id)
        .bind(replica)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Each student's latest submission of an assignment. Submission ids are UUIDv7 (ordered by
/// time), so the greatest is the latest, even of two in one second.
pub async fn latest_submissions(
    db: &Db,
    assignment_id: &str,
) -> Result<Vec<SubmissionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SUBMISSION_SELECTED} FROM submissions s WHERE s.assignment_id = $1 AND s.id = \
         (SELECT MAX(t.id) FROM submissions t \
          WHERE t.assignment_id = s.assignment_id AND t.user_id = s.user_id) \
         ORDER BY s.user_id"
    ))
    .bind(assignment_id)
    .fetch_all(db)
    .await
}

/// One student's latest submission of an assignment.
pub async fn latest_of(
    db: &Db,
    assignment_id: &str,
    user_id: &str,
) -> Result<Option<SubmissionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SUBMISSION_SELECTED} FROM submissions \
         WHERE assignment_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT 1"
    ))
    .bind(assignment_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

pub async fn find_submission(db: &Db, id: &str) -> Result<Option<SubmissionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SUBMISSION_SELECTED} FROM submissions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Assignments due by `now` whose due-time snapshots were not taken yet.
pub async fn due_uncollected(db: &Db, now: i64) -> Result<Vec<AssignmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SELECTED} FROM assignments \
         WHERE due_at <= $1 AND collected_at IS NULL ORDER BY due_at"
    ))
    .bind(now)
    .fetch_all(db)
    .await
}

/// Records, for the leader in `term`, that an assignment's due-time snapshots were taken for the
/// due time `due_at`; false when the due time moved meanwhile (or they were taken already), or
/// the term is over.
pub async fn mark_collected(
    db: &Db,
    id: &str,
    due_at: i64,
    at: i64,
    term: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE assignments SET collected_at = $3 \
         WHERE id = $1 AND due_at = $2 AND collected_at IS NULL \
         AND EXISTS (SELECT 1 FROM leadership WHERE id = 1 AND term = $4)",
    )
    .bind(id)
    .bind(due_at)
    .bind(at)
    .bind(term)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Forgets the due-time snapshots were taken (the due time moved): they are taken again then.
pub async fn reset_collected(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE assignments SET collected_at = NULL WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Every snapshot of an assignment (to remove their files with it).
pub async fn archives_of(db: &Db, assignment_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT archive FROM submissions WHERE assignment_id = $1")
        .bind(assignment_id)
        .fetch_all(db)
        .await
}

/// Records that a student opened an assignment (the first time only).
pub async fn mark_started(
    db: &Db,
    assignment_id: &str,
    user_id: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO assignment_starts (assignment_id, user_id, started_at) VALUES ($1, $2, $3) \
         ON CONFLICT (assignment_id, user_id) DO NOTHING",
    )
    .bind(assignment_id)
    .bind(user_id)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// The students who opened an assignment.
pub async fn started_by(db: &Db, assignment_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT user_id FROM assignment_starts WHERE assignment_id = $1")
        .bind(assignment_id)
        .fetch_all(db)
        .await
}

/// Whether a student opened an assignment.
pub async fn has_started(db: &Db, assignment_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT started_at FROM assignment_starts WHERE assignment_id = $1 AND user_id = $2",
    )
    .bind(assignment_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Every snapshot file a submission refers to (relative to the data directory).
pub async fn all_archives(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT archive FROM submissions")
        .fetch_all(db)
        .await
}
