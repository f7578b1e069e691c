#!/usr/bin/env bash
# Fuzz targets (cargo-fuzz, libFuzzer) for every parser of hostile input.
#
#   scripts/fuzz.sh list                 the targets
#   scripts/fuzz.sh build                build them all (CI does this)
#   scripts/fuzz.sh run TARGET [SECS]    fuzz one target (default 60 s), corpus in fuzz/corpus/
#
# cargo-fuzz needs nightly features; the stable toolchain is told to allow them
# (RUSTC_BOOTSTRAP=1), since this machine has exactly one toolchain.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
case "${1:-build}" in
    list) cargo fuzz list ;;
    build) cargo fuzz build --dev --sanitizer none ;;
    run)
        t="${2:?target}"; secs="${3:-60}"
        cargo fuzz run --sanitizer address "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 ;;
    *) echo "usage: $0 list|build|run TARGET [SECS]" >&2; exit 2 ;;
esac
