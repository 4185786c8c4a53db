//! Crash-safe file writes: every file the tool writes (checkpoints,
//! `run.json`, reproduce records, tables, results documents, `.npy` matrices)
//! goes through here. The bytes go to a temporary file in the target's
//! directory (`.NAME.PID.tmp`), which is fsynced, renamed over the target,
//! and the directory fsynced; a reader (or a run resumed after a kill) sees
//! either the old file, no file, or the whole new one, never a torn one. A
//! kill can leave a stray `.tmp` beside the target, which nothing reads.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically, creating the parent directory.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let tmp = temp_path(path)?;
    let written = std::fs::write(&tmp, bytes).and_then(|()| commit(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The temporary path a writer that only takes a path (libtorch's
/// safetensors) writes to before [`commit`]; creates the parent directory.
pub fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let dir = parent(path);
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    Ok(dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Makes the finished temporary file `tmp` durable and moves it over `path`:
/// fsync the file, rename, fsync the directory.
pub fn commit(tmp: &Path, path: &Path) -> io::Result<()> {
    File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, path)?;
    sync_dir(parent(path))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.json");
        write(&p, "first").unwrap();
        write(&p, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
