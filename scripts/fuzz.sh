#!/usr/bin/env bash
# Fuzz targets (cargo-fuzz, libFuzzer) for every parser of hostile input.
#
#   scripts/fuzz.sh list                  the targets
#   scripts/fuzz.sh build                 build them all (CI does this)
#   scripts/fuzz.sh run TARGET [SECS]     fuzz one target (default 60 s)
#   scripts/fuzz.sh campaign MINUTES [TARGET...]
#                                         every target (or those named) for MINUTES each, one
#                                         after another, one job each; a summary line per target
#                                         (executions, coverage, features, corpus size, crashes, slow units)
#                                         goes to fuzz/target/campaign/summary.tsv
#                                         (CLAIR_FUZZ_SUMMARY names another file)
#   scripts/fuzz.sh seeds                 rebuild the committed seed corpus, fuzz/corpus/<target>/,
#                                         from ../shared/corpus (small files only)
#
# Seeds: fuzz/corpus/<target>/ is committed and read only; what a run discovers goes to
# fuzz/target/corpus/<target>/ (not committed). Runs also read the larger files of
# ../shared/corpus in place when it is there. Crashes are written to fuzz/artifacts/<target>/;
# each one found becomes a regression test beside the parser it broke (docs/security.md).
#
# cargo-fuzz needs nightly features; the stable toolchain is told to allow them
# (RUSTC_BOOTSTRAP=1), since this machine has exactly one toolchain.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
shared=../../shared/corpus

# The shared corpus directories each target reads in place (besides its committed seeds).
shared_dirs() {
    local d
    case "$1" in
        dpkg_status) d="pkgdb/dpkg pkgdb/dpkg-statusd" ;;
        apk_installed) d="pkgdb/apk" ;;
        layer_stack) d="layers" ;;
        os_release) d="osrelease" ;;
        rpm_header) d="pkgdb/rpm-header" ;;
        rpm_bdb) d="pkgdb/rpm-bdb" ;;
        rpm_ndb) d="pkgdb/rpm-ndb" ;;
        rpm_sqlite) d="pkgdb/rpm-sqlite pkgdb/dnf-history" ;;
        feeds) d="feeds" ;;
        *) d="" ;;
    esac
    for x in $d; do [[ -d "$shared/$x" ]] && echo "$shared/$x"; done
    return 0
}

# Copy $1 into seed directory $2 under its content hash (libFuzzer's naming), optionally with
# a one-byte prefix $3 (targets whose first byte picks the parser).
seed() {
    local src="$1" dir="$2" prefix="${3:-}" tmp
    mkdir -p "$dir"
    tmp="$(mktemp)"
    if [[ -n "$prefix" ]]; then printf "\\x$prefix" >"$tmp"; fi
    cat "$src" >>"$tmp"
    mv "$tmp" "$dir/$(sha1sum "$tmp" | cut -c1-40)"
}

small() { find "$@" -type f -size -32k 2>/dev/null | sort; }

make_seeds() {
    [[ -d "$shared" ]] || { echo "missing $shared" >&2; exit 1; }
    rm -rf corpus
    local t f
    for t in dpkg_status apk_installed layer_stack os_release rpm_header rpm_bdb rpm_ndb rpm_sqlite feeds; do
        # shellcheck disable=SC2046
        for f in $(small $(shared_dirs "$t")); do seed "$f" "corpus/$t"; done
    done
    # lang_packages: the first byte picks the parser (0 python, 1 npm, 2 gem, 3 jar, 4 go, 5 rust).
    for f in $(small "$shared/lang/python"); do seed "$f" corpus/lang_packages 00; done
    for f in $(small "$shared/lang/npm"); do seed "$f" corpus/lang_packages 01; done
    for f in $(small "$shared/lang/ruby"); do seed "$f" corpus/lang_packages 02; done
    for f in $(small "$shared/lang/java"); do seed "$f" corpus/lang_packages 03; done
    # api_inputs: Clair's own config files (request bodies are in seeds-extra/, hand-written).
    for f in ../../shared/spec/configs/*.yaml; do seed "$f" corpus/api_inputs; done
    for t in seeds-extra/*/; do
        t="$(basename "$t")"
        for f in seeds-extra/"$t"/*; do seed "$f" "corpus/$t"; done
    done
    du -sh corpus
}

# One target for $2 seconds; appends its summary line to $3.
fuzz_one() {
    local t="$1" secs="$2" summary="${3:-}" work="target/corpus/$1" log
    mkdir -p "$work" "artifacts/$t" corpus/"$t"
    log="target/campaign/$t.log"
    mkdir -p target/campaign
    # shellcheck disable=SC2046
    cargo fuzz run -O --sanitizer address "$t" "$work" "corpus/$t" $(shared_dirs "$t") -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 \
        -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1 || true
    # A run ended before its final statistics (killed, out of memory) leaves some of these
    # out: "?" in the summary rather than the end of the campaign.
    local execs cov ft units crashes slow
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)"
    cov="$(grep -oE '(#[0-9]+).*cov: [0-9]+' "$log" | grep -oE 'cov: [0-9]+' | tail -1 | grep -o '[0-9]*' || true)"
    ft="$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -o '[0-9]*' || true)"
    units="$(find "$work" -type f | wc -l)"
    # libFuzzer's artifacts: crash-, leak-, timeout- and oom- are failures; slow-unit- only
    # says one input took over 10 s (often a busy machine), listed apart.
    crashes="$(find "artifacts/$t" -type f ! -name 'slow-unit-*' | wc -l)"
    slow="$(find "artifacts/$t" -type f -name 'slow-unit-*' | wc -l)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$secs" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
        "$units" "$crashes" "$slow" | tee -a "${summary:-/dev/null}"
}

case "${1:-build}" in
    list) cargo fuzz list ;;
    build) cargo fuzz build --dev --sanitizer none ;;
    seeds) make_seeds ;;
    run)
        t="${2:?target}"; secs="${3:-60}"
        fuzz_one "$t" "$secs"
        tail -20 "target/campaign/$t.log" ;;
    campaign)
        minutes="${2:?minutes per target}"; shift 2
        targets=("$@")
        [[ ${#targets[@]} -gt 0 ]] || mapfile -t targets < <(cargo fuzz list)
        cargo fuzz build -O --sanitizer address
        mkdir -p target/campaign
        summary="${CLAIR_FUZZ_SUMMARY:-target/campaign/summary.tsv}"
        printf 'target\tseconds\texecutions\tcoverage\tfeatures\tcorpus\tcrashes\tslow\n' >"$summary"
        for t in "${targets[@]}"; do fuzz_one "$t" $((minutes * 60)) "$summary"; done
        column -t "$summary" ;;
    *) echo "usage: $0 list|build|seeds|run TARGET [SECS]|campaign MINUTES [TARGET...]" >&2; exit 2 ;;
esac
