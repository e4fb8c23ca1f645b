#!/usr/bin/env bash
# The full-length crash test: sa killed with SIGKILL at random instants of first use,
# `create`, `delete`, `token add` (to stdout and with --output-file) and `token verify`,
# KILLS times each, against a release build. After every kill the database must open and pass
# `sa db check`, every token printed or written must verify, and no temp file may keep a
# secret past the next write beside it. CI runs the same test with 40 kills per kind.
#   usage: scripts/crash-test.sh [KILLS] [SEED]
# Prints one tally line per kind (recorded in docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export SA_CRASH_KILLS="${1:-500}"
if [ -n "${2:-}" ]; then export SA_CRASH_SEED="$2"; fi
cargo test --release --test cli crash -- --nocapture --test-threads=1 2>&1 |
    grep -E '^(crash test|test |test result)|panicked|failed'
