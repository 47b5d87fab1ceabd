//! Placing one blob at one path: hardlink first; on EXDEV, EMLINK or EPERM fall back, for that
//! file only, to a reflink and then to a copy, and say which was used.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{IoContext, Result};
use crate::fsutil;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkMode {
    Hardlink,
    Reflink,
    Copy,
}

/// How the caller wants files placed. `Auto` hardlinks and falls back per file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkStrategy {
    Auto,
    Copy,
}

fn needs_fallback(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EXDEV) | Some(libc::EMLINK) | Some(libc::EPERM) | Some(libc::EACCES)
    )
}

/// Place the blob at `src` (mode `mode`) at `dst`, which must not exist.
pub fn place(src: &Path, dst: &Path, mode: u32, strategy: LinkStrategy) -> Result<LinkMode> {
    if strategy == LinkStrategy::Auto {
        match fs::hard_link(src, dst) {
            Ok(()) => return Ok(LinkMode::Hardlink),
            Err(e) if needs_fallback(&e) => {}
            Err(e) => return Err(e).ctx("link blob to", dst),
        }
        if reflink(src, dst).is_ok() {
            finish_copy(dst, mode)?;
            return Ok(LinkMode::Reflink);
        }
    }
    fs::copy(src, dst).ctx("copy blob to", dst)?;
    finish_copy(dst, mode)?;
    Ok(LinkMode::Copy)
}

fn finish_copy(dst: &Path, mode: u32) -> Result<()> {
    // The copy is already read-only like its blob; owner rights suffice for futimens/fchmod.
    let f = fs::File::open(dst).ctx("open", dst)?;
    f.set_times(fsutil::blob_times()).ctx("set times on", dst)?;
    f.set_permissions(fs::Permissions::from_mode(mode))
        .ctx("set permissions on", dst)
}

#[cfg(target_os = "linux")]
fn reflink(src: &Path, dst: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    const FICLONE: libc::c_ulong = 0x4004_9409;
    let s = fs::File::open(src)?;
    let d = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dst)?;
    // SAFETY: both descriptors are open for the duration of the call; FICLONE takes an fd.
    let rc = unsafe { libc::ioctl(d.as_raw_fd(), FICLONE as _, s.as_raw_fd()) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    drop(d);
    let _ = fs::remove_file(dst);
    Err(err)
}

#[cfg(not(target_os = "linux"))]
fn reflink(_src: &Path, _dst: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
