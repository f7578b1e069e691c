#!/usr/bin/env python3
"""Benchmark `clair scan` straight from a registry, cold and warm.

    scripts/bench-registry.py [--runs 5] [--write docs/benchmarks.md]
    scripts/bench-registry.py --quick   # CI: debug build, one run, nothing written

A real registry (Debian's `docker-registry`) on 127.0.0.1 with the largest image available
pushed by skopeo: bookworm-full from /var/tmp/images (built by ../shared/tools/make-images.sh)
or else bookworm-layered from ../shared/images.

Measured, median of --runs, each in a fresh process:
- cold: `clair scan` with a fresh database (manifest resolved, every layer downloaded, verified
  and read);
- warm: the same again on the database of a cold run (layers and report known: the manifest is
  resolved, nothing downloaded);
- baseline in the same run: `skopeo copy docker://… oci:DIR` of the same image (what merely
  pulling it costs).
The database has no vulnerability data (`--allow-missing-data`): matching costs ~2 ms and is
measured by scripts/bench-match.py.
"""
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "scripts"))
from benchdoc import parser, publish  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd, **kw):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr}")
    return dt


def main():
    ap = parser(__doc__, "CI mode: debug build, bookworm-layered, one run, nothing written", runs=5)
    a = ap.parse_args()
    if a.quick:
        a.runs, a.write = 1, None
    for tool in ("docker-registry", "skopeo"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install docker-registry skopeo")
    full = Path("/var/tmp/images/oci/bookworm-full")
    if (full / "index.json").is_file() and not a.quick:
        source, name = f"oci:{full}", "bookworm-full"
    else:
        source, name = f"oci:{SHARED / 'images/oci'}:bookworm-layered", "bookworm-layered"
    subprocess.run(["cargo", "build", *([] if a.quick else ["--release"]), "--locked", "-q", "-p", "clair"],
                   cwd=ROOT, check=True)
    clair = str(ROOT / "target" / ("debug" if a.quick else "release") / "clair")
    work = Path(tempfile.mkdtemp(prefix="clair-bench-registry-"))
    port = free_port()
    cfg = work / "config.yml"
    cfg.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {work / 'storage'}\n"
                   f"http:\n  addr: 127.0.0.1:{port}\n")
    reg = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        ref = f"127.0.0.1:{port}/bench/{name}:1"
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", source, f"docker://{ref}"], check=True)
        size = sum(p.stat().st_size for p in (work / "storage").rglob("data"))
        cold, warm, pull = [], [], []
        for i in range(a.runs):
            db = work / f"run{i}.db"
            scan = [clair, "-q", "--db", str(db), "scan", "--insecure", "--allow-missing-data", "-f", "json", ref]
            cold.append(timed(scan))
            warm.append(timed(scan))
            dest = work / f"pull{i}"
            pull.append(timed(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{dest}"]))
            shutil.rmtree(dest, ignore_errors=True)
    finally:
        reg.terminate()
        reg.wait()
        shutil.rmtree(work, ignore_errors=True)
    med = lambda v: statistics.median(v)
    lines = [
        f"### `clair scan` from a registry ({time.strftime('%Y-%m-%d')})",
        "",
        f"Image {name} ({size / 1e6:.0f} MB of blobs) in Debian's docker-registry on 127.0.0.1, pushed by skopeo. "
        f"Median of {a.runs} runs, fresh process each; no vulnerability data loaded (matching is in the section above).",
        "",
        "| measure | median s | min s | max s |",
        "|---|---:|---:|---:|",
        f"| clair scan, cold (fresh database: pull, verify, read) | {med(cold):.3f} | {min(cold):.3f} | {max(cold):.3f} |",
        f"| clair scan, warm (layers and report cached) | {med(warm):.3f} | {min(warm):.3f} | {max(warm):.3f} |",
        f"| baseline: skopeo copy to an OCI layout | {med(pull):.3f} | {min(pull):.3f} | {max(pull):.3f} |",
        "",
        f"Ratios (same run): cold / skopeo pull = {med(cold) / med(pull):.2f}×, warm / cold = {med(warm) / med(cold):.3f}×.",
        "",
        "Command: `scripts/bench-registry.py --runs 5 --write docs/benchmarks.md`",
    ]
    text = "\n".join(lines)
    publish(text, a.write, "bench-registry")


if __name__ == "__main__":
    main()
