//! Assignments: work a course's teacher hands out (a title, Markdown instructions, a template,
//! starter files, a due time, and a check for the submissions), and where each student does
//! it. The check is kept from students and runs on every submission ([`checks`]); at the due
//! time berth hands in the work of every student who started and did not ([`due`]).
//!
//! A student does every assignment made from one template in one workspace, each in a folder
//! of its own (`<course>/<title>-<id>`, fixed when the assignment is made): 30 assignments of
//! 5 courses take as many workspaces as they have templates, not 30, so `workspaces_per_user`
//! does not stop a student. The starter files are copied into the folder the first time the
//! student opens the assignment; what they write there afterwards is theirs.

mod access;
pub mod checks;
pub mod due;
pub mod submissions;
mod tars;

use access::visible;
pub use access::Reach;
use checks::check_of;
pub use checks::Check;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::courses::{self, Course};
use crate::db::{self, Db};
use crate::error::ApiError;
use crate::templates;
use crate::users::User;
use crate::workspace_path::WorkspacePath;
use crate::workspaces::{files, Access};

/// The longest title, and the most starter text an assignment holds in all.
const MAX_TITLE: usize = 200;
const MAX_FILES_BYTES: usize = 4 << 20;

/// A new assignment, as `POST /courses/{id}/assignments` takes it.
#[derive(Debug, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct NewAssignment {
    pub title: String,
    /// A template's id or name.
    pub template: String,
    pub instructions: Option<String>,
    /// RFC 3339.
    pub due_at: Option<String>,
    /// Whether a submission after `due_at` is taken (marked late); true by default.
    pub accept_late: Option<bool>,
    pub files: Option<BTreeMap<String, String>>,
    pub check: Option<Check>,
}

/// An assignment as the API shows it. Students see no `check`.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct AssignmentView {
    pub id: String,
    pub course_id: String,
    pub title: String,
    /// The template's id.
    pub template: String,
    /// Markdown.
    pub instructions: String,
    /// RFC 3339, or null for no due time.
    pub due_at: Option<String>,
    pub accept_late: bool,
    pub files: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub check: Option<Check>,
    /// Where its files are in the workspace, relative to /workspace.
    pub folder: String,
    pub created_at: String,
    /// The caller's own part in it, for a student of the course.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub mine: Option<MyPart>,
}

/// Where a student stands with an assignment.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct MyPart {
    /// `not_started`, `started` (opened), `submitted`, or `late` (the latest submission came
    /// after the due time, or nothing came and the due time passed).
    #[ts(type = "\"not_started\" | \"started\" | \"submitted\" | \"late\"")]
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub submitted_at: Option<String>,
}

/// `user`'s part in an assignment.
async fn part_of(
    db: &Db,
    user: &User,
    row: &db::assignments::AssignmentRow,
) -> Result<MyPart, ApiError> {
    let latest = db::assignments::latest_of(db, &row.id, &user.id).await?;
    let overdue = row.due_at.is_some_and(|due| crate::clock::now_s() > due);
    let state = match &latest {
        Some(s) if s.late => "late",
        Some(_) => "submitted",
        None if overdue => "late",
        None if db::assignments::has_started(db, &row.id, &user.id).await? => "started",
        None => "not_started",
    };
    Ok(MyPart {
        state,
        submitted_at: latest.map(|s| crate::clock::rfc3339(s.submitted_at * 1000)),
    })
}

/// The view of an assignment for `user`: with the check for its teacher, with their own part
/// for a student.
async fn view_for(
    db: &Db,
    user: &User,
    row: db::assignments::AssignmentRow,
    teacher: bool,
) -> Result<AssignmentView, ApiError> {
    let mine = if teacher {
        None
    } else {
        Some(part_of(db, user, &row).await?)
    };
    let mut shown = view(row, teacher)?;
    shown.mine = mine;
    Ok(shown)
}

/// Where a student does an assignment.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct WorkspaceOfAssignment {
    pub workspace: String,
    /// The assignment's folder, relative to /workspace.
    pub path: String,
}

fn view(row: db::assignments::AssignmentRow, teacher: bool) -> Result<AssignmentView, ApiError> {
    let check = match (&row.checking, teacher) {
        (Some(text), true) => Some(from_json(text)?),
        _ => None,
    };
    Ok(AssignmentView {
        files: from_json(&row.files)?,
        check,
        due_at: row.due_at.map(|s| crate::clock::rfc3339(s * 1000)),
        created_at: crate::clock::rfc3339(row.created_at * 1000),
        id: row.id,
        course_id: row.course_id,
        title: row.title,
        template: row.template_id,
        instructions: row.instructions,
        accept_late: row.accept_late,
        folder: row.folder,
        mine: None,
    })
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::internal(&e))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::internal(&e))
}

/// Unix seconds of an RFC 3339 time.
fn parse_due(text: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|_| {
            ApiError::bad_request(format!(
                "due_at {text:?} is not an RFC 3339 time such as 2026-12-24T18:00:00Z"
            ))
        })
}

/// Checks what a teacher wrote: the title, the starter and check files (paths that stay in the
/// folder, within the size cap), and a check with a command.
fn check_contents(
    title: &str,
    files: &BTreeMap<String, String>,
    check: Option<&Check>,
) -> Result<(), ApiError> {
    if title.trim().is_empty() || title.len() > MAX_TITLE {
        return Err(ApiError::bad_request(format!(
            "title must be 1-{MAX_TITLE} characters"
        )));
    }
    let hidden = check.map(|c| &c.files);
    let mut bytes = 0;
    for (path, text) in files.iter().chain(hidden.into_iter().flatten()) {
        if WorkspacePath::parse(path)?.is_root() {
            return Err(ApiError::bad_request("a file needs a name"));
        }
        bytes += text.len();
    }
    if bytes > MAX_FILES_BYTES {
        return Err(ApiError::new(
            crate::error::ErrorCode::TooLarge,
            format!("an assignment's files hold at most {MAX_FILES_BYTES} bytes"),
        ));
    }
    if check.is_some_and(|c| c.command.is_empty()) {
        return Err(ApiError::bad_request("check.command names what to run"));
    }
    Ok(())
}

/// `<course>/<title>-<id>`, in characters any shell takes without quoting.
fn folder_for(course: &Course, title: &str, id: &str) -> String {
    let slug = |text: &str| -> String {
        let mut out = String::new();
        for c in text.to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_matches('-').chars().take(40).collect()
    };
    let course = Some(slug(&course.name))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "course".into());
    let title = slug(title);
    let short = &id[..8];
    if title.is_empty() {
        format!("{course}/{short}")
    } else {
        format!("{course}/{title}-{short}")
    }
}

/// Makes an assignment in a course `user` teaches.
pub async fn create(
    db: &Db,
    user: &User,
    course_id: &str,
    new: NewAssignment,
) -> Result<AssignmentView, ApiError> {
    let course = courses::taught(db, user, course_id).await?;
    let template = templates::find(db, &new.template).await?;
    let files = new.files.unwrap_or_default();
    check_contents(&new.title, &files, new.check.as_ref())?;
    let due_at = new.due_at.as_deref().map(parse_due).transpose()?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let row = db::assignments::AssignmentRow {
        folder: folder_for(&course, &new.title, &id),
        id,
        course_id: course.id.clone(),
        title: new.title.trim().to_string(),
        template_id: template.id,
        instructions: new.instructions.unwrap_or_default(),
        due_at,
        accept_late: new.accept_late.unwrap_or(true),
        files: to_json(&files)?,
        checking: new.check.as_ref().map(to_json).transpose()?,
        created_by: user.id.clone(),
        created_at: crate::clock::now_s(),
    };
    db::assignments::insert(db, &row).await?;
    tracing::info!(assignment = %row.id, course = %course.id, "assignment made");
    view(row, true)
}

/// A course's assignments, for its teacher and its students.
pub async fn of_course(
    db: &Db,
    user: &User,
    course_id: &str,
) -> Result<Vec<AssignmentView>, ApiError> {
    let teacher = access::in_course(db, user, course_id).await?;
    let mut shown = Vec::new();
    for row in db::assignments::of_course(db, course_id).await? {
        shown.push(view_for(db, user, row, teacher).await?);
    }
    Ok(shown)
}

pub async fn get(db: &Db, user: &User, id: &str) -> Result<AssignmentView, ApiError> {
    let (row, teacher) = visible(db, user, id).await?;
    view_for(db, user, row, teacher).await
}

/// What `PATCH /assignments/{id}` may change.
#[derive(Debug, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct AssignmentPatch {
    pub title: Option<String>,
    pub instructions: Option<String>,
    /// RFC 3339; null removes the due time.
    #[serde(default, deserialize_with = "given")]
    pub due_at: Option<Option<String>>,
    pub accept_late: Option<bool>,
    pub files: Option<BTreeMap<String, String>>,
    /// null removes the check.
    #[serde(default, deserialize_with = "given")]
    pub check: Option<Option<Check>>,
}

/// A field that was sent, even as null (`Some(None)`); an absent one stays `None`.
fn given<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Changes an assignment of a course `user` teaches: the fields given replace the stored ones.
/// Its template and folder stay (students' work is in that folder of that template's
/// workspace).
pub async fn update(
    db: &Db,
    user: &User,
    id: &str,
    patch: AssignmentPatch,
) -> Result<AssignmentView, ApiError> {
    let (mut row, teacher) = visible(db, user, id).await?;
    if !teacher {
        return Err(ApiError::forbidden(
            "only the course's teacher may change it",
        ));
    }
    if let Some(title) = patch.title {
        row.title = title.trim().to_string();
    }
    if let Some(instructions) = patch.instructions {
        row.instructions = instructions;
    }
    let due_before = row.due_at;
    if let Some(due_at) = patch.due_at {
        row.due_at = due_at.as_deref().map(parse_due).transpose()?;
    }
    if let Some(accept_late) = patch.accept_late {
        row.accept_late = accept_late;
    }
    let files: BTreeMap<String, String> = match patch.files {
        Some(files) => files,
        None => from_json(&row.files)?,
    };
    let check: Option<Check> = match patch.check {
        Some(check) => check,
        None => check_of(&row)?,
    };
    check_contents(&row.title, &files, check.as_ref())?;
    row.files = to_json(&files)?;
    row.checking = check.as_ref().map(to_json).transpose()?;
    db::assignments::update(db, &row).await?;
    if row.due_at != due_before {
        // A new due time takes its own snapshots of who has not handed in by then.
        db::assignments::reset_collected(db, &row.id).await?;
    }
    view(row, true)
}

/// Deletes an assignment of a course `user` teaches, with its submissions' snapshots. Students'
/// folders stay in their workspaces: they are their work.
pub async fn delete(
    db: &Db,
    snapshots: &submissions::Snapshots<'_>,
    user: &User,
    id: &str,
) -> Result<(), ApiError> {
    let (_, teacher) = visible(db, user, id).await?;
    if !teacher {
        return Err(ApiError::forbidden(
            "only the course's teacher may delete it",
        ));
    }
    db::assignments::delete(db, id).await?;
    snapshots.remove_all(id).await;
    tracing::info!(assignment = %id, "assignment deleted");
    Ok(())
}

/// The workspace and folder where `user`, a student of its course, does an assignment: the
/// workspace of its template they do every such assignment in (made the first time, or again
/// when they deleted it), and its folder, with the starter files copied in the first time.
pub async fn open_workspace(
    db: &Db,
    reach: Reach<'_>,
    user: &User,
    id: &str,
) -> Result<WorkspaceOfAssignment, ApiError> {
    let (row, _) = visible(db, user, id).await?;
    if !courses::is_enrolled(db, &row.course_id, &user.id).await? {
        return Err(ApiError::forbidden(
            "assignments are done by the course's students",
        ));
    }
    let recorded = db::assignments::workspace_for(db, &user.id, &row.template_id).await?;
    // Only a workspace that is gone is made again; an engine that does not answer is an error.
    let existing = match recorded {
        Some(id) => match reach.workspaces.view(user, &id).await {
            Ok(workspace) => Some(workspace.id),
            Err(err) if err.code == crate::error::ErrorCode::NotFound => None,
            Err(err) => return Err(err),
        },
        None => None,
    };
    let workspace = match existing {
        Some(id) => id,
        None => {
            let template = templates::find(db, &row.template_id).await?;
            // A display name, within its 64 characters.
            let base: String = template.spec.name.chars().take(52).collect();
            let name = format!("{} assignments", base.trim_end());
            let made = reach
                .workspaces
                .create(
                    user,
                    &template.id,
                    Some(name),
                    None,
                    reach.registries,
                    reach.containers,
                )
                .await?;
            db::assignments::set_workspace(db, &user.id, &row.template_id, &made.id).await?;
            made.id
        }
    };
    db::assignments::mark_started(db, &row.id, &user.id, crate::clock::now_s()).await?;
    let (opened, _) = reach
        .workspaces
        .running(user, &workspace, Access::Write)
        .await?;
    let folder = WorkspacePath::parse(&row.folder)?;
    let engine = &opened.host.engine;
    if !files::exists(engine, opened.container(), &folder).await? {
        let starter: BTreeMap<String, String> = from_json(&row.files)?;
        let copied = async {
            files::make_dir(engine, opened.container(), &folder).await?;
            for (path, text) in &starter {
                let path = WorkspacePath::parse(&format!("{}/{path}", row.folder))?;
                files::write(engine, opened.container(), &path, text.clone().into()).await?;
            }
            Ok::<_, ApiError>(())
        };
        if let Err(err) = copied.await {
            // Half copied, the folder would pass for done next time: it goes, to be made again.
            let _ = files::delete(engine, opened.container(), &folder).await;
            return Err(err);
        }
    }
    Ok(WorkspaceOfAssignment {
        workspace,
        path: row.folder,
    })
}
