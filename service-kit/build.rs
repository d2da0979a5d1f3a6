//! Sets `GIT_COMMIT` for the `build_info` metric: the `GIT_COMMIT` variable of the build when
//! given (the images get it as a build argument, having no `.git`), else the checkout's
//! `HEAD`, else `unknown`.

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GIT_COMMIT");
    let commit = match env::var("GIT_COMMIT") {
        Ok(given) if !given.is_empty() => given,
        _ => checkout_head().unwrap_or_else(|| "unknown".to_owned()),
    };
    // It becomes a label value, which the Prometheus text format does not escape here.
    let valid = commit.len() <= 64
        && commit
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if !valid {
        panic!("GIT_COMMIT must be at most 64 of [A-Za-z0-9._-], not {commit:?}");
    }
    println!("cargo:rustc-env=GIT_COMMIT={commit}");
}

/// The commit checked out, when building in a git checkout, and the files whose change moves
/// it (so a new commit rebuilds with the new value).
fn checkout_head() -> Option<String> {
    let head = git(&["rev-parse", "HEAD"])?;
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])?];
    if let Some(branch) = git(&["symbolic-ref", "--quiet", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch])?);
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"])?);
    // A path that does not exist would make cargo run this script on every build.
    for path in watched.iter().filter(|path| Path::new(path).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
    Some(head)
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}
