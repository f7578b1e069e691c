#!/usr/bin/env python3
"""Compare clair builds: binary size, `clair index` and `clair scan` wall time.

    scripts/bench-release.py NAME=BINARY NAME=BINARY ... [--runs 10] [--write docs/benchmarks.md]
    scripts/bench-release.py --quick   # CI: the debug build once, nothing written

For release-profile changes (strip, LTO, codegen units): build each variant, keep its binary,
and pass them all. Each run of each binary, round-robin: `clair index -f json` of
bookworm-layered (OCI layout, 4 layers, 105 packages) into a fresh SQLite database (every layer
read), then `clair scan -f json` of the same image against a database holding the corpus's
Debian tracker excerpt (a fresh copy each run: index + match). Medians.
"""
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


def timed(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0,):
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return time.perf_counter() - t0


def main():
    ap = parser(__doc__, "one run of the workspace's debug build, no figures written (CI)", runs=10)
    ap.add_argument("binaries", nargs="*", help="NAME=PATH")
    a = ap.parse_args()
    if a.quick:
        subprocess.run(["cargo", "build", "--locked", "-q", "-p", "clair"], cwd=ROOT, check=True)
        a.binaries = [f"debug={ROOT / 'target/debug/clair'}"]
        a.runs = 1
        a.write = None
    if not a.binaries:
        ap.error("give NAME=BINARY for each build to compare (or --quick)")
    bins = [b.split("=", 1) for b in a.binaries]
    image = f"oci:{SHARED / 'images/oci'}:bookworm-layered"
    work = Path(tempfile.mkdtemp(prefix="clair-bench-release-"))
    try:
        cfg = work / "feeds.yaml"
        tracker = SHARED / "corpus/feeds/debian/clair2-security-tracker.json"
        cfg.write_text(f'updaters:\n  sets: [debian]\n  config:\n    debian: {{json_url: "file://{tracker}"}}\n')
        loaded = work / "loaded.db"
        subprocess.run([bins[0][1], "-q", "--db", str(loaded), "--config", str(cfg), "update"], check=True)
        times = {name: {"index": [], "scan": []} for name, _ in bins}
        for i in range(a.runs):
            for name, path in bins:
                db = work / f"i{i}{name}.db"
                times[name]["index"].append(timed([path, "-q", "--db", str(db), "index", "-f", "json", image]))
                copy = work / f"s{i}{name}.db"
                shutil.copy(loaded, copy)
                times[name]["scan"].append(timed([path, "-q", "--db", str(copy), "scan", "-f", "json",
                                                  "--allow-missing-data", image]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"### Release build ({time.strftime('%Y-%m-%d')})",
        "",
        f"bookworm-layered (OCI layout, 4 layers, 105 packages); median of {a.runs} runs each, round-robin, "
        "fresh process and database each run. `clair scan` against the corpus Debian tracker excerpt.",
        "",
        "| build | binary MB | clair index s | clair scan s |",
        "|---|---:|---:|---:|",
    ]
    for name, path in bins:
        t = times[name]
        lines.append(f"| {name} | {Path(path).stat().st_size / 1e6:.1f} | "
                     f"{statistics.median(t['index']):.3f} | {statistics.median(t['scan']):.3f} |")
    lines += ["", f"Command: `scripts/bench-release.py {' '.join(n + '=…' for n, _ in bins)} --runs {a.runs} "
              "--write docs/benchmarks.md`"]
    text = "\n".join(lines) + "\n"
    publish(text, a.write, "bench-release")


if __name__ == "__main__":
    main()
