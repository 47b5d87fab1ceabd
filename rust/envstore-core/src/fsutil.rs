//! Small filesystem helpers shared by the store: durable writes, directory syncs and the fixed
//! blob timestamp. Nothing here decides policy; callers say whether to sync.

use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use crate::error::{IoContext, Result};

/// Every blob carries mtime 1 (as in Nix): one inode serves many paths, so its time means nothing,
/// and a fixed value keeps trees byte-for-byte reproducible.
pub fn blob_times() -> FileTimes {
    let t = UNIX_EPOCH + Duration::from_secs(1);
    FileTimes::new().set_modified(t).set_accessed(t)
}

/// Create `path` exclusively and write `data` to it with the given mode, optionally fsync'd.
pub fn write_new_file(path: &Path, data: &[u8], mode: u32, fsync: bool) -> Result<File> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .ctx("create", path)?;
    file.write_all(data).ctx("write", path)?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .ctx("set permissions on", path)?;
    file.set_times(blob_times()).ctx("set times on", path)?;
    if fsync {
        file.sync_all().ctx("fsync", path)?;
    }
    Ok(file)
}

/// fsync a directory so that renames and links inside it survive power loss.
pub fn sync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .ctx("fsync directory", path)
}

/// Flush the whole filesystem holding `path` with one syscall: far cheaper than one fsync per
/// file when a batch of thousands of blobs is about to be published.
pub fn sync_filesystem(path: &Path) -> Result<()> {
    let dir = File::open(path).ctx("open", path)?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs only reads the descriptor, which `dir` keeps open for the call.
        let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
        if rc != 0 {
            return Err(io::Error::last_os_error()).ctx("syncfs", path);
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        dir.sync_all().ctx("fsync", path)
    }
}

/// Atomically write `data` to `dest` through a temp file in `tmp_dir` (same filesystem).
pub fn write_atomic(
    tmp_dir: &Path,
    dest: &Path,
    data: &[u8],
    mode: u32,
    fsync: bool,
) -> Result<()> {
    let tmp = tmp_dir.join(unique_name("write"));
    write_new_file(&tmp, data, mode, fsync)?;
    if let Err(e) = fs::rename(&tmp, dest) {
        let _ = fs::remove_file(&tmp);
        return Err(e).ctx("rename into", dest);
    }
    if fsync {
        if let Some(parent) = dest.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// A name unique within this machine for temp files and staging directories.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:08x}-{n}", std::process::id())
}

/// Remove a tree that may contain read-only directories (as published prefixes do).
pub fn remove_tree(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx("stat", path),
        Ok(m) if !m.is_dir() => return fs::remove_file(path).ctx("remove", path),
        Ok(_) => {}
    }
    make_dirs_writable(path)?;
    fs::remove_dir_all(path).ctx("remove", path)
}

fn make_dirs_writable(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).ctx("stat", path)?;
    if !meta.is_dir() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & 0o700 != 0o700 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o700))
            .ctx("make writable", path)?;
    }
    for entry in fs::read_dir(path).ctx("list", path)? {
        let entry = entry.ctx("list", path)?;
        if entry.file_type().ctx("stat", entry.path())?.is_dir() {
            make_dirs_writable(&entry.path())?;
        }
    }
    Ok(())
}

/// Make every directory under `root` (and `root`) read-only; files keep their own modes
/// (blobs are read-only already). Symlinks are never followed.
pub fn make_dirs_read_only(root: &Path) -> Result<u64> {
    let mut n = 0;
    let mut stack = vec![root.to_path_buf()];
    let mut dirs = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).ctx("list", &dir)? {
            let entry = entry.ctx("list", &dir)?;
            if entry.file_type().ctx("stat", entry.path())?.is_dir() {
                stack.push(entry.path());
            }
        }
        dirs.push(dir);
    }
    for dir in dirs {
        let mode = fs::symlink_metadata(&dir)
            .ctx("stat", &dir)?
            .permissions()
            .mode();
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode & !0o222))
            .ctx("make read-only", &dir)?;
        n += 1;
    }
    Ok(n)
}
