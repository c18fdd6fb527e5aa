//! What the rules tests share: the real promtool they check generated rules with.

use std::path::{Path, PathBuf};

/// promtool on the PATH (Debian's prometheus package, which `bash .ci/run` installs). A missing
/// promtool fails the test: it must not pass without having checked anything.
pub fn promtool() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("promtool"))
                .find(|p| Path::is_file(p))
        })
        .expect(
            "promtool not found: install Debian's prometheus package (apt-get install prometheus; \
             bash .ci/run does) to run this test",
        )
}
