#!/usr/bin/env bash
# Build the clair-rs container image on this machine, with no registry access.
#
#   scripts/image.sh [--binary PATH] [--out DIR] [--tag TAG]
#
# What the Containerfile's last stage builds, made with Debian's buildah (vfs storage, chroot
# isolation: no daemon, no user namespaces, no pulled base image): the root filesystem comes
# from scripts/image-rootfs.sh (the binary plus files from Debian packages), and the image
# configuration (user, entrypoint, ports, labels) from the Containerfile itself, whose `FROM
# scratch AS image` stage is built as written with the build stage's output put in its place.
#
#   --binary PATH   the clair binary to package (default: `cargo build --release -p clair`,
#                   with its target directory in $CLAIR_IMAGE_TARGET_DIR when set)
#   --out DIR       where the OCI image layout is written (default: target/image/oci)
#   --tag TAG       its tag in that layout (default: the crate version)
#
# Prints the layout and tag (oci:DIR:TAG, what skopeo, umoci and `clair scan` take) on stdout.
# Needs buildah (Debian package `buildah`); Debian packages are downloaded with apt-get and
# kept in ${XDG_CACHE_HOME:-~/.cache}/clair-rs/debs.
set -euo pipefail
cd "$(dirname "$0")/.."

binary="" out="target/image/oci" tag=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --binary) binary=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --tag) tag=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v buildah >/dev/null || { echo "image.sh: needs buildah (apt-get install buildah)" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
tag=${tag:-$version}
commit=${CLAIR_BUILD_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
# Reproducible: the image's creation time and file times are the commit's.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

if [[ -z "$binary" ]]; then
    target_dir=${CLAIR_IMAGE_TARGET_DIR:-target}
    CARGO_TARGET_DIR=$target_dir cargo build --release --locked -q -p clair
    binary=$target_dir/release/clair
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/clair-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
cache=${XDG_CACHE_HOME:-$HOME/.cache}/clair-rs/debs
scripts/image-rootfs.sh "$binary" "$work/context/out" "$cache"

# The Containerfile's image stage, with the build stage's /out taken from the context instead.
awk '/^FROM scratch AS image/ { on = 1 } on' Containerfile \
    | sed 's|^COPY --from=build \(--chown=[^ ]* \)\{0,1\}/out/|COPY \1out/|' >"$work/context/Containerfile"
grep -q '^COPY out/rootfs/' "$work/context/Containerfile" \
    || { echo "image.sh: no 'FROM scratch AS image' stage copying /out/rootfs/ in Containerfile" >&2; exit 1; }

b=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
"${b[@]}" bud --quiet --isolation chroot --timestamp "$epoch" --format oci \
    --build-arg CLAIR_VERSION="$version" \
    --build-arg CLAIR_BUILD_COMMIT="$commit" \
    --build-arg CLAIR_CREATED="$created" \
    -f "$work/context/Containerfile" -t "localhost/clair-rs:$tag" "$work/context" >/dev/null
mkdir -p "$(dirname "$out")"
rm -rf "$out"
"${b[@]}" push --quiet "localhost/clair-rs:$tag" "oci:$out:$tag"
echo "oci:$out:$tag"
