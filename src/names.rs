//! Names users give things, checked once. A display name (of a template or a workspace) is
//! shown and listed; a container's name is also the engine's name for it, so it follows the
//! engine's rule.

use crate::error::ApiError;

/// A template's or a workspace's name: 1–64 letters, digits, spaces, `-`, `_` or `.` (a
/// workspace's name is its template's by default, so the two take the same names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(text: &str) -> Result<DisplayName, ApiError> {
        let ok = (1..=64).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '));
        if !ok {
            return Err(ApiError::bad_request(
                "name must be 1-64 letters, digits, spaces, '-', '_' or '.'",
            ));
        }
        Ok(DisplayName(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A container's name, which the engine takes as its own: 1–64 letters, digits, `_`, `.` or
/// `-`, starting with a letter or digit.
pub fn check_container_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "name must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_take_spaces_container_names_do_not() {
        assert_eq!(DisplayName::parse("Python 3").unwrap().as_str(), "Python 3");
        for bad in ["", "a/b", "x;rm", &"n".repeat(65)] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(check_container_name("web-1").is_ok());
        for bad in ["", "-x", "a b", "a/b"] {
            assert!(check_container_name(bad).is_err(), "{bad:?}");
        }
    }
}
