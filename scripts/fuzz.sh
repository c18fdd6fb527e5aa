#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 60), with debug assertions on.
# Exits non-zero on the first crash, panic, timeout or out-of-memory; the input is saved under
# fuzz/artifacts/<target>/. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail

seconds=${1:-60}
shift || true
cd "$(dirname "$0")/../fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# cargo-fuzz passes -Z flags (sanitizer, coverage instrumentation) to rustc; a stable toolchain
# accepts them only with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir .)
fi

for target in "${targets[@]}"; do
    echo "== $target: ${seconds}s"
    # New inputs go to the first (ignored) directory; the committed seeds are only read.
    mkdir -p "target/corpus/$target" "corpus/$target"
    cargo fuzz run --fuzz-dir . --release --debug-assertions "$target" \
        "target/corpus/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
