//! Snapshot tars: a snapshot's entries re-packed under a folder, for the teacher's all-students
//! tar and a check's sandbox.

use std::io::Write;
use std::path::Path;

/// Appends a snapshot's entries to `builder` under `prefix/`, but those whose path (relative to
/// the snapshot's folder) `skip` says to leave out.
pub fn append_under<W: Write>(
    builder: &mut tar::Builder<W>,
    snapshot: &Path,
    prefix: &str,
    skip: impl Fn(&str) -> bool,
) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(std::fs::File::open(snapshot)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let inner = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if !inner.is_empty() && skip(&inner) {
            continue;
        }
        let mut header = entry.header().clone();
        let path = if inner.is_empty() {
            format!("{prefix}/")
        } else if entry.header().entry_type().is_dir() {
            format!("{prefix}/{inner}/")
        } else {
            format!("{prefix}/{inner}")
        };
        let link = entry.link_name()?.map(|l| l.into_owned());
        match link {
            Some(target) => builder.append_link(&mut header, &path, target)?,
            None => builder.append_data(&mut header, &path, &mut entry)?,
        }
    }
    Ok(())
}
