#!/usr/bin/env bash
# Assemble the container image's root filesystem from a clair binary and Debian packages.
#
#   scripts/image-rootfs.sh BINARY OUT_DIR [DEB_CACHE_DIR]
#
# OUT_DIR receives two trees, copied into the image by the Containerfile's last stage:
#   OUT_DIR/rootfs/   owned by root: /usr/bin/clair, the C libraries the binary loads, the CA
#                     bundle, /etc/os-release, passwd/group, and a distroless-style dpkg
#                     database (var/lib/dpkg/status.d/) naming the Debian packages they came from,
#                     so that scanners (clair-rs itself) see what the image contains
#   OUT_DIR/home/     the clair user's home (owned by uid 65532 once in the image)
#
# The files come from .deb packages of the machine's Debian release (`apt-get download`, kept
# in DEB_CACHE_DIR when given), never from the build machine's own /lib, so the image is the
# same whichever Debian machine or container builds it. Used by the Containerfile and by
# scripts/image.sh (which builds the same image with buildah and no registry).
set -euo pipefail

if [[ $# -lt 2 ]]; then
    sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
fi
binary=$1
out=$2
cache=${3:-}
[[ -x "$binary" ]] || { echo "image-rootfs: $binary: not an executable" >&2; exit 1; }

# The packages the image is made of: the C library and its loader, the GCC runtime (unwinding),
# Mozilla's CA certificates, and base-files for /etc/os-release.
packages=(base-files libc6 libgcc-s1 ca-certificates)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debs=${cache:-$work/debs}
mkdir -p "$debs"
debs=$(cd "$debs" && pwd)

# ---- download (or reuse) the .deb files --------------------------------------------------------
uris() { apt-get download --print-uris "${packages[@]}" 2>/dev/null; }
if ! listing=$(uris) || [[ -z "$listing" ]]; then
    # A fresh container (the Containerfile's builder) has no package lists yet.
    [[ $EUID -eq 0 ]] || { echo "image-rootfs: apt-get cannot find ${packages[*]}; run apt-get update" >&2; exit 1; }
    apt-get update -qq
    listing=$(uris)
fi
files=()
while read -r _uri file size hash; do
    want=${hash#SHA256:}
    if [[ -f "$debs/$file" ]] && [[ $(stat -c %s "$debs/$file") == "$size" ]] \
        && [[ $(sha256sum "$debs/$file" | cut -d' ' -f1) == "$want" ]]; then
        files+=("$debs/$file")
        continue
    fi
    files+=("$debs/$file")
    need_download=1
done <<<"$listing"
if [[ -n "${need_download:-}" ]]; then
    # apt verifies each file against the signed package lists.
    (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "${packages[@]}" >/dev/null)
fi

# ---- unpack each package; remember its control file --------------------------------------------
root=$out/rootfs
rm -rf "$out"
mkdir -p "$root"/{etc/ssl/certs,usr/bin,var/lib/dpkg/status.d,tmp} "$out/home"
chmod 1777 "$root/tmp"
for deb in "${files[@]}"; do
    name=$(dpkg-deb -f "$deb" Package)
    mkdir -p "$work/x/$name"
    dpkg-deb -x "$deb" "$work/x/$name"
    dpkg-deb -f "$deb" >"$root/var/lib/dpkg/status.d/$name"
    # Licences travel with the files (glibc is LGPL).
    if [[ -f "$work/x/$name/usr/share/doc/$name/copyright" ]]; then
        install -D -m 0644 "$work/x/$name/usr/share/doc/$name/copyright" "$root/usr/share/doc/$name/copyright"
    fi
done

# ---- the binary and exactly the shared libraries it loads --------------------------------------
install -m 0755 "$binary" "$root/usr/bin/clair"
# `ldd` names what the dynamic loader maps: each is taken from the unpacked packages, at the
# path the package installs it (keeping the package's symlinks, e.g. /lib64/ld-linux-*.so.2).
declare -A copied=()
copy_from_packages() { # NAME: copy every file or symlink called NAME, and what the links point to
    local found=0 f target
    [[ -n "${copied[$1]:-}" ]] && return 0
    copied[$1]=1
    while IFS= read -r -d '' f; do
        local pkg=${f#"$work"/x/}; pkg=${pkg%%/*}
        local rel=${f#"$work/x/$pkg/"}
        mkdir -p "$root/$(dirname "$rel")"
        cp -a "$f" "$root/$rel"
        if [[ -L "$f" ]]; then
            target=$(readlink "$f")
            copy_from_packages "$(basename "$target")"
        fi
        found=1
    done < <(find "$work/x" -name "$1" \( -type f -o -type l \) -print0)
    [[ $found == 1 ]]
}
while read -r lib; do
    copy_from_packages "$(basename "$lib")" || {
        echo "image-rootfs: $binary needs $lib, which none of ${packages[*]} provides" >&2
        exit 1
    }
done < <(ldd "$binary" | awk '/=>/ { print $1; next } $1 ~ /^\// { print $1 }')

# ---- configuration files -----------------------------------------------------------------------
# The CA bundle update-ca-certificates would write, from the package's certificates.
find "$work/x/ca-certificates/usr/share/ca-certificates/mozilla" -name '*.crt' -print0 | LC_ALL=C sort -z \
    | xargs -0 cat >"$root/etc/ssl/certs/ca-certificates.crt"
[[ -s "$root/etc/ssl/certs/ca-certificates.crt" ]] || { echo "image-rootfs: no CA certificates" >&2; exit 1; }
install -D -m 0644 "$work/x/base-files/usr/lib/os-release" "$root/usr/lib/os-release"
ln -s ../usr/lib/os-release "$root/etc/os-release"
install -m 0644 "$work/x/base-files/etc/debian_version" "$root/etc/debian_version"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
clair:x:65532:65532:clair:/home/clair:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
clair:x:65532:
nogroup:x:65534:
EOF
cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
mkdir -p "$out/home/clair"
chmod 0755 "$out/home/clair"
