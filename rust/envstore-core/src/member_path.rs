//! Rules for the relative paths an archive or manifest may name. A path that passes `check`
//! stays inside the directory it is joined to, whatever that directory is.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

/// Why `path` is unsafe, or `Ok` when it is a plain relative path.
pub fn check(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.chars().any(|c| c.is_control()) {
        return Err("control character in path");
    }
    if path.contains('\\') {
        return Err("unsafe path (backslash)");
    }
    if path.starts_with('/') {
        return Err("unsafe path (absolute)");
    }
    let b = path.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err("unsafe path (drive letter)");
    }
    for comp in path.split('/') {
        match comp {
            "" => return Err("unsafe path (empty component)"),
            "." | ".." => return Err("unsafe path (dot component)"),
            _ => {}
        }
    }
    Ok(())
}

/// A symlink at `path` may point only at a relative target that stays inside the tree.
pub fn check_symlink(path: &str, target: &str) -> Result<(), &'static str> {
    if target.is_empty() {
        return Err("empty symlink target");
    }
    if target.starts_with('/') {
        return Err("symlink with absolute target");
    }
    if target.contains('\\') || target.chars().any(|c| c.is_control()) {
        return Err("symlink with unsafe target");
    }
    let mut depth: i64 = path.split('/').count() as i64 - 1;
    for comp in target.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Err("symlink escapes the tree");
                }
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

/// The form under which two names collide on a case-insensitive or normalising filesystem.
pub fn collision_key(path: &str) -> String {
    path.nfc().collect::<String>().to_lowercase()
}

/// Finds names that collide with one seen before: exact duplicates or case/normalisation twins.
#[derive(Default)]
pub struct CollisionCheck {
    seen: HashMap<String, String>,
}

impl CollisionCheck {
    /// `Err((reason, earlier_name))` when `path` collides with an earlier name.
    pub fn add(&mut self, path: &str) -> Result<(), (&'static str, String)> {
        let key = collision_key(path.trim_end_matches('/'));
        match self.seen.get(&key) {
            Some(prev) if prev == path => Err(("duplicate member", prev.clone())),
            Some(prev) => Err(("case- or normalisation-colliding member", prev.clone())),
            None => {
                self.seen.insert(key, path.to_string());
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_paths() {
        for p in [
            "a.py",
            "pkg/__init__.py",
            "pkg-1.0.dist-info/RECORD",
            "é/ü.txt",
        ] {
            assert_eq!(check(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn rejects_escapes() {
        for p in [
            "../x",
            "/etc/x",
            "C:/x",
            "..\\x",
            "a/../../b",
            "a//b",
            "./a",
            "a/.",
            "",
            "a\0b",
        ] {
            assert!(check(p).is_err(), "{p:?} should be rejected");
        }
    }

    #[test]
    fn symlink_targets_stay_inside() {
        assert!(check_symlink("bin/python3", "python3.12").is_ok());
        assert!(check_symlink("lib/a/b", "../../bin/x").is_ok());
        assert!(check_symlink("lib/a", "../../x").is_err());
        assert!(check_symlink("x", "/etc/passwd").is_err());
    }

    #[test]
    fn collisions() {
        let mut c = CollisionCheck::default();
        assert!(c.add("A.py").is_ok());
        assert_eq!(
            c.add("a.py").unwrap_err().0,
            "case- or normalisation-colliding member"
        );
        assert_eq!(c.add("A.py").unwrap_err().0, "duplicate member");
        assert!(c.add("caf\u{e9}.py").is_ok());
        assert!(c.add("cafe\u{301}.py").is_err());
    }
}
