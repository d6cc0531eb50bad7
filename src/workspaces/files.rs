//! A workspace's files, as an editor needs them: list, read, write, make directories, delete,
//! move, and whole directories as tars. Paths are relative to /workspace. Nothing outside it
//! can be reached: `..`, absolute paths and NUL bytes are refused, and so is any path that goes
//! through a symlink (a symlink is listed, and can be deleted or moved, but is never followed).
//! Those checks give clear answers; what holds the line is who does the work: reads, writes,
//! new directories and tars in and out run in the (running) workspace as its user, never as
//! root through the engine's archive API, so a path that a process of the user's swaps for a
//! symlink after berth's check reaches nothing the user's own shell could not.

use std::io::Read;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use serde::Serialize;

use crate::docker::files::PathStat;
use crate::docker::Engine;
use crate::error::{ApiError, ErrorCode};
use crate::workspace_path::{WorkspacePath, ROOT};

/// The user (and group) that owns the files and runs the user's programs.
pub const UID: u64 = 1000;

/// One entry of a directory listing.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[schema(as = FileEntry)]
pub struct Entry {
    pub name: String,
    /// `file`, `dir` or `symlink`.
    #[ts(type = "\"file\" | \"dir\" | \"symlink\"")]
    pub kind: &'static str,
    pub size: u64,
    /// RFC 3339.
    pub modified: String,
}

fn through_symlink(path: &WorkspacePath) -> ApiError {
    ApiError::bad_request(format!(
        "path {:?} goes through a symlink, which the files API does not follow",
        path.relative()
    ))
}

fn not_found(path: &WorkspacePath) -> ApiError {
    ApiError::not_found(format!("no such file or directory: {}", path.relative()))
}

/// Checks that every ancestor of `path` is a real directory (or, with `create_parents`, is
/// missing), and returns what is at `path` itself, if anything, without following it.
async fn resolve(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
    create_parents: bool,
) -> Result<Option<PathStat>, ApiError> {
    for ancestor in path.ancestors() {
        match engine.stat_path(container, &ancestor.absolute()).await? {
            Some(stat) if stat.is_symlink() => return Err(through_symlink(path)),
            Some(stat) if !stat.is_dir() => {
                return Err(ApiError::bad_request(format!(
                    "{} is a file, not a directory",
                    ancestor.relative()
                )))
            }
            Some(_) => {}
            None if create_parents => return Ok(None),
            None => return Err(not_found(path)),
        }
    }
    if path.is_root() {
        return engine.stat_path(container, ROOT).await;
    }
    engine.stat_path(container, &path.absolute()).await
}

/// A file's bytes, streamed (byte for byte) as the engine reads them.
pub async fn read(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + use<>, ApiError> {
    match resolve(engine, container, path, false).await? {
        None => return Err(not_found(path)),
        Some(stat) if stat.is_symlink() => return Err(through_symlink(path)),
        Some(stat) if stat.is_dir() => {
            return Err(ApiError::bad_request(format!(
                "{} is a directory",
                path.relative()
            )))
        }
        Some(_) => {}
    }
    let cmd = vec!["cat".into(), "--".into(), path.absolute()];
    engine.run_streaming(container, cmd, &as_user()).await
}

/// The workspace's user, as the engine names it for an exec.
pub fn as_user() -> String {
    format!("{UID}:{UID}")
}

/// How long a file command in the workspace may take.
const FILE_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs a file command in the workspace as its user, with `input` as its stdin; its complaint
/// when it fails.
async fn run_as_user(
    engine: &Engine,
    container: &str,
    cmd: Vec<String>,
    input: impl Stream<Item = Result<Bytes, std::io::Error>> + Send,
) -> Result<(), ApiError> {
    let (code, said) = engine
        .run_with_input(container, cmd, &as_user(), input, FILE_COMMAND_TIMEOUT)
        .await?;
    if code != 0 {
        return Err(ApiError::bad_request(format!(
            "the workspace refused: {}",
            said.trim()
        )));
    }
    Ok(())
}

/// A shell script and its arguments, as an exec's command.
fn script(text: &str, args: &[String]) -> Vec<String> {
    let mut cmd = vec![
        "sh".to_string(),
        "-c".to_string(),
        text.to_string(),
        "sh".to_string(),
    ];
    cmd.extend_from_slice(args);
    cmd
}

/// The entries of a directory, by name.
pub async fn list(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
) -> Result<Vec<Entry>, ApiError> {
    match resolve(engine, container, path, false).await? {
        None => return Err(not_found(path)),
        Some(stat) if stat.is_symlink() => return Err(through_symlink(path)),
        Some(stat) if !stat.is_dir() => {
            return Err(ApiError::bad_request(format!(
                "{} is not a directory",
                path.relative()
            )))
        }
        Some(_) => {}
    }
    let tar = engine.download(container, &path.absolute()).await?;
    let reader = tokio_util::io::StreamReader::new(tar.map_err(std::io::Error::other));
    // The engine sends the whole tree; only the headers one level down are kept.
    tokio::task::spawn_blocking(move || {
        let mut archive = tar::Archive::new(tokio_util::io::SyncIoBridge::new(reader));
        let mut entries = Vec::new();
        for entry in archive.entries()? {
            let entry = entry?;
            let header = entry.header();
            let name = entry.path()?.to_string_lossy().into_owned();
            let mut parts = name.trim_end_matches('/').split('/').skip(1);
            let (Some(child), None) = (parts.next(), parts.next()) else {
                continue;
            };
            let kind = match header.entry_type() {
                tar::EntryType::Directory => "dir",
                tar::EntryType::Symlink => "symlink",
                _ => "file",
            };
            entries.push(Entry {
                name: child.to_string(),
                kind,
                size: if kind == "file" { header.size()? } else { 0 },
                modified: crate::clock::rfc3339(header.mtime()? as i64 * 1000),
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok::<_, std::io::Error>(entries)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(|e| ApiError::internal(&e))
}

/// A tar header for an entry owned by the workspace's user.
fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    header_owned_by(kind, size, mode, UID)
}

/// A tar header for an entry owned by `owner` (uid and gid), made now.
pub fn header_owned_by(kind: tar::EntryType, size: u64, mode: u32, owner: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(owner);
    header.set_gid(owner);
    header.set_mtime(crate::clock::now_s() as u64);
    header
}

fn one_chunk(
    bytes: impl Into<Bytes>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let bytes = bytes.into();
    futures_util::stream::once(async move { Ok(bytes) })
}

/// Writes a file (its parents created), whole or not at all: into a part file that replaces
/// the old one only once complete.
pub async fn write(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
    contents: Bytes,
) -> Result<(), ApiError> {
    if path.is_root() {
        return Err(ApiError::bad_request("give the path of a file"));
    }
    match resolve(engine, container, path, true).await? {
        Some(stat) if stat.is_symlink() => return Err(through_symlink(path)),
        Some(stat) if stat.is_dir() => {
            return Err(ApiError::bad_request(format!(
                "{} is a directory",
                path.relative()
            )))
        }
        _ => {}
    }
    let cmd = script(
        r#"set -e; mkdir -p -- "$1"; cat > "$2.berth-part"; mv -f -- "$2.berth-part" "$2""#,
        &[path.parent().absolute(), path.absolute()],
    );
    run_as_user(engine, container, cmd, one_chunk(contents)).await
}

/// Makes a directory and its parents.
pub async fn make_dir(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
) -> Result<(), ApiError> {
    if path.is_root() {
        return Ok(());
    }
    match resolve(engine, container, path, true).await? {
        Some(stat) if stat.is_symlink() => return Err(through_symlink(path)),
        Some(stat) if stat.is_dir() => return Ok(()),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("{} is a file", path.relative()),
            ))
        }
        None => {}
    }
    let cmd = vec!["mkdir".into(), "-p".into(), "--".into(), path.absolute()];
    run_as_user(engine, container, cmd, futures_util::stream::empty()).await
}

/// Makes /workspace the user's, with the template's starter files in it (not overwriting files
/// the volume already holds).
pub async fn seed(
    engine: &Engine,
    container: &str,
    files: &std::collections::BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut root = header(tar::EntryType::Directory, 0, 0o755);
    builder
        .append_data(&mut root, "workspace/", std::io::empty())
        .map_err(|e| ApiError::internal(&e))?;
    for (path, text) in files {
        let path = WorkspacePath::parse(path)?;
        if engine
            .stat_path(container, &path.absolute())
            .await?
            .is_some()
        {
            continue;
        }
        for dir in path.ancestors() {
            let mut h = header(tar::EntryType::Directory, 0, 0o755);
            builder
                .append_data(
                    &mut h,
                    format!("workspace/{}/", dir.relative()),
                    std::io::empty(),
                )
                .map_err(|e| ApiError::internal(&e))?;
        }
        let mut h = header(tar::EntryType::Regular, text.len() as u64, 0o644);
        builder
            .append_data(
                &mut h,
                format!("workspace/{}", path.relative()),
                text.as_bytes(),
            )
            .map_err(|e| ApiError::internal(&e))?;
    }
    let tar = builder.into_inner().map_err(|e| ApiError::internal(&e))?;
    engine.upload(container, "/", one_chunk(tar)).await
}

/// Deletes a file, a symlink (not what it points to), or a directory with all in it.
pub async fn delete(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
) -> Result<(), ApiError> {
    existing(engine, container, path).await?;
    let cmd = vec!["rm".into(), "-rf".into(), "--".into(), path.absolute()];
    run_as_user(engine, container, cmd, futures_util::stream::empty()).await
}

/// Moves `from` to `to`, which must not exist (its parents are made).
pub async fn rename(
    engine: &Engine,
    container: &str,
    from: &WorkspacePath,
    to: &WorkspacePath,
) -> Result<(), ApiError> {
    existing(engine, container, from).await?;
    free(engine, container, to).await?;
    make_dir(engine, container, &to.parent()).await?;
    let cmd = vec!["mv".into(), "--".into(), from.absolute(), to.absolute()];
    run_as_user(engine, container, cmd, futures_util::stream::empty()).await
}

/// Checks a path for `delete` or `move`: it exists, and nothing above it is a symlink (it may
/// be one itself: the link is what moves or goes).
async fn existing(engine: &Engine, container: &str, path: &WorkspacePath) -> Result<(), ApiError> {
    if path.is_root() {
        return Err(ApiError::bad_request(
            "/workspace itself cannot be moved or deleted",
        ));
    }
    match resolve(engine, container, path, false).await? {
        Some(_) => Ok(()),
        None => Err(not_found(path)),
    }
}

/// Whether `path` is there (as anything, a symlink not followed); false when a folder above it
/// is missing too.
pub async fn exists(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
) -> Result<bool, ApiError> {
    Ok(resolve(engine, container, path, true).await?.is_some())
}

/// Checks where a `move` goes: nothing there yet, and its parent a real directory.
async fn free(engine: &Engine, container: &str, path: &WorkspacePath) -> Result<(), ApiError> {
    if path.is_root() {
        return Err(ApiError::bad_request("give the path to move to"));
    }
    match resolve(engine, container, path, true).await? {
        Some(_) => Err(ApiError::conflict(format!("{} exists", path.relative()))),
        None => Ok(()),
    }
}

/// A directory as a tar, streamed from the engine.
pub async fn archive(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + use<>, ApiError> {
    match resolve(engine, container, path, false).await? {
        Some(stat) if stat.is_dir() && !stat.is_symlink() => {}
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "{} is not a directory",
                path.relative()
            )))
        }
        None => return Err(not_found(path)),
    }
    let cmd = vec![
        "tar".into(),
        "-c".into(),
        "-f".into(),
        "-".into(),
        "-C".into(),
        path.absolute(),
        ".".into(),
    ];
    engine.run_streaming(container, cmd, &as_user()).await
}

/// Unpacks an uploaded tar into a directory (made if missing), all of it or nothing. Every
/// entry becomes the workspace user's, without set-id bits. Refused, naming the entry: entries
/// that would land outside the directory, devices, pipes and hard links, symlinks whose target
/// is absolute or climbs out of the directory, and entries beneath a symlink (of the tar, or
/// one already in the workspace: the engine, writing as root, would follow it). The tar is
/// checked and rewritten to a spool file before the engine sees a byte of it.
pub async fn unpack(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
    upload: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static,
) -> Result<(), ApiError> {
    let reader = tokio_util::io::StreamReader::new(upload);
    let (spool, dirs) = tokio::task::spawn_blocking(move || {
        rewrite_upload(tokio_util::io::SyncIoBridge::new(reader))
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    make_dir(engine, container, path).await?;
    check_no_symlinks_below(engine, container, path, &dirs).await?;
    let file = tokio::fs::File::from_std(spool);
    let cmd = vec![
        "tar".into(),
        "-x".into(),
        "-f".into(),
        "-".into(),
        "-C".into(),
        path.absolute(),
    ];
    run_as_user(
        engine,
        container,
        cmd,
        tokio_util::io::ReaderStream::new(file),
    )
    .await
}

/// Checks an uploaded tar entry by entry and writes it, rewritten as the workspace user's, to
/// an unnamed spool file; that file, rewound, and the directories the entries lie in.
fn rewrite_upload(
    upload: impl Read,
) -> Result<(std::fs::File, std::collections::BTreeSet<String>), ApiError> {
    let bad = |why: String| ApiError::bad_request(format!("the tar {why}"));
    let io = |e: std::io::Error| bad(format!("cannot be read: {e}"));
    let internal = |e: std::io::Error| ApiError::internal(&e);
    let mut archive = tar::Archive::new(upload);
    let mut out = tar::Builder::new(tempfile::tempfile().map_err(internal)?);
    let mut links = std::collections::BTreeSet::new();
    let mut dirs = std::collections::BTreeSet::new();
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let name = entry.path().map_err(io)?.to_string_lossy().into_owned();
        let relative = WorkspacePath::parse(&name).map_err(|e| {
            bad(format!(
                "holds an entry outside the directory: {}",
                e.message
            ))
        })?;
        if let Some(link) = relative.ancestors().find(|a| links.contains(a.parts())) {
            return Err(bad(format!(
                "holds {name}, beneath its own symlink {}",
                link.relative()
            )));
        }
        dirs.extend(relative.ancestors().map(|a| a.relative()));
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().map_err(io)? & 0o777;
        match kind {
            tar::EntryType::Directory => {
                dirs.insert(relative.relative());
                let mut h = header(kind, 0, mode | 0o700);
                out.append_data(
                    &mut h,
                    format!("{}/", relative.relative()),
                    std::io::empty(),
                )
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size().map_err(io)?;
                let mut h = header(tar::EntryType::Regular, size, mode);
                out.append_data(&mut h, relative.relative(), &mut entry)
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name().map_err(io)?.unwrap_or_default();
                let target = target.to_string_lossy().into_owned();
                if !link_stays_inside(&relative, &target) {
                    return Err(bad(format!(
                        "holds the symlink {name} -> {target}, which points outside the \
                         directory"
                    )));
                }
                links.insert(relative.parts().to_vec());
                let mut h = header(kind, 0, 0o777);
                out.append_link(&mut h, relative.relative(), &target)
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            _ => {
                return Err(bad(format!(
                    "holds {name}, which is not a file, directory or symlink"
                )))
            }
        }
        .map_err(internal)?;
    }
    let mut spool = out.into_inner().map_err(internal)?;
    std::io::Seek::rewind(&mut spool).map_err(internal)?;
    Ok((spool, dirs))
}

/// Whether a symlink at `link` pointing to `target` stays inside the directory it is unpacked
/// into: relative, with `..` only at its start (a `..` after a name could climb through another
/// symlink) and never above the directory.
fn link_stays_inside(link: &WorkspacePath, target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') || target.contains('\0') {
        return false;
    }
    let parts: Vec<&str> = target
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let climbs = parts.iter().take_while(|p| **p == "..").count();
    let depth = link.parts().len() - 1;
    climbs <= depth && !parts[climbs..].contains(&"..")
}

/// Refuses an unpack whose entries lie beneath a symlink already in the workspace. `dirs` are
/// relative to `path`; a directory that is missing will be made, and so is everything under it.
async fn check_no_symlinks_below(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
    dirs: &std::collections::BTreeSet<String>,
) -> Result<(), ApiError> {
    let mut missing: Vec<&str> = Vec::new();
    // Sorted, so a directory comes before what is in it.
    for dir in dirs {
        if missing.iter().any(|m| {
            dir.strip_prefix(m)
                .is_some_and(|rest| rest.starts_with('/'))
        }) {
            continue;
        }
        let inside = WorkspacePath::parse(&format!("{}/{dir}", path.relative()))?;
        match engine.stat_path(container, &inside.absolute()).await? {
            None => missing.push(dir),
            Some(stat) if stat.is_symlink() => {
                return Err(ApiError::bad_request(format!(
                    "the tar holds entries beneath {}, a symlink in the workspace",
                    inside.relative()
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}
