#!/usr/bin/env bash
# Check what ships: the container image, the compose file and the Kubernetes manifests.
#
#   scripts/deploy-check.sh            (scripts/test.sh runs it; needs root for chroot)
#
# 1. deploy/kubernetes: scripts/check-kubernetes.py (API schemas, strict; prometheus-operator's
#    ServiceMonitor; cross-references; `clair config check` of the ConfigMaps).
# 2. deploy/compose: `docker-compose config` (the schema and interpolation), with and without
#    the registry profile; and `git archive` fills in crates/clair/build-commit.
# 3. The image: built by scripts/image.sh (a release build, its target directory kept in
#    $CLAIR_IMAGE_TARGET_DIR, default ~/.cache/clair-rs/image-target, so reruns are incremental),
#    size under 40 MiB compressed, unpacked with umoci, and run with chroot as the image's user
#    with the image's environment and command: `--version` names this commit, `config check`
#    of the compose config, and `serve` (SQLite in the user's home) answers /healthz, /readyz
#    and /metrics and exits 0 on SIGTERM. CLAIR_IMAGE_BINARY=PATH packages that binary instead.
# 4. clair-rs indexes its own image: Debian 12 and exactly the packages the image is made of.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }
fail() { echo "deploy-check: $*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/clair-deploy-check.XXXXXX")
serve_pid=""
cleanup() {
    [[ -n "$serve_pid" ]] && kill "$serve_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# ---- kubernetes ----------------------------------------------------------------------------------
log "deploy/kubernetes"
clair_dev=target/debug/clair
[[ -x "$clair_dev" ]] || cargo build --locked -q -p clair
python3 scripts/check-kubernetes.py --clair "$clair_dev"

# ---- compose -------------------------------------------------------------------------------------
log "docker-compose config (deploy/compose)"
compose=(docker-compose -f deploy/compose/docker-compose.yml)
"${compose[@]}" config -q
"${compose[@]}" --profile registry config -q
# The resolved file: postgres and clair always, the registry only with its profile.
"${compose[@]}" config | python3 -c '
import sys, yaml
s = yaml.safe_load(sys.stdin)["services"]
profiles = {name: svc.get("profiles", []) for name, svc in s.items()}
assert profiles == {"clair": [], "postgres": [], "registry": ["registry"]}, profiles
assert s["clair"]["depends_on"]["postgres"]["condition"] == "service_healthy"
assert s["postgres"]["healthcheck"]["test"]
' || fail "deploy/compose/docker-compose.yml: unexpected services, profiles or ordering"

# A source tarball knows its commit: `git archive` fills in build-commit (.gitattributes).
if head=$(git rev-parse HEAD 2>/dev/null) && git cat-file -e HEAD:crates/clair/build-commit 2>/dev/null; then
    line=$(git archive HEAD crates/clair/build-commit | tar -xO | grep -v '^#')
    [[ "$line" == "$head "* ]] || fail "git archive leaves crates/clair/build-commit as '$line'"
fi

# ---- the image -----------------------------------------------------------------------------------
log "container image (scripts/image.sh: release build, buildah)"
export CLAIR_IMAGE_TARGET_DIR=${CLAIR_IMAGE_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clair-rs/image-target}
# CLAIR_IMAGE_BINARY: package an already built binary instead (a quicker local check).
clair_rel=${CLAIR_IMAGE_BINARY:-$CLAIR_IMAGE_TARGET_DIR/release/clair}
start=$(date +%s)
ref=$(scripts/image.sh ${CLAIR_IMAGE_BINARY:+--binary "$CLAIR_IMAGE_BINARY"} --out "$work/oci" --tag check)
echo "built $ref in $(( $(date +%s) - start )) s" >&2

# Compressed size: what a registry stores and a node pulls (manifest, config and layers).
read -r compressed layers <<<"$(python3 - "$work/oci" <<'EOF'
import json, sys, pathlib
root = pathlib.Path(sys.argv[1])
blob = lambda d: root / "blobs" / d.replace(":", "/")
m = json.loads(blob(json.loads((root / "index.json").read_text())["manifests"][0]["digest"]).read_text())
print(sum(l["size"] for l in m["layers"]) + m["config"]["size"], len(m["layers"]))
EOF
)"
echo "image: $layers layer(s), $((compressed / 1024)) KiB compressed" >&2
(( compressed < 40 * 1024 * 1024 )) || fail "image is $compressed bytes compressed, more than 40 MiB"

if [[ $EUID -ne 0 ]]; then
    [[ "${CI:-}" == true ]] && fail "CI=true: running the image with chroot needs root"
    echo "skipping the chroot run of the image: needs root" >&2
    exit 0
fi
log "image run with chroot (umoci unpack)"
umoci unpack --image "$work/oci:check" "$work/bundle" >/dev/null
rootfs=$work/bundle/rootfs
# The runtime's view of the image: its user, environment, command and working directory.
mapfile -t process < <(python3 - "$work/bundle/config.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))["process"]
print(f"{p['user']['uid']}:{p['user']['gid']}")
print(p["cwd"])
print("\t".join(p["args"]))
print("\t".join(e for e in p["env"] if not e.startswith("TERM=")))
EOF
)
user=${process[0]} cwd=${process[1]}
IFS=$'\t' read -r -a args <<<"${process[2]}"
IFS=$'\t' read -r -a env <<<"${process[3]}"
[[ "$user" != 0:* ]] || fail "the image runs as root"
[[ "${args[0]}" == /usr/bin/clair ]] || fail "unexpected entrypoint ${args[*]}"
in_image() { # run a command in the image's root filesystem as the runtime would
    env -i "${env[@]}" "$@" chroot --userspec="$user" "$rootfs" "${args[0]}" "${cmd[@]}"
}
[[ -d "$rootfs$cwd" ]] || fail "working directory $cwd missing"

cmd=(--version); version=$(in_image)
echo "$version" | sed 's/^/  /' >&2
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# (a binary given in CLAIR_IMAGE_BINARY may be of another commit)
[[ -n "${CLAIR_IMAGE_BINARY:-}" ]] || grep -q "^commit: *$commit" <<<"$version" \
    || fail "--version does not name commit $commit"

mkdir -p "$rootfs/config"
cp deploy/compose/config.yaml "$rootfs/config/config.yaml"
cmd=(config check /config/config.yaml); in_image >/dev/null || fail "config check of the compose config failed"

# Vulnerability data for readiness: the corpus's Debian tracker excerpt, loaded by the image's
# own `clair update` from a file:// URL into the database `serve` will use.
cp ../shared/corpus/feeds/debian/clair2-security-tracker.json "$rootfs/tmp/debian.json"
printf 'updaters:\n  sets: [debian]\n  config:\n    debian: {json_url: "file:///tmp/debian.json"}\n' >"$rootfs/tmp/feeds.yaml"
cmd=(update --config /tmp/feeds.yaml); in_image CLAIR_DATABASE_SOURCE=sqlite: CLAIR_LOG=warn >/dev/null \
    || fail "clair update from a file:// feed failed in the image"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=$(port) intro=$(port)
# The image's own command (CLAIR_CONF from its environment), on loopback ports, the database
# in the clair user's home, no feed downloads (no network here).
cmd=("${args[@]:1}" --no-updaters --addr "127.0.0.1:$api" --introspection-addr "127.0.0.1:$intro")
# (env and chroot exec: $! is the server's own pid)
env -i "${env[@]}" CLAIR_DATABASE_SOURCE=sqlite: CLAIR_LOG=warn \
    chroot --userspec="$user" "$rootfs" "${args[0]}" "${cmd[@]}" >"$work/serve.log" 2>&1 &
serve_pid=$!
get() { python3 -c 'import sys, urllib.request as u
try: r = u.urlopen(sys.argv[1], timeout=5); print(r.status)
except u.HTTPError as e: print(e.code)
except Exception: print(0)' "$1"; }
for _ in $(seq 1 120); do
    [[ $(get "http://127.0.0.1:$intro/healthz") == 200 ]] && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; fail "serve exited"; }
    sleep 0.5
done
for path in /healthz /readyz /metrics; do
    status=$(get "http://127.0.0.1:$intro$path")
    echo "  GET $path: $status" >&2
    [[ $status == 200 ]] || { cat "$work/serve.log" >&2; fail "GET $path answered $status"; }
done
# The API wants a token (auth.psk): 401 without one shows it is the configured server.
status=$(get "http://127.0.0.1:$api/indexer/api/v1/index_state")
[[ $status == 401 ]] || fail "GET index_state without a token answered $status, not 401"
kill -TERM "$serve_pid"
status=0; wait "$serve_pid" || status=$?
[[ $status == 0 ]] || { cat "$work/serve.log" >&2; fail "serve exited $status on SIGTERM"; }
serve_pid=""
[[ -s "$rootfs/home/clair/.local/share/clair/clair.db" ]] || fail "no database in the clair user's home"

log "clair-rs indexes its own image"
"$clair_rel" --db "$work/scan.db" index -q -f json "oci:$work/oci:check" >"$work/index.json"
python3 - "$work/index.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
dists = {d["did"] + ":" + d["version_id"] for d in r["distributions"].values()}
pkgs = sorted(p["name"] for p in r["packages"].values())
print(f"  distributions: {sorted(dists)}; packages: {pkgs}", file=sys.stderr)
assert dists == {"debian:12"}, dists
assert pkgs == ["base-files", "ca-certificates", "libc6", "libgcc-s1"], pkgs
EOF
log "deploy checks passed"
