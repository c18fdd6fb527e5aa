//! The server's modules import each other in no circle (`scripts/module-cycles.py`).

use std::path::Path;
use std::process::Command;

#[test]
fn modules_import_each_other_in_no_circle() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(crate_dir.join("../../scripts/module-cycles.py"))
        .arg(crate_dir.join("src"))
        .output()
        .expect("python3 runs the module checker");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Handlers sit above the state they take, which sits above the error type.
    let layer = |m: &str| {
        text.lines()
            .position(|l| l.split(' ').any(|x| x == m))
            .unwrap_or_else(|| panic!("{m} is not in the order:\n{text}"))
    };
    assert!(layer("error") < layer("state"), "{text}");
    assert!(layer("state") < layer("alertmanager"), "{text}");
}
