//! Courses: a teacher's course, its join code, and its students. Attendance is taken per course
//! (see `attendance`).

use rand::Rng;
use serde::Serialize;

use crate::db::{self, Db};
use crate::error::ApiError;
use crate::users::User;

/// A course as the API shows it: with its join code to its teacher, without to its students.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct CourseView {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub join_code: Option<String>,
    /// `teacher` or `student`: the caller's part in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(type = "\"teacher\" | \"student\"", optional)]
    pub role: Option<&'static str>,
}

/// A student of a course.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Student {
    pub id: String,
    pub username: String,
    pub joined_at: String,
}

/// A stored course.
pub type Course = db::courses::CourseRow;

/// Whether the user teaches the course (admins teach every course).
pub fn teaches(user: &User, course: &Course) -> bool {
    course.teacher_id == user.id || user.is_admin()
}

pub async fn find(db: &Db, id: &str) -> Result<Course, ApiError> {
    db::courses::find(db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such course"))
}

/// A course the user teaches; others' courses are forbidden.
pub async fn taught(db: &Db, user: &User, id: &str) -> Result<Course, ApiError> {
    let course = find(db, id).await?;
    if teaches(user, &course) {
        Ok(course)
    } else {
        Err(ApiError::forbidden("only the course's teacher may do this"))
    }
}

/// A course `user` teaches or attends; refused (`forbidden`) to anyone else.
pub async fn member(db: &Db, user: &User, id: &str) -> Result<Course, ApiError> {
    let course = find(db, id).await?;
    if teaches(user, &course) || is_enrolled(db, &course.id, &user.id).await? {
        Ok(course)
    } else {
        Err(ApiError::forbidden(
            "only the course's teacher and students may do this",
        ))
    }
}

pub async fn is_enrolled(db: &Db, course_id: &str, user_id: &str) -> Result<bool, ApiError> {
    Ok(db::courses::is_enrolled(db, course_id, user_id).await?)
}

/// Join codes avoid characters that are easy to misread (0/O, 1/I/L).
fn new_join_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Creates a course taught by `teacher`, with a fresh join code.
pub async fn create(db: &Db, teacher: &User, name: &str) -> Result<CourseView, ApiError> {
    teacher.require_staff("create courses")?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1-100 characters"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    for _ in 0..5 {
        let course = Course {
            id: id.clone(),
            name: name.to_string(),
            join_code: new_join_code(),
            teacher_id: teacher.id.clone(),
        };
        match db::courses::insert(db, &course, crate::clock::now_s()).await {
            Ok(()) => {
                return Ok(CourseView {
                    id: course.id,
                    name: course.name,
                    join_code: Some(course.join_code),
                    role: None,
                })
            }
            Err(e) if db::is_unique_violation(&e) => continue, // that join code is taken
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(&std::io::Error::other(
        "no free join code",
    )))
}

/// The courses a user teaches (with their join codes), then those they attend.
pub async fn list(db: &Db, user: &User) -> Result<Vec<CourseView>, ApiError> {
    let taught = db::courses::taught_by(db, &user.id).await?;
    let attended = db::courses::attended_by(db, &user.id).await?;
    let mut courses: Vec<CourseView> = taught
        .into_iter()
        .map(|c| CourseView {
            id: c.id,
            name: c.name,
            join_code: Some(c.join_code),
            role: Some("teacher"),
        })
        .collect();
    courses.extend(attended.into_iter().map(|c| CourseView {
        id: c.id,
        name: c.name,
        join_code: None,
        role: Some("student"),
    }));
    Ok(courses)
}

/// Enrolls a student in the course with this join code.
pub async fn join(db: &Db, user: &User, join_code: &str) -> Result<CourseView, ApiError> {
    let code = join_code.trim().to_ascii_uppercase();
    let course = db::courses::by_join_code(db, &code)
        .await?
        .ok_or_else(|| ApiError::not_found("no course has that join code"))?;
    if course.teacher_id == user.id {
        return Err(ApiError::conflict("you teach this course"));
    }
    db::courses::enroll(db, &course.id, &user.id, crate::clock::now_s()).await?;
    Ok(CourseView {
        id: course.id,
        name: course.name,
        join_code: None,
        role: Some("student"),
    })
}

/// The students of a course the user teaches.
pub async fn students(db: &Db, user: &User, course_id: &str) -> Result<Vec<Student>, ApiError> {
    let course = taught(db, user, course_id).await?;
    Ok(db::courses::students(db, &course.id)
        .await?
        .into_iter()
        .map(|(id, username, joined)| Student {
            id,
            username,
            joined_at: crate::clock::rfc3339(joined * 1000),
        })
        .collect())
}

/// Removes a student from a course the user teaches.
pub async fn remove_student(
    db: &Db,
    user: &User,
    course_id: &str,
    student_id: &str,
) -> Result<(), ApiError> {
    let course = taught(db, user, course_id).await?;
    if !db::courses::unenroll(db, &course.id, student_id).await? {
        return Err(ApiError::not_found("no such student in this course"));
    }
    Ok(())
}
