//! Where `berth login` keeps the server and token for the other commands: a file only its owner
//! may read (mode 0600, in a directory of mode 0700), in `$XDG_CONFIG_HOME/berth` (else
//! `~/.config/berth`).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Credentials {
    /// `https://berth.school.example`
    pub server: String,
    pub username: String,
    pub token: String,
}

// The token must never reach a log or an error message.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

fn dir() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".config"),
    };
    Ok(base.join("berth"))
}

pub fn path() -> anyhow::Result<PathBuf> {
    Ok(dir()?.join("credentials.json"))
}

/// Writes the credentials, replacing what was there; the file is never readable by others,
/// not even for a moment (it is made 0600, then renamed into place).
pub fn save(credentials: &Credentials) -> anyhow::Result<PathBuf> {
    let dir = dir()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("making {}", dir.display()))?;
    let path = dir.join("credentials.json");
    let partial = dir.join(".credentials.json.new");
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("writing {}", partial.display()))?;
    file.write_all(serde_json::to_string_pretty(credentials)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

pub fn load() -> anyhow::Result<Credentials> {
    let path = path()?;
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "not signed in ({} is missing): run `berth login`",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{} is not berth's", path.display()))
}
