//! Placing one blob at one path: hardlink first; on EXDEV, EMLINK or EPERM fall back, for that
//! file only, to a reflink and then to a copy, and say which was used and which link error
//! forced it. Every link(2) the store makes goes through [`hard_link`], where the test-only
//! [`LinkFaults`] apply (RELIABILITY rows 22 and 23).

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Mutex;

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

/// Test-only link failures, so the per-file fallback can be exercised on any filesystem. The
/// caller fills this in (the binding from its test settings); the core never reads a setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkFaults {
    /// Every link attempt fails with this errno (EPERM: a filesystem without hardlinks).
    pub errno: Option<i32>,
    /// A link attempt fails with EMLINK when the source already has this many links, as at a
    /// filesystem's link limit (ext4: 65,000).
    pub max_links: Option<u64>,
}

/// One file placed: how, and the link error that forced a reflink or copy (None when
/// hardlinked, or when the caller asked for copies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub mode: LinkMode,
    pub link_error: Option<i32>,
}

/// The link errors a per-file fallback handles: another filesystem, the link limit, and a
/// filesystem (or `fs.protected_hardlinks`) that refuses the link.
pub fn is_fallback_errno(errno: i32) -> bool {
    matches!(
        errno,
        libc::EXDEV | libc::EMLINK | libc::EPERM | libc::EACCES
    )
}

/// link(2) with the test faults applied. With `max_links` the check and the link are one step
/// for this process, as the kernel's limit is, so parallel placements cannot overshoot it.
pub fn hard_link(src: &Path, dst: &Path, faults: LinkFaults) -> io::Result<()> {
    if let Some(errno) = faults.errno {
        return Err(io::Error::from_raw_os_error(errno));
    }
    if let Some(max) = faults.max_links {
        static GATE: Mutex<()> = Mutex::new(());
        let _held = GATE.lock().unwrap_or_else(|p| p.into_inner());
        if fs::symlink_metadata(src)?.nlink() >= max {
            return Err(io::Error::from_raw_os_error(libc::EMLINK));
        }
        return fs::hard_link(src, dst);
    }
    fs::hard_link(src, dst)
}

/// Move `src` to `dst` unless `dst` exists (EEXIST then): the exclusive create that publishes
/// a blob where the filesystem refuses hardlinks.
#[cfg(target_os = "linux")]
pub fn rename_noreplace(src: &Path, dst: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let cstr = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
    };
    let (s, d) = (cstr(src)?, cstr(dst)?);
    // SAFETY: both arguments are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            s.as_ptr(),
            libc::AT_FDCWD,
            d.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub fn rename_noreplace(_src: &Path, _dst: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Place the blob at `src` (mode `mode`) at `dst`, which must not exist.
pub fn place(
    src: &Path,
    dst: &Path,
    mode: u32,
    strategy: LinkStrategy,
    faults: LinkFaults,
) -> Result<Placement> {
    let mut link_error = None;
    if strategy == LinkStrategy::Auto {
        match hard_link(src, dst, faults) {
            Ok(()) => {
                return Ok(Placement {
                    mode: LinkMode::Hardlink,
                    link_error: None,
                })
            }
            Err(e) if e.raw_os_error().is_some_and(is_fallback_errno) => {
                link_error = e.raw_os_error();
            }
            Err(e) => return Err(e).ctx("link blob to", dst),
        }
        if reflink(src, dst).is_ok() {
            finish_copy(dst, mode)?;
            return Ok(Placement {
                mode: LinkMode::Reflink,
                link_error,
            });
        }
    }
    fs::copy(src, dst).ctx("copy blob to", dst)?;
    finish_copy(dst, mode)?;
    Ok(Placement {
        mode: LinkMode::Copy,
        link_error,
    })
}

fn finish_copy(dst: &Path, mode: u32) -> Result<()> {
    // The copy is already read-only like its blob; owner rights suffice for futimens/fchmod.
    // Its mtime is the blob's (1 s), which is how `verify` tells a placement fallback copy from
    // a file an editor saved over the link.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(dir: &Path) -> std::path::PathBuf {
        let src = dir.join("blob");
        fs::write(&src, b"shared bytes").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o444)).unwrap();
        src
    }

    fn faults(errno: Option<i32>, max_links: Option<u64>) -> LinkFaults {
        LinkFaults { errno, max_links }
    }

    #[test]
    fn fallback_errnos_copy_that_file_with_the_blob_mode_and_time() {
        for errno in [libc::EPERM, libc::EXDEV, libc::EMLINK] {
            let dir = tempfile::tempdir().unwrap();
            let src = blob(dir.path());
            let dst = dir.path().join("placed");
            let p = place(
                &src,
                &dst,
                0o444,
                LinkStrategy::Auto,
                faults(Some(errno), None),
            )
            .unwrap();
            assert_ne!(p.mode, LinkMode::Hardlink);
            assert_eq!(p.link_error, Some(errno));
            let (s, d) = (fs::metadata(&src).unwrap(), fs::metadata(&dst).unwrap());
            assert_ne!(s.ino(), d.ino());
            assert_eq!((s.nlink(), d.nlink()), (1, 1));
            assert_eq!(d.mode() & 0o7777, 0o444);
            assert_eq!(d.mtime(), 1);
            assert_eq!(fs::read(&dst).unwrap(), b"shared bytes");
        }
    }

    #[test]
    fn other_link_errors_are_errors_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let src = blob(dir.path());
        let dst = dir.path().join("placed");
        let err = place(
            &src,
            &dst,
            0o444,
            LinkStrategy::Auto,
            faults(Some(libc::ENOSPC), None),
        )
        .unwrap_err();
        assert!(err.to_string().contains("placed"), "{err}");
        assert!(!dst.exists());
    }

    #[test]
    fn max_links_caps_the_blob_and_copies_beyond_it() {
        let dir = tempfile::tempdir().unwrap();
        let src = blob(dir.path());
        let cap = faults(None, Some(3));
        let modes: Vec<LinkMode> = (0..5)
            .map(|i| {
                let dst = dir.path().join(format!("p{i}"));
                place(&src, &dst, 0o444, LinkStrategy::Auto, cap)
                    .unwrap()
                    .mode
            })
            .collect();
        assert_eq!(&modes[..2], &[LinkMode::Hardlink, LinkMode::Hardlink]);
        assert!(modes[2..].iter().all(|m| *m != LinkMode::Hardlink));
        assert_eq!(fs::metadata(&src).unwrap().nlink(), 3);
    }

    #[test]
    fn no_faults_hardlinks() {
        let dir = tempfile::tempdir().unwrap();
        let src = blob(dir.path());
        let dst = dir.path().join("placed");
        let p = place(&src, &dst, 0o444, LinkStrategy::Auto, LinkFaults::default()).unwrap();
        assert_eq!(
            p,
            Placement {
                mode: LinkMode::Hardlink,
                link_error: None
            }
        );
        assert_eq!(fs::metadata(&src).unwrap().nlink(), 2);
    }
}
