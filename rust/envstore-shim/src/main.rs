//! envstore-shim: installed (as hardlinks) under the names python, python3, python3.X, pip and
//! every console script of the environments in use; picks a directory for the current working
//! directory and execs `DIR/bin/<name>` with the arguments and environment intact. It never
//! starts Python and never writes anything except the one-time staleness marker below.
//!
//! The dispatch rule, defined here and only here (`store hook` and `store activate` ask this
//! binary through `envstore-shim resolve` instead of re-implementing it):
//!  1. the nearest `.envstore/` from the working directory upward that names an environment:
//!     `.envstore/active` (written by `store use ENV_FILE` in the project, and by the first
//!     realize of a project) names the out-link; else the only out-link in it; several out-links
//!     and no `active` is an error that says to run `store use`;
//!  2. else the nearest `.python-version` (pyenv style: `3.12` or `3.12.1`; the first line that
//!     matches wins) mapped to an interpreter in the store, the newest matching one;
//!  3. else the default profile (STORE/profiles/default -> generation link -> prefix);
//!  4. else, or when the chosen directory has no `bin/<name>`, the next PATH entry that is not
//!     a shim directory; ENVSTORE_SHIM_HOPS counts such hops so two shim copies on PATH cannot
//!     loop forever. Except: while a project (1) or the profile (3) applies, `python*` and
//!     `pip*` never fall through (the next `pip` on PATH is another environment's, and
//!     `pip install` there changes the wrong environment): the shim says the environment has no
//!     such command and how to add a package. Other commands (console scripts, tools installed
//!     on their own) still fall through.
//!
//! Everything it needs about the store comes from `.envstore-shims-v1`, a tab-separated text
//! file beside the binary that `store shims install` (and each realize and `store use`) rewrites.
//! What it reads in a project follows the `.envstore/` format (docs/concepts.md; written by
//! python/envstore/project.py), pinned by tests/fixtures/project-v1 which pytest reads too.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};
use std::time::SystemTime;

mod front_door;

const INDEX_NAME: &str = ".envstore-shims-v1";
const INDEX_HEADER: &[u8] = b"envstore-shims-v1";
const MASTER_NAME: &str = "envstore-shim";
const HOPS_VAR: &str = "ENVSTORE_SHIM_HOPS";
const MAX_HOPS: u32 = 8;
const WARNED_MARKER: &str = ".shim-warned";

// The `.envstore/` format, v1 (python/envstore/project.py holds the same names).
const OUT_LINK_DIR: &str = ".envstore";
const ACTIVE_FILE: &str = "active";
const ACTIVE_VERSION_LINE: &[u8] = b"envstore-active-v1";
const ACTIVE_VERSION_STEM: &[u8] = b"envstore-active-v";
const STATE_FILE: &str = "state-v1.json";
/// The protocol's own files: never out-links, whatever they are.
const RESERVED_NAMES: [&str; 3] = [ACTIVE_FILE, "links-v1", STATE_FILE];
/// Env files `store` finds without being named (project.DEFAULT_ENV_FILES).
const DEFAULT_ENV_FILES: [&str; 4] = ["env.yml", "environment.yml", "env.yaml", "environment.yaml"];

/// What `.envstore-shims-v1` says: the default profile link and the store's interpreters
/// (version, store path), newest first.
#[derive(Debug, Default)]
struct Index {
    profile: Option<PathBuf>,
    pythons: Vec<(String, PathBuf)>,
}

#[derive(Debug, PartialEq)]
enum Kind {
    Env,
    Python,
    Profile,
}

impl Kind {
    fn label(&self) -> &'static str {
        match self {
            Kind::Env => "env",
            Kind::Python => "python",
            Kind::Profile => "profile",
        }
    }
}

/// The directory whose bin/ serves the command, and for a project where it was chosen.
#[derive(Debug)]
struct Target {
    kind: Kind,
    dir: PathBuf,
    /// The project directory and its active env file (when `.envstore/active` names one).
    project: Option<(PathBuf, Option<PathBuf>)>,
}

fn parse_index(data: &[u8]) -> Index {
    let mut index = Index::default();
    let mut lines = data.split(|&b| b == b'\n');
    if lines.next() != Some(INDEX_HEADER) {
        return index;
    }
    for line in lines {
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        match fields.as_slice() {
            [b"profile", path] => index.profile = Some(PathBuf::from(OsStr::from_bytes(path))),
            [b"python", version, path] => index.pythons.push((
                String::from_utf8_lossy(version).into_owned(),
                PathBuf::from(OsStr::from_bytes(path)),
            )),
            _ => {}
        }
    }
    index
}

/// Follow a chain of symlinks (relative ones against their own directory) to a real path.
fn follow(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..16 {
        match fs::read_link(&p) {
            Ok(t) if t.is_absolute() => p = t,
            Ok(t) => p = p.parent().map(|d| d.join(&t)).unwrap_or(t),
            Err(_) => break,
        }
    }
    p
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn lmtime(path: &Path) -> Option<SystemTime> {
    fs::symlink_metadata(path).and_then(|m| m.modified()).ok()
}

/// `.envstore/active`: line 1 the out-link name, line 2 the env file, line 3 its lockfile
/// (both relative to the project directory), line 4 `envstore-active-v1`; the same without
/// line 4 is the unversioned form written before it. Another version is ignored (as if no
/// environment were chosen): its fields may mean something else.
fn parse_active(data: &[u8]) -> Option<Vec<PathBuf>> {
    let mut lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    match lines.last() {
        Some(&last)
            if last.starts_with(ACTIVE_VERSION_STEM)
                && last[ACTIVE_VERSION_STEM.len()..]
                    .iter()
                    .all(u8::is_ascii_digit) =>
        {
            if last != ACTIVE_VERSION_LINE {
                return None;
            }
            lines.pop();
        }
        _ if lines.len() > 3 => return None,
        _ => {}
    }
    if lines.is_empty() {
        return None;
    }
    Some(
        lines
            .into_iter()
            .map(|l| PathBuf::from(OsStr::from_bytes(l)))
            .collect(),
    )
}

fn read_active(envstore_dir: &Path) -> Option<Vec<PathBuf>> {
    parse_active(&fs::read(envstore_dir.join(ACTIVE_FILE)).ok()?)
}

/// Whether an entry of `.envstore/` is an out-link: a symlink whose name is neither a dot name
/// (temp files, locks, the warning marker) nor one of the protocol's files.
fn is_out_link(name: &OsStr, is_symlink: bool) -> bool {
    is_symlink && !name.as_bytes().starts_with(b".") && !RESERVED_NAMES.iter().any(|r| name == *r)
}

enum Pick {
    Found(PathBuf, Option<Vec<PathBuf>>),
    Ambiguous(Vec<OsString>),
    Nothing,
}

fn pick_out_link(envstore_dir: &Path) -> Pick {
    if let Some(active) = read_active(envstore_dir) {
        let link = envstore_dir.join(&active[0]);
        if fs::symlink_metadata(&link).is_ok() {
            return Pick::Found(link, Some(active));
        }
    }
    let mut links = Vec::new();
    if let Ok(entries) = fs::read_dir(envstore_dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let is_link = e.file_type().map(|t| t.is_symlink()).unwrap_or(false);
            if is_out_link(&name, is_link) {
                links.push(name);
            }
        }
    }
    links.sort();
    match links.len() {
        0 => Pick::Nothing,
        1 => Pick::Found(envstore_dir.join(&links[0]), None),
        _ => Pick::Ambiguous(links),
    }
}

/// Warn once per change when the active env file is newer than everything a realize writes
/// (its lockfile, the out-link, the fast-path state). The marker's mtime records the warning.
fn warn_if_stale(project: &Path, link: &Path, active: &[PathBuf]) {
    let (Some(env_file), Some(lock)) = (active.get(1), active.get(2)) else {
        return;
    };
    let env_file = project.join(env_file);
    let Some(changed) = mtime(&env_file) else {
        return;
    };
    let dot = project.join(OUT_LINK_DIR);
    let realized = [
        mtime(&project.join(lock)),
        lmtime(link),
        mtime(&dot.join(STATE_FILE)),
    ]
    .into_iter()
    .flatten()
    .max();
    if realized.is_some_and(|r| r >= changed) {
        return;
    }
    let marker = dot.join(WARNED_MARKER);
    if mtime(&marker).is_some_and(|w| w >= changed) {
        return;
    }
    let name = link.file_name().unwrap_or_default().to_string_lossy();
    let _ = writeln!(
        std::io::stderr(),
        "warning: {} changed after {} was realized; run `store realize {}` to update it (shown once)",
        env_file.display(),
        name,
        env_file.display()
    );
    // Creating (truncating) the marker sets its mtime to now: silent until the next change.
    let _ = fs::File::create(&marker);
}

/// The first line of a .python-version that names an interpreter in the store, newest first.
fn match_python(index: &Index, pins: &[u8]) -> Result<PathBuf, String> {
    let mut asked = Vec::new();
    for raw in pins.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(raw);
        let pin = line.split('#').next().unwrap_or("").trim();
        if pin.is_empty() {
            continue;
        }
        let pin = pin.strip_prefix("python-").unwrap_or(pin);
        let pin = pin.strip_prefix("cpython-").unwrap_or(pin);
        for (version, dir) in &index.pythons {
            let prefix_match = version.len() > pin.len()
                && version.starts_with(pin)
                && version.as_bytes().get(pin.len()) == Some(&b'.');
            if version == pin || prefix_match {
                return Ok(dir.clone());
            }
        }
        asked.push(pin.to_string());
    }
    Err(asked.join(", "))
}

fn resolve(cwd: &Path, index: &Index) -> Result<Option<Target>, String> {
    for dir in cwd.ancestors() {
        let dot = dir.join(OUT_LINK_DIR);
        if !dot.is_dir() {
            continue;
        }
        match pick_out_link(&dot) {
            Pick::Found(link, active) => {
                let prefix = follow(&link);
                if prefix.is_dir() {
                    if let Some(active) = &active {
                        warn_if_stale(dir, &link, active);
                    }
                    let env_file = active.and_then(|a| a.get(1).cloned());
                    return Ok(Some(Target {
                        kind: Kind::Env,
                        dir: prefix,
                        project: Some((dir.to_path_buf(), env_file)),
                    }));
                }
            }
            Pick::Ambiguous(names) => {
                let names: Vec<String> = names
                    .iter()
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect();
                return Err(format!(
                    "{} holds several environments ({}) and none is chosen; run `store use ENV_FILE` there",
                    dot.display(),
                    names.join(", ")
                ));
            }
            Pick::Nothing => {}
        }
    }
    for dir in cwd.ancestors() {
        let file = dir.join(".python-version");
        let Ok(pins) = fs::read(&file) else { continue };
        match match_python(index, &pins) {
            Ok(found) => {
                return Ok(Some(Target {
                    kind: Kind::Python,
                    dir: found,
                    project: None,
                }))
            }
            Err(asked) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: {} asks for python {}, which is not in the store (`store python import` it); ignoring it",
                    file.display(),
                    asked
                );
                break;
            }
        }
    }
    if let Some(profile) = &index.profile {
        let prefix = follow(profile);
        if prefix != *profile && prefix.is_dir() {
            return Ok(Some(Target {
                kind: Kind::Profile,
                dir: prefix,
                project: None,
            }));
        }
    }
    Ok(None)
}

fn is_executable_file(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn fail(code: i32, message: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    exit(code)
}

fn exec(program: &Path, args: &[OsString], hops: Option<String>) -> ! {
    let mut cmd = Command::new(program);
    // argv[0] is the full path: Python finds its pyvenv.cfg (and so sys.prefix) from it.
    cmd.arg0(program).args(args);
    match hops {
        Some(v) => cmd.env(HOPS_VAR, v),
        None => cmd.env_remove(HOPS_VAR),
    };
    let err = cmd.exec();
    fail(126, &format!("cannot run {}: {err}", program.display()))
}

/// The next `name` on PATH that is neither in the shim directory nor another copy of this file.
fn fall_through(
    name: &OsStr,
    shim_dir: &Path,
    me: Option<(u64, u64)>,
    args: &[OsString],
    why: &str,
) -> ! {
    let hops = env::var(HOPS_VAR)
        .ok()
        .and_then(|v| {
            let (n, count) = v.rsplit_once(':')?;
            (n.as_bytes() == name.as_bytes())
                .then(|| count.parse::<u32>().ok())
                .flatten()
        })
        .unwrap_or(0);
    let shown = name.to_string_lossy();
    if hops >= MAX_HOPS {
        fail(
            1,
            &format!("{shown}: gave up after {hops} hops between envstore shims on PATH (two shim directories?)"),
        );
    }
    let shim_real = fs::canonicalize(shim_dir).ok();
    if let Some(path) = env::var_os("PATH") {
        for dir in env::split_paths(&path) {
            if dir.as_os_str().is_empty() || !dir.is_absolute() {
                continue;
            }
            if shim_real.is_some() && fs::canonicalize(&dir).ok() == shim_real {
                continue;
            }
            let candidate = dir.join(name);
            if !is_executable_file(&candidate) {
                continue;
            }
            let same = fs::metadata(&candidate).ok().map(|m| (m.dev(), m.ino()));
            if same.is_some() && same == me {
                continue;
            }
            exec(&candidate, args, Some(format!("{shown}:{}", hops + 1)));
        }
    }
    fail(
        127,
        &format!("{shown}: not found {why} nor on PATH outside the envstore shims"),
    )
}

/// `python`, `python3`, `python3.12`, `pip`, `pip3`, `pip3.12`: the commands that act on a
/// Python environment itself, so running another environment's copy is never what was meant.
fn is_environment_command(name: &OsStr) -> bool {
    let name = name.as_bytes();
    [b"python".as_slice(), b"pip".as_slice()]
        .iter()
        .any(|stem| {
            name.strip_prefix(*stem)
                .is_some_and(|rest| rest.iter().all(|&b| b.is_ascii_digit() || b == b'.'))
        })
}

/// `pip install six idna` -> `store add six idna` (`store remove` for uninstall), with `-f FILE`
/// unless the env file is one `store` finds by itself; anything with options or files in it
/// gets the general form.
fn store_command_for(args: &[OsString], env_file: Option<&Path>) -> String {
    let file = match env_file {
        Some(f) if !DEFAULT_ENV_FILES.iter().any(|d| f == Path::new(d)) => {
            format!(" -f {}", f.display())
        }
        _ => String::new(),
    };
    let (verb, rest) = match args.split_first() {
        Some((v, rest)) if v == "install" => ("add", rest),
        Some((v, rest)) if v == "uninstall" => ("remove", rest),
        _ => return format!("store add{file} PKG"),
    };
    let plain = !rest.is_empty()
        && rest.iter().all(|a| {
            let a = a.as_bytes();
            !a.is_empty() && a[0] != b'-' && !a.contains(&b'/') && !a.contains(&b' ')
        });
    if plain {
        let names: Vec<String> = rest
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!("store {verb}{file} {}", names.join(" "))
    } else {
        format!("store {verb}{file} PKG")
    }
}

/// What to say instead of running another environment's `python*`/`pip*`: (error, hint).
fn no_such_command(name: &OsStr, target: &Target, args: &[OsString]) -> (String, String) {
    let shown = name.to_string_lossy();
    let prefix = target.dir.file_name().unwrap_or_default().to_string_lossy();
    let whose = match &target.project {
        Some((project, _)) => format!("the environment of {} ({prefix})", project.display()),
        None => format!("the default profile's environment ({prefix})"),
    };
    let error = format!(
        "{shown}: {whose} has no {shown}, and the shims do not run another environment's {shown} while it applies"
    );
    let is_pip = name.as_bytes().starts_with(b"pip");
    let hint = match (&target.project, is_pip) {
        (Some((project, env_file)), true) => {
            let (edit, realize) = match env_file {
                Some(e) => (e.display().to_string(), format!("store realize {}", e.display())),
                None => ("the env file".to_string(), "store realize".to_string()),
            };
            format!(
                "in {}: `{}` (or edit {edit} and run `{realize}`); `{}` gives the environment its own pip",
                project.display(),
                store_command_for(args, env_file.as_deref()),
                store_command_for(&[OsString::from("install"), OsString::from("pip")], env_file.as_deref()),
            )
        }
        (Some((project, env_file)), false) => {
            let env_file = env_file
                .as_ref()
                .map(|e| e.display().to_string())
                .unwrap_or_else(|| "the env file".to_string());
            format!(
                "{shown} is another Python: change `python=` in {env_file} and run `store realize` in {}, or run it from outside the project",
                project.display()
            )
        }
        (None, true) => "add the package to the env file the profile was made from and run `store use ENV_FILE` again (in a project: `store add PKG`)".to_string(),
        (None, false) => "switch the profile to an environment with that Python: `store use ENV_FILE`".to_string(),
    };
    (error, hint)
}

fn main() {
    let mut argv = env::args_os();
    let argv0 = argv.next().unwrap_or_default();
    let args: Vec<OsString> = argv.collect();
    let exe = env::current_exe().unwrap_or_else(|_| PathBuf::from(&argv0));
    let shim_dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = Path::new(&argv0)
        .file_name()
        .map(OsStr::to_os_string)
        .or_else(|| exe.file_name().map(OsStr::to_os_string))
        .unwrap_or_default();
    if name == "store" {
        let cwd = env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        if let Some(prefix) = front_door::answer(&args, &cwd) {
            let mut line = prefix.into_os_string().into_vec();
            line.push(b'\n');
            let _ = std::io::stdout().write_all(&line);
            exit(0)
        }
    }
    let index = parse_index(&fs::read(shim_dir.join(INDEX_NAME)).unwrap_or_default());

    if name == MASTER_NAME {
        run_master(&args, &index);
    }
    let cwd = env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let me = fs::metadata(&exe).ok().map(|m| (m.dev(), m.ino()));
    match resolve(&cwd, &index) {
        Err(message) => fail(1, &message),
        Ok(Some(target)) => {
            let program = target.dir.join("bin").join(&name);
            if is_executable_file(&program) {
                exec(&program, &args, None);
            }
            if target.kind != Kind::Python && is_environment_command(&name) {
                let (error, hint) = no_such_command(&name, &target, &args);
                let _ = writeln!(std::io::stderr(), "error: {error}\nhint: {hint}");
                exit(127)
            }
            let why = format!("in {}", target.dir.display());
            fall_through(&name, &shim_dir, me, &args, &why)
        }
        Ok(None) => fall_through(
            &name,
            &shim_dir,
            me,
            &args,
            "in a project, .python-version or profile",
        ),
    }
}

/// `envstore-shim resolve [DIR]`: print `<kind>\t<dir>` for DIR (default: the working
/// directory) by the rule above, for the shell hook and `store activate`; exit 1 when nothing
/// applies. `envstore-shim version` prints the version.
fn run_master(args: &[OsString], index: &Index) -> ! {
    match args.first().map(|a| a.as_bytes()) {
        Some(b"resolve") => {
            let cwd = match args.get(1) {
                Some(d) => PathBuf::from(d),
                None => env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            };
            match resolve(&cwd, index) {
                Err(message) => fail(1, &message),
                Ok(None) => exit(1),
                Ok(Some(t)) => {
                    let mut line = t.kind.label().as_bytes().to_vec();
                    line.push(b'\t');
                    line.extend_from_slice(t.dir.into_os_string().into_vec().as_slice());
                    line.push(b'\n');
                    let _ = std::io::stdout().write_all(&line);
                    exit(0)
                }
            }
        }
        Some(b"version") | Some(b"--version") => {
            println!("envstore-shim {}", env!("CARGO_PKG_VERSION"));
            exit(0)
        }
        _ => fail(
            2,
            "envstore-shim is installed under other names by `store shims install`; usage: envstore-shim resolve [DIR] | version",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = env::temp_dir().join(format!("envstore-shim-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("tmp dir");
        d
    }

    #[test]
    fn index_parses_and_ignores_junk() {
        let idx = parse_index(b"envstore-shims-v1\nprofile\t/s/profiles/default\npython\t3.12.1\t/s/py12\nbad line\npython\t3.11.7\t/s/py11\n");
        assert_eq!(idx.profile, Some(PathBuf::from("/s/profiles/default")));
        assert_eq!(idx.pythons.len(), 2);
        assert!(parse_index(b"something else\nprofile\t/x")
            .profile
            .is_none());
    }

    #[test]
    fn python_version_matches_by_component() {
        let idx = parse_index(b"envstore-shims-v1\npython\t3.12.1\t/p12\npython\t3.1.5\t/p31\n");
        assert_eq!(match_python(&idx, b"3.12\n"), Ok(PathBuf::from("/p12")));
        assert_eq!(match_python(&idx, b"3.12.1"), Ok(PathBuf::from("/p12")));
        assert_eq!(match_python(&idx, b"3.1"), Ok(PathBuf::from("/p31")));
        assert_eq!(
            match_python(&idx, b"# c\n3.7\nsystem\n"),
            Err("3.7, system".to_string())
        );
        assert_eq!(
            match_python(&idx, b"pypy3.9\n3.12\n"),
            Ok(PathBuf::from("/p12"))
        );
    }

    #[test]
    fn project_beats_python_version_and_profile() {
        let d = tmp("resolve");
        let prefix = d.join("prefix");
        fs::create_dir_all(prefix.join("bin")).expect("mkdir");
        let project = d.join("proj");
        fs::create_dir_all(project.join(".envstore")).expect("mkdir");
        fs::create_dir_all(project.join("sub/deeper")).expect("mkdir");
        std::os::unix::fs::symlink(&prefix, project.join(".envstore/a")).expect("link");
        fs::write(project.join("sub/.python-version"), "3.12\n").expect("write");
        let idx = parse_index(b"envstore-shims-v1\npython\t3.12.1\t/p12\n");
        let t = resolve(&project.join("sub/deeper"), &idx)
            .expect("ok")
            .expect("found");
        assert_eq!((t.kind, t.dir), (Kind::Env, prefix.clone()));

        std::os::unix::fs::symlink(&prefix, project.join(".envstore/b")).expect("link");
        assert!(
            resolve(&project, &idx).is_err(),
            "two out-links, none chosen"
        );
        fs::write(
            project.join(".envstore/active"),
            "b\nenv.yml\npylock.toml\n",
        )
        .expect("write");
        assert!(resolve(&project, &idx).expect("ok").is_some());

        let outside = d.join("elsewhere");
        fs::create_dir_all(&outside).expect("mkdir");
        fs::write(outside.join(".python-version"), "3.12").expect("write");
        let t = resolve(&outside, &idx).expect("ok").expect("found");
        assert_eq!((t.kind, t.dir), (Kind::Python, PathBuf::from("/p12")));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn only_python_and_pip_are_environment_commands() {
        for n in ["python", "python3", "python3.12", "pip", "pip3", "pip3.11"] {
            assert!(is_environment_command(OsStr::new(n)), "{n}");
        }
        for n in [
            "pipx",
            "pytest",
            "python-config",
            "pip-compile",
            "idna",
            "py",
        ] {
            assert!(!is_environment_command(OsStr::new(n)), "{n}");
        }
    }

    #[test]
    fn pip_install_names_the_store_command() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let env = Some(Path::new("env.yml"));
        let ci = Some(Path::new("ci.yml"));
        assert_eq!(
            store_command_for(&a(&["install", "six", "idna"]), env),
            "store add six idna"
        );
        assert_eq!(
            store_command_for(&a(&["uninstall", "six"]), None),
            "store remove six"
        );
        assert_eq!(
            store_command_for(&a(&["install", "six"]), ci),
            "store add -f ci.yml six"
        );
        assert_eq!(
            store_command_for(&a(&["install", "-r", "req.txt"]), env),
            "store add PKG"
        );
        assert_eq!(
            store_command_for(&a(&["install", "./src"]), env),
            "store add PKG"
        );
        assert_eq!(
            store_command_for(&a(&["--version"]), ci),
            "store add -f ci.yml PKG"
        );
        let target = Target {
            kind: Kind::Env,
            dir: PathBuf::from("/s/envs/abc-proj"),
            project: Some((PathBuf::from("/p"), Some(PathBuf::from("env.yml")))),
        };
        let (error, hint) = no_such_command(OsStr::new("pip"), &target, &a(&["install", "six"]));
        assert!(error.contains("/p (abc-proj) has no pip"), "{error}");
        assert!(
            hint.contains("`store add six`") && hint.contains("env.yml"),
            "{hint}"
        );
    }

    #[test]
    fn active_file_versions() {
        let v1 = parse_active(b"b\nenv.yml\npylock.toml\nenvstore-active-v1\n").expect("v1");
        let unversioned = parse_active(b"b\nenv.yml\npylock.toml\n").expect("unversioned");
        assert_eq!(v1, unversioned);
        assert_eq!(v1[0], PathBuf::from("b"));
        assert_eq!(
            parse_active(b"b\nenv.yml\npylock.toml\nenvstore-active-v2\n"),
            None
        );
        assert_eq!(parse_active(b"a\nb\nc\nd\n"), None);
        assert_eq!(parse_active(b""), None);
    }

    /// tests/fixtures/project-v1: the same cases tests/test_project_protocol.py reads.
    #[test]
    fn golden_project_fixture() {
        let fixtures =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/project-v1");
        let mut cases: Vec<PathBuf> = fs::read_dir(&fixtures)
            .expect("fixture dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("expect").is_file())
            .collect();
        cases.sort();
        assert!(cases.len() >= 5, "{cases:?}");
        for case in cases {
            let label = case
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let d = tmp(&format!("golden-{label}"));
            let project = d.join("project");
            let dot = project.join(OUT_LINK_DIR);
            fs::create_dir_all(&dot).expect("mkdir");
            for e in fs::read_dir(case.join(OUT_LINK_DIR))
                .expect("case .envstore")
                .flatten()
            {
                fs::copy(e.path(), dot.join(e.file_name())).expect("copy");
            }
            let wanted = fs::read_to_string(case.join("out-links")).expect("out-links");
            for name in wanted.lines().filter(|l| !l.is_empty()) {
                let prefix = d.join("envs").join(name);
                fs::create_dir_all(prefix.join("bin")).expect("mkdir");
                std::os::unix::fs::symlink(&prefix, dot.join(name)).expect("link");
            }
            let expect = fs::read_to_string(case.join("expect")).expect("expect");
            let (kind, rest) = expect.trim().split_once(' ').unwrap_or((expect.trim(), ""));
            let got = resolve(&project, &Index::default());
            match (kind, &pick_out_link(&dot)) {
                ("active", Pick::Found(link, Some(_))) | ("only", Pick::Found(link, None)) => {
                    assert_eq!(link, &dot.join(rest), "{label}");
                    let t = got.expect(&label).expect(&label);
                    assert_eq!(
                        (t.kind, t.dir),
                        (Kind::Env, d.join("envs").join(rest)),
                        "{label}"
                    );
                }
                ("ambiguous", Pick::Ambiguous(names)) => {
                    let names: Vec<String> = names
                        .iter()
                        .map(|n| n.to_string_lossy().into_owned())
                        .collect();
                    assert_eq!(names.join(", "), rest, "{label}");
                    let message = got.expect_err(&label);
                    assert!(
                        message.contains(&format!("({rest}) and none is chosen")),
                        "{label}: {message}"
                    );
                }
                ("none", Pick::Nothing) => {}
                (kind, _) => panic!("{label}: expected {kind} {rest}, the shim chose otherwise"),
            }
            let _ = fs::remove_dir_all(&d);
        }
    }

    #[test]
    fn follow_resolves_relative_chains() {
        let d = tmp("follow");
        fs::create_dir_all(d.join("prefix")).expect("mkdir");
        std::os::unix::fs::symlink(d.join("prefix"), d.join("default-1-link")).expect("link");
        std::os::unix::fs::symlink("default-1-link", d.join("default")).expect("link");
        assert_eq!(follow(&d.join("default")), d.join("prefix"));
        let _ = fs::remove_dir_all(&d);
    }
}
