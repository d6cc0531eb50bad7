//! Submissions: a student hands in an assignment's folder as it is at that moment, kept as an
//! immutable snapshot (a tar under the data directory, byte for byte what the workspace's `tar`
//! wrote) that editing afterwards does not change. Its teacher sees every student's state and
//! downloads one snapshot, or all of them in one tar with a folder per student. A check, when
//! the assignment has one, is queued for every snapshot (see [`super::checks`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use serde::Serialize;

use super::access::{visible, Reach};
use super::checks::{self, CheckResult};
use super::tars::append_under;
use crate::db::{self, Db};
use crate::error::{ApiError, ErrorCode};
use crate::users::User;
use crate::workspace_path::WorkspacePath;
use crate::workspaces::{files, Access};

/// A snapshot: when it was taken, and what it holds.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Submitted {
    /// The submission's id (its sandbox, while its check runs, is `berth-check-<id>`).
    pub id: String,
    pub submitted_at: String,
    pub late: bool,
    /// Taken by berth at the due time (the student had started and not handed in).
    pub collected: bool,
    /// Regular files in it.
    pub files: i64,
    /// Their bytes.
    pub bytes: i64,
    /// Its check: always to the teacher, to the student when the check says `show_students`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub check: Option<CheckResult>,
}

fn submitted(row: &db::assignments::SubmissionRow, check: Option<CheckResult>) -> Submitted {
    Submitted {
        id: row.id.clone(),
        submitted_at: crate::clock::rfc3339(row.submitted_at * 1000),
        late: row.late,
        collected: row.collected,
        files: row.files,
        bytes: row.bytes,
        check,
    }
}

/// One enrolled student's part in an assignment.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct SubmissionState {
    pub user_id: String,
    pub username: String,
    /// `missing` (never opened), `started` (opened, nothing handed in) or `submitted`.
    #[ts(type = "\"missing\" | \"started\" | \"submitted\"")]
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub submitted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub late: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub files: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub bytes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub collected: Option<bool>,
    /// The latest submission's check.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub check: Option<CheckResult>,
    /// The workspace the student does it in (the teacher may read it), once they opened it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub workspace: Option<String>,
}

/// Where snapshots are kept.
pub struct Snapshots<'a> {
    pub data_dir: &'a Path,
    pub max_bytes: u64,
}

impl Snapshots<'_> {
    fn dir_of(&self, assignment_id: &str) -> PathBuf {
        self.data_dir.join("submissions").join(assignment_id)
    }

    /// Removes the snapshot files no submission refers to any more: deleting an account
    /// removes its submissions' rows (a student's), or its courses' assignments (a teacher's).
    /// How many files went.
    pub async fn sweep(&self, db: &Db) -> Result<usize, ApiError> {
        let kept: std::collections::HashSet<PathBuf> = db::assignments::all_archives(db)
            .await?
            .into_iter()
            .map(|archive| self.data_dir.join(archive))
            .collect();
        let root = self.data_dir.join("submissions");
        tokio::task::spawn_blocking(move || sweep_files(&root, &kept))
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(|e| ApiError::internal(&e))
    }

    /// Removes every snapshot of an assignment (it was deleted).
    pub async fn remove_all(&self, assignment_id: &str) {
        let dir = self.dir_of(assignment_id);
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, dir = %dir.display(), "could not remove snapshots");
            }
        }
    }
}

/// Removes the files under `root` (`<assignment>/<file>.tar`) not in `kept`, and the folders
/// left empty.
fn sweep_files(root: &Path, kept: &std::collections::HashSet<PathBuf>) -> std::io::Result<usize> {
    let mut removed = 0;
    let folders = match std::fs::read_dir(root) {
        Ok(folders) => folders,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for folder in folders {
        let folder = folder?.path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder)? {
            let file = file?.path();
            if !kept.contains(&file) {
                std::fs::remove_file(&file)?;
                removed += 1;
            }
        }
        if std::fs::read_dir(&folder)?.next().is_none() {
            std::fs::remove_dir(&folder)?;
        }
    }
    Ok(removed)
}

/// Hands in `user`'s folder of an assignment: a snapshot of it now, with its check queued.
/// After the due time it is marked late, or refused (`conflict`) when the assignment takes no
/// late work.
pub async fn submit(
    db: &Db,
    reach: Reach<'_>,
    snapshots: &Snapshots<'_>,
    user: &User,
    id: &str,
) -> Result<Submitted, ApiError> {
    let (row, _) = visible(db, user, id).await?;
    if !crate::courses::is_enrolled(db, &row.course_id, &user.id).await? {
        return Err(ApiError::forbidden(
            "assignments are handed in by the course's students",
        ));
    }
    let now = crate::clock::now_s();
    let late = row.due_at.is_some_and(|due| now > due);
    if late && !row.accept_late {
        return Err(ApiError::conflict(
            "this assignment was due and takes no late submissions",
        ));
    }
    let (record, queued) = take(db, &reach, snapshots, user, &row, late, None).await?;
    let shown = checks::check_of(&row)?.is_some_and(|c| c.show_students);
    Ok(submitted(&record, queued.filter(|_| shown)))
}

/// Takes a snapshot of `user`'s folder of an assignment now and records it: `late` after the
/// due time. `collecting_in`: the leader's term, when berth takes it at the due time; refused
/// with `conflict` then when the term is over or the student handed something in meanwhile.
/// When the assignment has a check, it is recorded with the snapshot and run soon: the queued
/// result is returned.
pub(super) async fn take(
    db: &Db,
    reach: &Reach<'_>,
    snapshots: &Snapshots<'_>,
    user: &User,
    row: &db::assignments::AssignmentRow,
    late: bool,
    collecting_in: Option<i64>,
) -> Result<(db::assignments::SubmissionRow, Option<CheckResult>), ApiError> {
    let collected = collecting_in.is_some();
    let workspace = db::assignments::workspace_for(db, &user.id, &row.template_id)
        .await?
        .ok_or_else(|| ApiError::conflict("open the assignment before handing it in"))?;
    let (opened, _) = reach
        .workspaces
        .running(user, &workspace, Access::Write)
        .await?;
    let folder = WorkspacePath::parse(&row.folder)?;
    let tar = files::archive(&opened.host.engine, opened.container(), &folder).await?;

    let dir = snapshots.dir_of(&row.id);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    // Ordered by time, so that the greatest id is the latest submission.
    let submission_id = uuid::Uuid::now_v7().simple().to_string();
    let file = dir.join(format!("{}-{submission_id}.tar", user.id));
    let (files, bytes) = match keep(tar, &file, snapshots.max_bytes).await {
        Ok(counted) => counted,
        Err(err) => {
            let _ = tokio::fs::remove_file(&file).await;
            return Err(err);
        }
    };
    let archive = file
        .strip_prefix(snapshots.data_dir)
        .unwrap_or(&file)
        .to_string_lossy()
        .into_owned();
    let record = db::assignments::SubmissionRow {
        id: submission_id,
        assignment_id: row.id.clone(),
        user_id: user.id.clone(),
        submitted_at: crate::clock::now_s(),
        late,
        files,
        bytes,
        archive,
        collected,
    };
    let check_by = row.checking.is_some().then(|| reach.checks.replica());
    let inserted = db::assignments::insert_submission(db, &record, check_by, collecting_in).await;
    if !matches!(inserted, Ok(true)) {
        let _ = tokio::fs::remove_file(&file).await;
        return Err(match inserted {
            Err(e) => e.into(),
            _ => ApiError::conflict("handed in meanwhile, or this replica no longer leads"),
        });
    }
    tracing::info!(assignment = %row.id, user = %user.id, late, collected, bytes, "submitted");
    let queued = check_by.map(|_| reach.checks.run_soon(&record.id));
    Ok((record, queued))
}

/// `user`'s latest submission of an assignment, with its check when the student may see it.
pub async fn mine(db: &Db, user: &User, id: &str) -> Result<Submitted, ApiError> {
    let (row, _) = visible(db, user, id).await?;
    let latest = db::assignments::latest_of(db, &row.id, &user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("you have handed nothing in"))?;
    let check = match checks::check_of(&row)? {
        Some(check) if check.show_students => db::checks::find(db, &latest.id)
            .await?
            .map(checks::result_of),
        _ => None,
    };
    Ok(submitted(&latest, check))
}

/// Writes the tar to `file` (at most `max` bytes) and counts its regular files and their bytes.
async fn keep(
    tar: impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>>,
    file: &Path,
    max: u64,
) -> Result<(i64, i64), ApiError> {
    let mut tar = std::pin::pin!(tar);
    let mut out = tokio::fs::File::create(file)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut written = 0u64;
    while let Some(chunk) = tar.next().await {
        let chunk = chunk.map_err(|e| ApiError::internal(&e))?;
        written += chunk.len() as u64;
        if written > max {
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                format!("the folder is larger than a submission keeps ({max} bytes)"),
            ));
        }
        tokio::io::AsyncWriteExt::write_all(&mut out, &chunk)
            .await
            .map_err(|e| ApiError::internal(&e))?;
    }
    tokio::io::AsyncWriteExt::flush(&mut out)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let path = file.to_path_buf();
    tokio::task::spawn_blocking(move || count(&path))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))
}

fn count(path: &Path) -> std::io::Result<(i64, i64)> {
    let mut archive = tar::Archive::new(std::fs::File::open(path)?);
    let (mut files, mut bytes) = (0, 0);
    for entry in archive.entries()? {
        let entry = entry?;
        if entry.header().entry_type().is_file() {
            files += 1;
            bytes += entry.header().size()? as i64;
        }
    }
    Ok((files, bytes))
}

/// Every enrolled student's state in an assignment, for its teacher.
pub async fn states(db: &Db, user: &User, id: &str) -> Result<Vec<SubmissionState>, ApiError> {
    let (row, teacher) = visible(db, user, id).await?;
    if !teacher {
        return Err(ApiError::forbidden(
            "only the course's teacher sees the submissions",
        ));
    }
    let latest = db::assignments::latest_submissions(db, &row.id).await?;
    let started = db::assignments::started_by(db, &row.id).await?;
    let students = db::courses::students(db, &row.course_id).await?;
    let mut results = db::checks::of_assignment(db, &row.id).await?;
    let mut workspaces = Vec::new();
    for (user_id, _, _) in &students {
        workspaces.push(db::assignments::workspace_for(db, user_id, &row.template_id).await?);
    }
    Ok(students
        .into_iter()
        .zip(workspaces)
        .map(|((user_id, username, _), workspace)| {
            let submitted = latest.iter().find(|s| s.user_id == user_id);
            let state = match submitted {
                Some(_) => "submitted",
                None if started.contains(&user_id) => "started",
                None => "missing",
            };
            SubmissionState {
                state,
                submitted_at: submitted.map(|s| crate::clock::rfc3339(s.submitted_at * 1000)),
                late: submitted.map(|s| s.late),
                files: submitted.map(|s| s.files),
                bytes: submitted.map(|s| s.bytes),
                collected: submitted.map(|s| s.collected),
                check: submitted
                    .and_then(|s| {
                        let at = results.iter().position(|c| c.submission_id == s.id)?;
                        Some(results.swap_remove(at))
                    })
                    .map(checks::result_of),
                workspace,
                user_id,
                username,
            }
        })
        .collect())
}

/// The file of a student's latest snapshot, for the course's teacher.
pub async fn archive_of(
    db: &Db,
    snapshots: &Snapshots<'_>,
    user: &User,
    id: &str,
    student_id: &str,
) -> Result<PathBuf, ApiError> {
    let (row, teacher) = visible(db, user, id).await?;
    if !teacher {
        return Err(ApiError::forbidden(
            "only the course's teacher downloads submissions",
        ));
    }
    let latest = db::assignments::latest_submissions(db, &row.id).await?;
    let found = latest
        .into_iter()
        .find(|s| s.user_id == student_id)
        .ok_or_else(|| ApiError::not_found("that student has handed nothing in"))?;
    Ok(snapshots.data_dir.join(found.archive))
}

/// One tar with every student's latest snapshot in a folder named after them, for the
/// course's teacher; an unnamed temporary file (gone when closed).
pub async fn archive_all(
    db: &Db,
    snapshots: &Snapshots<'_>,
    user: &User,
    id: &str,
) -> Result<std::fs::File, ApiError> {
    let (row, teacher) = visible(db, user, id).await?;
    if !teacher {
        return Err(ApiError::forbidden(
            "only the course's teacher downloads submissions",
        ));
    }
    let latest = db::assignments::latest_submissions(db, &row.id).await?;
    let students = db::courses::students(db, &row.course_id).await?;
    let mut parts = Vec::new();
    for submission in latest {
        // A student who left the course since keeps their id as the folder's name.
        let name = students
            .iter()
            .find(|(id, _, _)| *id == submission.user_id)
            .map_or(submission.user_id.clone(), |(_, name, _)| name.clone());
        parts.push((name, snapshots.data_dir.join(submission.archive)));
    }
    tokio::task::spawn_blocking(move || join(&parts))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))
}

/// The snapshots' entries, each under `<name>/`, in one tar.
fn join(parts: &[(String, PathBuf)]) -> std::io::Result<std::fs::File> {
    let mut builder = tar::Builder::new(tempfile::tempfile()?);
    for (name, path) in parts {
        append_under(&mut builder, path, name, |_| false)?;
    }
    let mut file = builder.into_inner()?;
    file.flush()?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_join_under_a_folder_each_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let mut parts = Vec::new();
        for (name, text) in [("ada", "print(1)\n"), ("bob", "print(2)\n")] {
            let path = dir.path().join(format!("{name}.tar"));
            let mut builder = tar::Builder::new(std::fs::File::create(&path).unwrap());
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, "./main.py", text.as_bytes())
                .unwrap();
            builder.finish().unwrap();
            parts.push((name.to_string(), path));
        }
        let joined = join(&parts).unwrap();
        let mut archive = tar::Archive::new(joined);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            seen.push((entry.path().unwrap().display().to_string(), text));
        }
        assert_eq!(
            seen,
            [
                ("ada/main.py".to_string(), "print(1)\n".to_string()),
                ("bob/main.py".to_string(), "print(2)\n".to_string())
            ]
        );
    }
}
