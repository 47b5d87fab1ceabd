//! Builds the envstore-shim binary and leaves it in OUT_DIR for `include_bytes!`: a maturin
//! wheel cannot carry a second executable (maturin issue #368), so the shim travels inside the
//! extension and `store shims install` writes it out. The nested cargo gets its own target dir
//! under OUT_DIR: sharing the outer build's target dir would wait forever on its lock.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let shim_crate = manifest_dir.join("..").join("envstore-shim");
    println!(
        "cargo:rerun-if-changed={}",
        shim_crate.join("src").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        shim_crate.join("Cargo.toml").display()
    );

    let target_dir = out_dir.join("shim-target");
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let host = env::var("HOST").expect("cargo sets HOST");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(shim_crate.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // Size over speed: the shim's work is a few stats and one execve.
    for setting in [
        "profile.release.opt-level=\"z\"",
        "profile.release.lto=true",
        "profile.release.codegen-units=1",
        "profile.release.panic=\"abort\"",
        "profile.release.strip=true",
    ] {
        cmd.arg("--config").arg(setting);
    }
    if target != host {
        cmd.arg("--target").arg(&target);
    }
    // The outer build's flags are meant for the extension (a cdylib), not for an executable.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("failed to run cargo to build envstore-shim");
    assert!(status.success(), "building envstore-shim failed ({status})");

    let mut built = target_dir.clone();
    if target != host {
        built.push(&target);
    }
    built.push("release");
    built.push("envstore-shim");
    let dest = out_dir.join("envstore-shim");
    std::fs::copy(&built, &dest)
        .unwrap_or_else(|e| panic!("failed to copy {}: {e}", built.display()));
}
