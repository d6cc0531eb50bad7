//! A path inside a workspace's /workspace as a user gives it (an editor's file, a template's
//! starter file), checked once: relative, no `..`, no NUL byte.

use crate::error::ApiError;

/// Where the files live in every workspace container.
pub const ROOT: &str = "/workspace";
/// A path inside /workspace as a user gives it, checked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspacePath(Vec<String>);

impl WorkspacePath {
    /// `""` or `"."` is /workspace itself.
    pub fn parse(text: &str) -> Result<WorkspacePath, ApiError> {
        let refuse = |why: &str| ApiError::bad_request(format!("path {text:?}: {why}"));
        if text.len() > 4096 {
            return Err(refuse("too long"));
        }
        if text.contains('\0') {
            return Err(refuse("contains a NUL byte"));
        }
        if text.starts_with('/') {
            return Err(refuse("must be relative to /workspace"));
        }
        let mut parts = Vec::new();
        for part in text.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(refuse("may not contain '..'")),
                part => parts.push(part.to_string()),
            }
        }
        Ok(WorkspacePath(parts))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path in the container.
    pub fn absolute(&self) -> String {
        let mut path = ROOT.to_string();
        for part in &self.0 {
            path.push('/');
            path.push_str(part);
        }
        path
    }

    /// The path relative to /workspace, as tar entries name it.
    pub fn relative(&self) -> String {
        self.0.join("/")
    }

    /// Its names, outermost first.
    pub fn parts(&self) -> &[String] {
        &self.0
    }

    pub fn name(&self) -> &str {
        self.0.last().map_or(".", String::as_str)
    }

    /// The directory it is in (/workspace for a top-level name).
    pub fn parent(&self) -> WorkspacePath {
        WorkspacePath(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }

    /// Each ancestor below /workspace, outermost first (not the path itself).
    pub fn ancestors(&self) -> impl Iterator<Item = WorkspacePath> + '_ {
        (1..self.0.len()).map(|n| WorkspacePath(self.0[..n].to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_workspace() {
        assert_eq!(
            WorkspacePath::parse("a/./b/").unwrap().absolute(),
            "/workspace/a/b"
        );
        assert!(WorkspacePath::parse("").unwrap().is_root());
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "/etc/passwd",
            "a\0b",
            "a/..",
            "..",
        ] {
            assert!(WorkspacePath::parse(bad).is_err(), "{bad:?}");
        }
        let nested = WorkspacePath::parse("a/b/c.py").unwrap();
        let ancestors: Vec<String> = nested.ancestors().map(|p| p.relative()).collect();
        assert_eq!(ancestors, ["a", "a/b"]);
    }
}
