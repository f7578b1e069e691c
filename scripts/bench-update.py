#!/usr/bin/env python3
"""Benchmark feed ingestion: a full-size Debian tracker JSON (~60 MB) and a full-size Red Hat
OVAL file (~100 MB), generated from the structure of the real samples in ../shared/corpus.

    scripts/bench-update.py [--runs N] [--write docs/benchmarks.md] [--keep-files DIR]
    scripts/bench-update.py --quick   # CI: debug build, 1 MB and 2 MB feeds, nothing written

Generation (deterministic):
- Debian: the real tracker's shape — source package → CVE → release → {status, fixed_version,
  urgency} — for 8,000 packages with a realistic spread of CVEs and releases (buster, bullseye,
  bookworm, trixie, sid), statuses (resolved/open/undetermined/not affected) and descriptions.
- Red Hat: the real RHEL 8 OVAL file (129 RHSAs) repeated with fresh ids until ~100 MB, each
  copy's RHSA names, definition/test/object/state ids made unique, so nothing deduplicates.
Each file is ingested by `clair update --only debian|rhel` (file:// URLs) into a fresh SQLite
database, and into PostgreSQL (throwaway cluster, see bench-store.py) when available; wall time
and peak RSS of the whole process are recorded.
"""
import gzip
import json
import os
import random
import re
import shutil
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


def gen_debian(path, target_mb=60, names=()):
    """The first len(names) source packages get those names (so an image's packages have
    records to compare with); the rest are synthetic."""
    rnd = random.Random(42)
    releases = ["buster", "bullseye", "bookworm", "trixie", "sid"]
    urg = ["low", "medium", "high", "unimportant", "not yet assigned", "low**", "medium**"]
    words = ("buffer overflow in the parser allows remote attackers to cause a denial of service "
             "or possibly execute arbitrary code via a crafted file use after free integer "
             "overflow heap out of bounds read NULL pointer dereference").split()
    with open(path, "w") as f:
        f.write("{")
        first_pkg = True
        size = 0
        p = 0
        while size < target_mb * 1_000_000:
            pkg = names[p] if p < len(names) else f"pkg{p:05d}"
            p += 1
            cves = {}
            for c in range(rnd.randint(1, 40)):
                cve = f"CVE-{rnd.randint(2005, 2025)}-{rnd.randint(1000, 99999)}"
                rels = {}
                for r in releases:
                    if rnd.random() < 0.2:
                        continue
                    st = rnd.choices(["resolved", "open", "undetermined"], [0.8, 0.15, 0.05])[0]
                    rel = {"status": st, "repositories": {r: f"{rnd.randint(0, 9)}.{rnd.randint(0, 20)}-{rnd.randint(1, 9)}"},
                           "urgency": rnd.choice(urg)}
                    if st == "resolved":
                        rel["fixed_version"] = "0" if rnd.random() < 0.1 else f"{rnd.randint(0, 9)}.{rnd.randint(0, 20)}-{rnd.randint(1, 9)}+deb{rnd.randint(9, 12)}u{rnd.randint(1, 5)}"
                    rels[r] = rel
                cves[cve] = {"description": " ".join(rnd.choice(words) for _ in range(rnd.randint(10, 40))),
                             "scope": rnd.choice(["local", "remote"]), "releases": rels}
            chunk = ("" if first_pkg else ",") + json.dumps(pkg) + ":" + json.dumps(cves)
            first_pkg = False
            f.write(chunk)
            size += len(chunk)
        f.write("}")
    return p


def gen_rhel(path, target_mb=100):
    src = gzip.open(SHARED / "corpus/feeds/rhel/claircore-com.redhat.rhsa-RHEL8.xml.gz", "rt").read()
    sections = {}
    for name in ["definitions", "tests", "objects", "states", "variables"]:
        m = re.search(rf"<{name}>(.*?)</{name}>", src, re.S)
        sections[name] = m.group(1) if m else ""
    head = src[: src.index("<definitions>")]
    per_copy = sum(len(v) for v in sections.values())
    copies = max(1, int(target_mb * 1_000_000 / per_copy))
    idre = re.compile(r"(oval:com\.redhat\.rhsa:(?:def|tst|obj|ste|var):\d+)")
    namere = re.compile(r"(RH[SBE]A-\d{4}:\d+)")
    with open(path, "w") as f:
        f.write(head)
        for name in ["definitions", "tests", "objects", "states", "variables"]:
            if not sections[name]:
                continue
            f.write(f"<{name}>")
            for k in range(copies):
                text = idre.sub(lambda m: f"{m.group(1)}{k:04d}", sections[name])
                if name == "definitions":
                    text = namere.sub(lambda m: f"{m.group(1)}{k:04d}", text)
                f.write(text)
            f.write(f"</{name}>\n")
        f.write("</oval_definitions>\n")
    return copies


def measure(cmd, env=None):
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%M"] + cmd, capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
        rss = int(tf.read().strip().splitlines()[-1])
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return dt, rss, out.stdout


def main():
    ap = parser(__doc__, "CI mode: debug build, small feeds, one run, nothing written", runs=1)
    ap.add_argument("--keep-files")
    ap.add_argument("--no-postgres", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.write, a.keep_files = 1, None, None
    profile = [] if a.quick else ["--release"]
    subprocess.run(["cargo", "build", *profile, "--locked", "-q", "-p", "clair"], cwd=ROOT, check=True)
    clair = str(ROOT / "target" / ("debug" if a.quick else "release") / "clair")
    work = Path(a.keep_files or tempfile.mkdtemp(prefix="clair-bench-feeds-"))
    work.mkdir(parents=True, exist_ok=True)
    deb = work / "debian.json"
    oval = work / "rhel-8.oval.xml"
    if not deb.exists():
        gen_debian(deb, target_mb=1 if a.quick else 60)
    if not oval.exists():
        gen_rhel(oval, target_mb=2 if a.quick else 100)
    cfg = work / "config.yaml"
    cfg.write_text(f"""updaters:
  sets: [debian, rhel]
  config:
    debian:
      json_url: file://{deb}
    rhel:
      url: file://{work}/
      files: [rhel-8.oval.xml]
""")
    def fresh_sqlite(name):
        db = work / f"{name}.db"
        for p in work.glob(f"{name}.db*"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        return str(db)

    targets = [("sqlite", fresh_sqlite)]
    pg = None
    if not a.no_postgres:
        from importlib import util
        spec = util.spec_from_file_location("bench_store", ROOT / "scripts/bench-store.py")
        bs = util.module_from_spec(spec)
        spec.loader.exec_module(bs)
        try:
            pg = bs.Cluster()
            targets.append(("postgresql", lambda name: pg.new_db(f"clair_feed_{name}")))
        except SystemExit as e:
            print(f"PostgreSQL skipped: {e}", file=sys.stderr)
    rows = []
    try:
        for feed, f in [("debian", deb), ("rhel", oval)]:
            for backend, db_of in targets:
                times, rss, records = [], 0, ""
                for i in range(a.runs):
                    db = db_of(f"{feed}{i}")
                    dt, r, out = measure([clair, "-q", "--config", str(cfg), "--db", db, "update", "--only", feed, "-f", "json"])
                    times.append(dt)
                    rss = max(rss, r)
                    records = json.loads(out)[0]["records"]
                rows.append((feed, f.stat().st_size, backend, records, statistics.median(times), rss))
    finally:
        if pg:
            pg.stop()
        if not a.keep_files:
            shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"### Feed ingestion ({time.strftime('%Y-%m-%d')})",
        "",
        "Generated full-size feeds (see the script's docstring), ingested by `clair update --only FEED` "
        f"from file:// URLs into a fresh database; whole-process wall time (median of {a.runs}) and peak RSS. "
        "Target: under 20 s and 200 MB each.",
        "",
        "| feed | file MB | store | records | wall s | peak RSS MB |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for feed, size, backend, records, t, rss in rows:
        lines.append(f"| {feed} | {size / 1e6:.0f} | {backend} | {records} | {t:.1f} | {rss / 1024:.0f} |")
    lines += ["", "Command: `scripts/bench-update.py --write docs/benchmarks.md`"]
    text = "\n".join(lines) + "\n"
    publish(text, a.write, "bench-update")


if __name__ == "__main__":
    main()
