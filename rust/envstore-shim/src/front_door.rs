//! `store realize` when nothing changed, answered without starting Python. Installed as the
//! shim named `store`, the binary answers from the project's `.envstore/state-v1.json` exactly
//! when python/envstore/ops/fastpath.py would (the rule is defined there; this is its second
//! reader, as for the rest of the `.envstore/` format): the same arguments, the same key, the
//! out-link still naming the prefix, the env file and lock byte-for-byte unchanged (sha256), and
//! the prefix still registered in the store's database at the schema the state was written
//! under. Anything else, or any doubt, returns None and the caller hands the command to the
//! Python `store`, which answers properly. Python's own start-up on this machine class is 15-70 ms
//! (site, .pth files) before envstore runs a line, so the native answer is what makes the
//! already-realized case cost what a stat and two small reads cost.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{DEFAULT_ENV_FILES, OUT_LINK_DIR, STATE_FILE};

/// What `store [--store DIR] [-q] realize [[-f] FILE]` names, or None for any other command
/// line (entry.py's `_fast_realize` accepts the same forms).
fn parse(args: &[OsString]) -> Option<(Option<OsString>, Option<OsString>)> {
    let mut store = None;
    let mut rest = args;
    while let Some(first) = rest.first() {
        let a = first.as_bytes();
        if !a.starts_with(b"-") {
            break;
        }
        if a == b"--store" && rest.len() > 1 {
            store = Some(rest[1].clone());
            rest = &rest[2..];
        } else if let Some(v) = a.strip_prefix(b"--store=") {
            store = Some(OsString::from(std::ffi::OsStr::from_bytes(v)));
            rest = &rest[1..];
        } else if a == b"-q" || a == b"--quiet" {
            rest = &rest[1..];
        } else {
            return None;
        }
    }
    let (verb, mut rest) = rest.split_first()?;
    if !(verb == "realize" || verb == "realise") || rest.len() > 2 {
        return None;
    }
    let mut named: Option<OsString> = None;
    match rest {
        [flag, file] if flag == "-f" || flag == "--file" => {
            named = Some(file.clone());
            rest = &[];
        }
        [one] if one.as_bytes().starts_with(b"--file=") => {
            named = Some(OsString::from(std::ffi::OsStr::from_bytes(&one.as_bytes()[7..])));
            rest = &[];
        }
        _ => {}
    }
    match rest {
        [] => Some((store, named)),
        [file] if !file.as_bytes().starts_with(b"-") => Some((store, Some(file.clone()))),
        _ => None,
    }
}

/// Python's `Path(p).absolute()`: joined to the working directory, `.` and repeated slashes
/// dropped, `..` kept.
fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    cwd.join(p).components().filter(|c| *c != Component::CurDir).collect()
}

fn expand_user(p: &OsString) -> Option<PathBuf> {
    let b = p.as_bytes();
    if b == b"~" || b.starts_with(b"~/") {
        let home = env::var_os("HOME")?;
        return Some(Path::new(&home).join(std::ffi::OsStr::from_bytes(b[1..].strip_prefix(b"/").unwrap_or(b""))));
    }
    if b.starts_with(b"~") {
        return None; // `~user`: the full path expands it
    }
    Some(PathBuf::from(p))
}

fn non_empty(name: &str) -> Option<OsString> {
    env::var_os(name).filter(|v| !v.is_empty())
}

/// envstore.store.default_root: `$ENVSTORE_ROOT`, else `$XDG_DATA_HOME/envstore`, else
/// `~/.local/share/envstore`.
fn default_root(cwd: &Path) -> Option<PathBuf> {
    if let Some(explicit) = non_empty("ENVSTORE_ROOT") {
        return Some(absolute(cwd, &expand_user(&explicit)?));
    }
    let data_home = match non_empty("XDG_DATA_HOME") {
        Some(base) => PathBuf::from(base),
        None => Path::new(&env::var_os("HOME")?).join(".local").join("share"),
    };
    Some(absolute(cwd, &data_home.join("envstore")))
}

fn sha256_hex(path: &Path) -> Option<String> {
    let data = fs::read(path).ok()?;
    Some(Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect())
}

fn text<'a>(state: &'a Value, field: &str) -> Option<&'a str> {
    state.get(field)?.as_str()
}

/// The prefix to print, when the last realize's answer still holds.
pub fn answer(args: &[OsString], cwd: &Path) -> Option<PathBuf> {
    let (store, named) = parse(args)?;
    let env_file = match named {
        Some(f) => PathBuf::from(f),
        None => DEFAULT_ENV_FILES
            .iter()
            .map(PathBuf::from)
            .find(|f| cwd.join(f).is_file())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ENV_FILES[0])),
    };
    let env_file = absolute(cwd, &env_file);
    if !env_file.is_file() {
        return None;
    }
    let root = match store {
        Some(s) => absolute(cwd, &expand_user(&s)?),
        None => default_root(cwd)?,
    };
    let key = format!("{}@{}", env_file.file_name()?.to_str()?, root.to_str()?);
    let dot = env_file.parent()?.join(OUT_LINK_DIR);
    let states: Value = serde_json::from_slice(&fs::read(dot.join(STATE_FILE)).ok()?).ok()?;
    let state = states.get(&key)?;

    let prefix = PathBuf::from(text(state, "prefix")?);
    if prefix.parent()?.parent()? != root || !prefix.is_dir() {
        return None;
    }
    if fs::read_link(text(state, "link")?).ok()? != prefix {
        return None;
    }
    if text(state, "env")? != sha256_hex(&env_file)? {
        return None;
    }
    // A lock that was missing then must be missing now (Python's digest is None for both).
    let lock_now = sha256_hex(Path::new(text(state, "lock_path")?));
    if state.get("lock")?.as_str().map(str::to_owned) != lock_now {
        return None;
    }
    registered(Path::new(text(state, "db")?), &prefix, text(state, "schema")?).then_some(prefix)
}

/// The prefix is still a valid one of a store whose database is at the schema the state saw
/// (a migrated store is the Python side's to read).
fn registered(db: &Path, prefix: &Path, schema: &str) -> bool {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let Ok(conn) = Connection::open_with_flags(db, flags) else {
        return false;
    };
    if conn.busy_timeout(std::time::Duration::from_secs(5)).is_err() {
        return false;
    }
    let Some(prefix) = prefix.to_str() else {
        return false;
    };
    conn.query_row(
        "SELECT (SELECT value FROM meta WHERE key = 'schema'), \
         EXISTS (SELECT 1 FROM prefixes WHERE path = ?1)",
        [prefix],
        |row| Ok((row.get::<_, Option<String>>(0)?, row.get::<_, bool>(1)?)),
    )
    .map(|(found, yes)| yes && found.as_deref() == Some(schema))
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_the_forms_entry_py_accepts() {
        assert_eq!(parse(&os(&["realize"])), Some((None, None)));
        assert_eq!(parse(&os(&["-q", "realise", "e.yml"])), Some((None, Some("e.yml".into()))));
        assert_eq!(
            parse(&os(&["--store", "/s", "realize", "-f", "e.yml"])),
            Some((Some("/s".into()), Some("e.yml".into())))
        );
        assert_eq!(
            parse(&os(&["--store=/s", "realize", "--file=e.yml"])),
            Some((Some("/s".into()), Some("e.yml".into())))
        );
        for other in [
            &["realize", "--frozen"][..],
            &["realize", "a.yml", "b.yml"],
            &["lock"],
            &["--verbose", "realize"],
            &[],
            &["realize", "-f"],
        ] {
            assert_eq!(parse(&os(other)), None, "{other:?}");
        }
    }

    #[test]
    fn absolute_drops_dots_like_pathlib() {
        let cwd = Path::new("/w/p");
        assert_eq!(absolute(cwd, Path::new("./env.yml")), PathBuf::from("/w/p/env.yml"));
        assert_eq!(absolute(cwd, Path::new("a//b/./c")), PathBuf::from("/w/p/a/b/c"));
        assert_eq!(absolute(cwd, Path::new("../x")), PathBuf::from("/w/p/../x"));
        assert_eq!(absolute(cwd, Path::new("/abs/s/")), PathBuf::from("/abs/s"));
    }
}
