//! Who reaches an assignment: its course's teacher and enrolled students, and what opening
//! and handing in work reach.

use std::sync::Arc;

use super::checks::Checks;
use crate::containers::Containers;
use crate::courses;
use crate::db::{self, Db};
use crate::error::ApiError;
use crate::registries::Registries;
use crate::users::User;
use crate::workspaces::Workspaces;

/// What an assignment's work reaches: the workspaces and what makes them, and the checks.
pub struct Reach<'a> {
    pub workspaces: &'a Workspaces,
    pub registries: &'a Registries,
    pub containers: &'a Containers,
    pub checks: &'a Arc<Checks>,
}

/// An assignment, and whether `user` teaches its course; refused to anyone neither teaching
/// nor enrolled in it.
pub async fn visible(
    db: &Db,
    user: &User,
    id: &str,
) -> Result<(db::assignments::AssignmentRow, bool), ApiError> {
    let row = db::assignments::find(db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such assignment"))?;
    let teacher = in_course(db, user, &row.course_id).await?;
    Ok((row, teacher))
}

/// Whether `user` teaches the course (true) or attends it (false); refused to anyone else.
pub async fn in_course(db: &Db, user: &User, course_id: &str) -> Result<bool, ApiError> {
    let course = courses::find(db, course_id).await?;
    let teacher = courses::teaches(user, &course);
    if !teacher && !courses::is_enrolled(db, &course.id, &user.id).await? {
        return Err(ApiError::forbidden(
            "only the course's teacher and its students see its assignments",
        ));
    }
    Ok(teacher)
}
