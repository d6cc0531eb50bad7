//! A workspace's files, as an editor needs them: list, read, write, make directories, delete,
//! move, and whole directories as tars. Paths are relative to /workspace. Nothing outside it
//! can be reached: `..`, absolute paths and NUL bytes are refused, and so is any path that goes
//! through a symlink (a symlink is listed, and can be deleted or moved, but is never followed).
//! Reads and writes use the engine's archive API, so they work on a stopped workspace too.

use std::io::Read;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::docker::files::PathStat;
use crate::docker::Engine;
use crate::error::{ApiError, ErrorCode};

/// Where the files live in every workspace container.
pub const ROOT: &str = "/workspace";
/// The user (and group) that owns the files and runs the user's programs.
pub const UID: u64 = 1000;

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

    pub fn name(&self) -> &str {
        self.0.last().map_or(".", String::as_str)
    }

    /// Each ancestor below /workspace, outermost first (not the path itself).
    fn ancestors(&self) -> impl Iterator<Item = WorkspacePath> + '_ {
        (1..self.0.len()).map(|n| WorkspacePath(self.0[..n].to_vec()))
    }
}

/// One entry of a directory listing.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub name: String,
    /// `file`, `dir` or `symlink`.
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
    let tar = engine.download(container, &path.absolute()).await?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    // The tar holds the one file: its contents go out in chunks as they are read.
    let reader = tokio_util::io::StreamReader::new(tar.map_err(std::io::Error::other));
    tokio::task::spawn_blocking(move || {
        let mut archive = tar::Archive::new(tokio_util::io::SyncIoBridge::new(reader));
        let result = (|| {
            let mut entry = archive
                .entries()?
                .next()
                .ok_or_else(|| std::io::Error::other("empty archive"))??;
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = entry.read(&mut chunk)?;
                if n == 0 {
                    return Ok(());
                }
                if tx
                    .blocking_send(Ok(Bytes::copy_from_slice(&chunk[..n])))
                    .is_err()
                {
                    return Ok(()); // the client went away
                }
            }
        })();
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    Ok(crate::upload::receiver_stream(rx))
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
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(UID);
    header.set_gid(UID);
    header.set_mtime(crate::clock::now_s() as u64);
    header
}

/// A tar of `path`'s missing directories and, when given, the file's bytes at `path`.
fn tar_for(
    path: &WorkspacePath,
    contents: Option<&[u8]>,
    dir_mode: u32,
) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let dirs: Vec<WorkspacePath> = match contents {
        Some(_) => path.ancestors().collect(),
        None => path.ancestors().chain([path.clone()]).collect(),
    };
    for dir in dirs {
        let mut h = header(tar::EntryType::Directory, 0, dir_mode);
        builder.append_data(&mut h, format!("{}/", dir.relative()), std::io::empty())?;
    }
    if let Some(bytes) = contents {
        let mut h = header(tar::EntryType::Regular, bytes.len() as u64, 0o644);
        builder.append_data(&mut h, path.relative(), bytes)?;
    }
    builder.into_inner()
}

fn one_chunk(bytes: Vec<u8>) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::once(async move { Ok(Bytes::from(bytes)) })
}

/// Writes a file (its parents created), whole or not at all.
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
    let tar = tar_for(path, Some(&contents), 0o755).map_err(|e| ApiError::internal(&e))?;
    engine.upload(container, ROOT, one_chunk(tar)).await
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
    let tar = tar_for(path, None, 0o755).map_err(|e| ApiError::internal(&e))?;
    engine.upload(container, ROOT, one_chunk(tar)).await
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

/// Checks a path for `delete` or `move`: it exists, and nothing above it is a symlink (it may
/// be one itself: the link is what moves or goes).
pub async fn existing(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
) -> Result<(), ApiError> {
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

/// Checks where a `move` goes: nothing there yet, and its parent a real directory.
pub async fn free(engine: &Engine, container: &str, path: &WorkspacePath) -> Result<(), ApiError> {
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
    let tar = engine.download(container, &path.absolute()).await?;
    Ok(tar.map_err(std::io::Error::other))
}

/// Unpacks an uploaded tar into a directory (made if missing). Every entry becomes the
/// workspace user's, without set-id bits; entries that would land outside the directory, and
/// devices or pipes, are refused.
pub async fn unpack(
    engine: &Engine,
    container: &str,
    path: &WorkspacePath,
    upload: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static,
) -> Result<(), ApiError> {
    make_dir(engine, container, path).await?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let reader = tokio_util::io::StreamReader::new(upload);
    let rewrite = tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        let bad = |why: String| ApiError::bad_request(format!("the tar {why}"));
        let io = |e: std::io::Error| bad(format!("cannot be read: {e}"));
        let mut archive = tar::Archive::new(tokio_util::io::SyncIoBridge::new(reader));
        let abort = tx.clone();
        let mut out = tar::Builder::new(ChannelWriter::new(tx));
        let rewritten = (|| {
            for entry in archive.entries().map_err(io)? {
                let mut entry = entry.map_err(io)?;
                let name = entry.path().map_err(io)?.to_string_lossy().into_owned();
                let relative = WorkspacePath::parse(&name).map_err(|e| {
                    bad(format!(
                        "holds an entry outside the directory: {}",
                        e.message
                    ))
                })?;
                let kind = entry.header().entry_type();
                let mode = entry.header().mode().map_err(io)? & 0o777;
                match kind {
                    tar::EntryType::Directory => {
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
                        let mut h = header(kind, 0, 0o777);
                        out.append_link(&mut h, relative.relative(), target)
                    }
                    tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
                    _ => {
                        return Err(bad(format!(
                            "holds {name}, which is not a file, directory or symlink"
                        )))
                    }
                }
                .map_err(|e| ApiError::internal(&e))?;
            }
            out.finish().map_err(|e| ApiError::internal(&e))
        })();
        if rewritten.is_err() {
            // The engine must see a broken body, not a tar that merely ends early.
            let _ = abort.blocking_send(Err(std::io::Error::other("refused tar")));
        }
        drop(out);
        rewritten
    });
    let uploaded = engine
        .upload(
            container,
            &path.absolute(),
            crate::upload::receiver_stream(rx),
        )
        .await;
    // The tar's own fault says more than the engine's answer to a broken body.
    rewrite.await.map_err(|e| ApiError::internal(&e))??;
    uploaded
}

/// A blocking writer that hands what is written to an async reader in chunks.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    const CHUNK: usize = 256 * 1024;

    fn new(tx: mpsc::Sender<Result<Bytes, std::io::Error>>) -> Self {
        ChannelWriter {
            tx,
            buffer: Vec::with_capacity(Self::CHUNK),
        }
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= Self::CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the engine stopped reading"))
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
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
