//! Accounts as the rest of berth sees them: [`User`] and [`Role`], the username and password
//! rules, and creating and finding accounts. Nothing here knows about HTTP, sessions or Docker;
//! nearly every other module depends on this one.

pub mod password;

use serde::{Deserialize, Serialize};

use crate::db::{self, Db};
use crate::error::ApiError;

/// What an account may do: admins everything, teachers manage images, courses and shared
/// registries, students use their own containers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Teacher,
    Student,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Teacher => "teacher",
            Role::Student => "student",
        }
    }
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "teacher" => Some(Role::Teacher),
            "student" => Some(Role::Student),
            _ => None,
        }
    }
}

/// An account, as every request and session knows its caller.
#[derive(Debug, Clone, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Teachers and admins: they manage images, builds, hosts and shared registries.
    pub fn is_staff(&self) -> bool {
        self.role != Role::Student
    }

    /// Refuses a student; `doing` says what only teachers and admins do ("push images").
    /// The one place, with [`User::require_admin`], where roles are decided.
    pub fn require_staff(&self, doing: &str) -> Result<(), ApiError> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "only teachers and admins {doing}"
            )))
        }
    }

    /// Refuses anyone but an admin; `doing` says what only admins do.
    pub fn require_admin(&self, doing: &str) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("only admins {doing}")))
        }
    }
}

/// A username: 3–32 characters of letters, digits, `.`, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(name: &str) -> Result<Username, ApiError> {
        let ok = (3..=32).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok {
            Ok(Username(name.to_string()))
        } else {
            Err(ApiError::bad_request(
                "username must be 3-32 characters of letters, digits, '.', '_' or '-'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password long enough, and not so long that hashing it is a burden.
pub fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < password::MIN_LEN {
        return Err(ApiError::bad_request(format!(
            "password must be at least {} characters",
            password::MIN_LEN
        )));
    }
    if password.len() > password::MAX_LEN {
        return Err(ApiError::bad_request("password is too long"));
    }
    Ok(())
}

fn from_row(row: db::users::UserRow) -> Result<User, ApiError> {
    let role = Role::parse(&row.role)
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("unknown role in database")))?;
    Ok(User {
        id: row.id,
        username: row.username,
        role,
    })
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<User>, ApiError> {
    db::users::find_by_id(db, id)
        .await?
        .map(from_row)
        .transpose()
}

/// Creates an account; a taken username is a conflict.
pub async fn create(db: &Db, username: &str, password: &str, role: Role) -> Result<User, ApiError> {
    let username = Username::parse(username)?;
    check_password(password)?;
    let hash = password::hash(password.to_string())
        .await
        .map_err(|e| ApiError::internal(&std::io::Error::other(e.to_string())))?;
    let id = uuid::Uuid::new_v4().to_string();
    db::users::insert(
        db,
        &id,
        username.as_str(),
        &hash,
        role.as_str(),
        crate::clock::now_s(),
    )
    .await
    .map_err(db::conflict_on_unique("that username is taken"))?;
    Ok(User {
        id,
        username: username.0,
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_short_plain_words() {
        assert!(Username::parse("ada.l_ove-1").is_ok());
        for bad in ["ab", "a b c", "ünï", &"x".repeat(33), "semi;colon"] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_staff_pass_the_staff_check_and_the_refusal_says_what_for() {
        let user = |role| User {
            id: "1".into(),
            username: "u".into(),
            role,
        };
        assert!(user(Role::Teacher).require_staff("build images").is_ok());
        let refused = user(Role::Student)
            .require_staff("push images")
            .unwrap_err();
        assert_eq!(refused.message, "only teachers and admins push images");
        assert!(user(Role::Teacher).require_admin("add hosts").is_err());
        assert!(user(Role::Admin).require_admin("add hosts").is_ok());
    }
}
