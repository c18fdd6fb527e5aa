//! The crate's shape: its modules import each other in no circle (checked by
//! `scripts/module-cycles.py`, which the server's tests run on its own modules too), and it
//! depends on no HTTP server crate.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the checker on a `src` folder: success, and what it printed.
fn check(src: &Path) -> (bool, String) {
    let out = Command::new("python3")
        .arg(root().join("scripts/module-cycles.py"))
        .arg(src)
        .output()
        .expect("python3 runs the module checker");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn modules_import_each_other_in_no_circle() {
    let (ok, text) = check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(ok, "{text}");
    // The order it found puts the handle above the parts and the workers above the handle.
    let layer = |m: &str| {
        text.lines()
            .position(|l| l.split(' ').any(|x| x == m))
            .unwrap_or_else(|| panic!("{m} is not in the order:\n{text}"))
    };
    assert!(layer("alerting") < layer("state"), "{text}");
    assert!(layer("state") < layer("workers"), "{text}");
}

#[test]
fn the_checker_finds_a_planted_circle_and_a_use_of_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(
        src.join("lib.rs"),
        "pub mod a;\npub mod b;\npub mod c;\npub const X: u8 = 1;\n",
    )
    .unwrap();
    // `a` names `b` only inside a group, `b` names `a` by path; comments and strings do not count.
    std::fs::write(src.join("a.rs"), "use crate::{b::Thing, c};\n").unwrap();
    std::fs::write(
        src.join("b.rs"),
        "// crate::c\nconst S: &str = \"crate::c\";\npub struct Thing(crate::a::Other);\n",
    )
    .unwrap();
    std::fs::write(src.join("c.rs"), "const Y: u8 = crate::X;\n").unwrap();
    let (ok, text) = check(src);
    assert!(!ok, "{text}");
    let circles: Vec<&str> = text.lines().collect();
    assert_eq!(circles.len(), 1, "{text}");
    assert!(
        circles[0].starts_with("circle among a, b, c, lib:"),
        "{text}"
    );
    assert!(
        circles[0].contains("b -> a;"),
        "b's comment and string name no c: {text}"
    );
}

#[test]
fn depends_on_no_http_server_crate() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let deps: Vec<&str> = manifest
        .split("\n[")
        .filter(|section| {
            section.starts_with("dependencies]") || section.starts_with("dev-dependencies]")
        })
        .flat_map(|section| section.lines().skip(1))
        .filter_map(|line| line.split(['=', '.', ' ']).next())
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .collect();
    assert!(
        deps.contains(&"headroom-engine"),
        "the manifest was read: {deps:?}"
    );
    for http in ["axum", "hyper", "http", "tower", "tower-http"] {
        assert!(!deps.contains(&http), "headroom-service depends on {http}");
    }
}
