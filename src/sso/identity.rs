//! A person as the directory or identity provider describes them, and the role their groups
//! give.

use crate::users::Role;

/// Where an account signs in, as `users.source` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Ldap,
    Oidc,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Ldap => "ldap",
            Source::Oidc => "oidc",
        }
    }
}

/// A person as a directory or identity provider vouched for them just now.
#[derive(Debug, Clone)]
pub struct Identity {
    pub source: Source,
    /// Who they stay across renames: the LDAP username, the OpenID Connect `sub`.
    pub external_id: String,
    pub username: String,
    pub role: Role,
}

/// Which groups make an admin or a teacher; everyone else is a student.
pub struct RoleGroups<'a> {
    pub admin: &'a [String],
    pub teacher: &'a [String],
}

impl RoleGroups<'_> {
    /// The role of someone in `groups` (compared without regard to case, as directories do).
    pub fn role_of<'g>(&self, groups: impl IntoIterator<Item = &'g str> + Clone) -> Role {
        let in_any = |wanted: &[String]| {
            groups
                .clone()
                .into_iter()
                .any(|g| wanted.iter().any(|w| w.eq_ignore_ascii_case(g)))
        };
        if in_any(self.admin) {
            Role::Admin
        } else if in_any(self.teacher) {
            Role::Teacher
        } else {
            Role::Student
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_role_of_a_persons_groups_wins() {
        let admin = vec!["cn=admins,ou=groups,dc=school".to_string()];
        let teacher = vec!["teachers".to_string()];
        let groups = RoleGroups {
            admin: &admin,
            teacher: &teacher,
        };
        assert_eq!(groups.role_of(["Teachers"]), Role::Teacher);
        assert_eq!(
            groups.role_of(["teachers", "CN=Admins,OU=groups,DC=school"]),
            Role::Admin
        );
        assert_eq!(groups.role_of(["students"]), Role::Student);
        assert_eq!(groups.role_of(std::iter::empty()), Role::Student);
    }
}
