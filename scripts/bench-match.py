#!/usr/bin/env python3
"""Benchmark matching: vulnerability-report latency and the cold `clair scan`.

    scripts/bench-match.py [--reports 1000] [--runs 3] [--write docs/benchmarks.md]
    scripts/bench-match.py --quick   # CI: debug build, 1 MB Debian feed, 20 reports, nothing written

Data: every corpus feed of ../shared/corpus/feeds (laid out as upstream serves them, read
through file:// URLs by the real updaters) plus the full-size generated Debian tracker of
scripts/bench-update.py (~60 MB, 300k+ records) whose first source packages are those of the
image, so each of its packages has real candidates to compare. All loaded with `clair update`
into a fresh SQLite database.

Image: bookworm-layered, the largest image in ../shared/images (4 layers, 105 packages).

Measured:
- report latency: `examples/bench_match.rs` builds the live in-memory index of the whole
  database (as `clair serve` does), then times N vulnerability reports of the indexed image:
  lookup + version comparisons + the CVSS enrichment query. p50 and p99. Target: p50 < 5 ms.
- cold scan: `clair scan IMAGE` in a fresh process on a copy of the loaded database where the
  image was never indexed (every layer read), wall time, median of --runs.
"""
import bz2
import gzip
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
sys.path.insert(0, str(ROOT / "scripts"))
from benchdoc import load_module, parser, publish  # noqa: E402


def lay_out_feeds(d: Path):
    """The corpus feeds where the updaters look for them (see crates/clair-ecosystems/tests)."""
    def put(rel, data):
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    f = lambda rel: (CORPUS / rel).read_bytes()
    put("alpine/v3.4/main.json", f("feeds/alpine/clair2-v34-main.yaml"))
    put("alpine/v3.10/main.json", b'{"distroversion": "v3.10", "reponame": "main", "packages": []}')
    put("alpine/v3.10/community.json", f("feeds/alpine/claircore-v3.10-community.json"))
    put("alpine/v3.11/main.json", f("feeds/alpine/vulnerablecode-v3.11-main.json"))
    put("rhel/RHEL8/rhel-8.oval.xml", gzip.decompress(f("feeds/rhel/claircore-com.redhat.rhsa-RHEL8.xml.gz")))
    put("ubuntu/com.ubuntu.xenial.cve.oval.xml.bz2", bz2.compress(f("feeds/ubuntu/clair3-xenial-cve.oval.xml")))
    put("oracle/elsa.xml.bz2", bz2.compress(f("feeds/oracle/clair2-elsa-oval-1.xml")))
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        for rel in sorted((CORPUS / "feeds/osv").glob("*.json")):
            zf.writestr(rel.name, rel.read_bytes())
    for eco in ["PyPI", "npm", "Go", "Maven", "crates.io", "RubyGems"]:
        put(f"osv/{eco}/all.zip", z.getvalue())
    put("nvd/nvdcve-2.0-2016.json.gz", gzip.compress(f("feeds/nvd/claircore-nvd-api2-feed.json")))
    put("epss.csv.gz", gzip.compress(f("feeds/epss/claircore-epss.csv")))
    put("kev.json", f("feeds/kev/claircore-known_exploited_vulnerabilities.json"))
    put("suse/opensuse.xml", f("feeds/suse/clair3-opensuse-oval.xml"))
    put("suse/leap-micro.xml", f("feeds/suse/vulnerablecode-opensuse.leap.micro.5.3-patch.xml"))
    put("photon/com.vmware.phsa-photon3.xml.gz", f("feeds/photon/claircore-com.vmware.phsa-photon3.xml.gz"))
    put("aws/2/mirror.list", f"file://{d}/aws/2/repo/\n".encode())
    put("aws/2/repo/repodata/repomd.xml",
        b'<repomd><data type="updateinfo"><location href="repodata/updateinfo.xml.gz"/></data></repomd>')
    put("aws/2/repo/repodata/updateinfo.xml.gz", gzip.compress(f("feeds/amazon/clair2-amazon_linux_2_updateinfo.xml")))
    # Red Hat VEX: archive_latest.txt names a tar.zst of the corpus documents.
    vex = d / "vex"
    (vex / "2024").mkdir(parents=True, exist_ok=True)
    for doc in (CORPUS / "feeds/rhel-csaf").glob("*.json"):
        shutil.copy(doc, vex / "2024" / doc.name)
    subprocess.run(["tar", "-C", str(vex), "--zstd", "-cf", str(vex / "csaf_vex_2024-06-23.tar.zst"), "2024"], check=True)
    (vex / "archive_latest.txt").write_text("csaf_vex_2024-06-23.tar.zst")


def config(d: Path, debian: Path) -> str:
    u = f"file://{d}"
    return f"""updaters:
  sets: [alpine, aws, debian, oracle, osv, photon, rhel, rhel-vex, suse, ubuntu, nvd, epss, kev]
  config:
    debian: {{json_url: "file://{debian}"}}
    alpine: {{url: "{u}/alpine/", releases: [v3.4, v3.10, v3.11]}}
    rhel: {{url: "{u}/rhel/", files: [RHEL8/rhel-8.oval.xml]}}
    rhel-vex: {{url: "{u}/vex/"}}
    ubuntu: {{url: "{u}/ubuntu", releases: [xenial]}}
    oracle: {{url: "{u}/oracle/elsa.xml.bz2"}}
    osv: {{url: "{u}/osv/"}}
    suse: {{url: "{u}/suse/", files: [opensuse.xml, leap-micro.xml]}}
    photon: {{url: "{u}/photon/", releases: ["3"]}}
    aws: {{mirrors: {{"2": "{u}/aws/2/mirror.list"}}}}
    nvd: {{url: "{u}/nvd/", years: [2016]}}
    epss: {{url: "{u}/epss.csv.gz"}}
    kev: {{url: "{u}/kev.json"}}
"""


def main():
    ap = parser(__doc__, "CI mode: debug build, small inputs, one run, nothing written", runs=3)
    ap.add_argument("--reports", type=int, default=1000)
    ap.add_argument("--keep-files")
    a = ap.parse_args()
    if a.quick:
        a.reports, a.runs, a.write, a.keep_files = 20, 1, None, None
    profile = [] if a.quick else ["--release"]
    subprocess.run(["cargo", "build", *profile, "--locked", "-q", "-p", "clair", "--bin", "clair",
                    "--example", "bench_match"], cwd=ROOT, check=True)
    target = ROOT / "target" / ("debug" if a.quick else "release")
    clair = str(target / "clair")
    bench = str(target / "examples/bench_match")
    image = f"oci:{SHARED / 'images/oci'}:bookworm-layered"
    work = Path(a.keep_files or tempfile.mkdtemp(prefix="clair-bench-match-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        feeds = work / "feeds"
        lay_out_feeds(feeds)
        truth = (SHARED / "images/truth/bookworm-layered.dpkg.tsv").read_text().splitlines()
        sources = sorted({row.split("\t")[4] for row in truth if row.split("\t")[3] == "ii"})
        deb = work / "debian.json"
        if not deb.exists():
            load_module("bench_update", "bench-update.py").gen_debian(
                deb, target_mb=1 if a.quick else 60, names=sources)
        cfg = work / "config.yaml"
        cfg.write_text(config(feeds, deb))
        db = work / "loaded.db"
        for p in work.glob("loaded.db*"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        t0 = time.perf_counter()
        out = subprocess.run([clair, "-q", "--config", str(cfg), "--db", str(db), "update", "-f", "json"],
                             capture_output=True, text=True)
        load_s = time.perf_counter() - t0
        runs = json.loads(out.stdout or "[]")
        failed = [r for r in runs if r.get("outcome") not in ("updated", "unchanged")]
        if out.returncode != 0 or failed:
            sys.exit(f"clair update failed: {[(r['updater'], r.get('error')) for r in failed]}\n{out.stderr}")
        records = sum(r.get("records", 0) for r in runs)
        # Cold scans first, each on a copy where nothing of the image is indexed yet.
        cold = []
        for i in range(a.runs):
            copy = work / f"cold{i}.db"
            subprocess.run(["sqlite3", str(db), f".backup {copy}"], check=True) if shutil.which("sqlite3") \
                else shutil.copy(db, copy)
            t0 = time.perf_counter()
            r = subprocess.run([clair, "-q", "--db", str(copy), "scan", "-f", "json", image], capture_output=True, text=True)
            cold.append(time.perf_counter() - t0)
            if r.returncode != 0:
                sys.exit(f"clair scan failed ({r.returncode}):\n{r.stderr}")
            found = len(json.loads(r.stdout)["vulnerabilities"])
        r = subprocess.run([bench, "--db", str(db), "--image", image, "--reports", str(a.reports)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"bench_match failed:\n{r.stderr}")
        m = json.loads(r.stdout)
    finally:
        if not a.keep_files:
            shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"### Matching ({time.strftime('%Y-%m-%d')})",
        "",
        f"Image bookworm-layered ({m['packages']} packages) against every corpus feed plus the generated "
        f"60 MB Debian tracker: {records} records loaded by `clair update` in {load_s:.1f} s; "
        f"{m['records']} in the live index ({m['namespaces']} namespaces), built in {m['index_build_s']:.2f} s; "
        f"{m['vulnerabilities']} vulnerabilities in the report. SQLite. Target: p50 under 5 ms.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| report p50 (lookup + CVSS query), {m['reports']} reports | {m['p50_ms']:.2f} ms |",
        f"| report p99 | {m['p99_ms']:.2f} ms |",
        f"| in-memory lookup only, p50 / p99 | {m['lookup_p50_ms']:.3f} / {m['lookup_p99_ms']:.3f} ms |",
        f"| cold `clair scan` wall time (median of {a.runs}) | {statistics.median(cold):.2f} s |",
    ]
    lines += ["", "Command: `scripts/bench-match.py --write docs/benchmarks.md`"]
    text = "\n".join(lines) + "\n"
    publish(text, a.write, "bench-match")


if __name__ == "__main__":
    main()
