#!/usr/bin/env python3
"""Benchmark `clair serve` under load with Debian's `wrk` (a script, not a test).

    scripts/bench-serve.py [--duration 20] [--manifests 1000] [--write docs/benchmarks.md]
    scripts/bench-serve.py --quick        # CI: small inputs, one short run each, nothing written

Setup: a fresh SQLite database loaded by `clair update` with every corpus feed plus the
generated Debian tracker of scripts/bench-update.py (~60 MB; its first source packages are the
image's, so the image has real candidates; NVD's corpus CVSS data as the enrichment);
`clair serve` on 127.0.0.1 with its defaults; the image indexed through the v4 API from a local
blob server. Image: bookworm-full from /var/tmp/images (built by
../shared/tools/make-images.sh), else bookworm-layered from ../shared/images. Clients ask for
gzip, as Quay's and clairctl's Go HTTP clients do.

Measured (targets from issue 19):
- baseline: `wrk` on /robots.txt, the HTTP stack alone on this machine now;
- first-time reports: server CPU per vulnerability report computed for the first time
  (matching + serialization, no compression), over --manifests distinct manifests; target 2 ms;
- (a) one report, 50 connections: req/s ≥ 3000, p99 < 20 ms;
- (b) --manifests distinct indexed manifests round robin (cache warm): ≥ 800 req/s, p99 < 50 ms;
- (c) reports while 10 clients index layers through the v2 API (each a full read of the
  image's largest layer): report p99 < 50 ms;
- (d) the server's RSS, sampled every 100 ms, over each run; target < 600 MB;
- (e) 20 index requests at once (v2 API, each a full read of the largest layer): statuses
  (the indexing limit runs four per core, queues as many, refuses the rest) and peak RSS;
- writers during a feed update: index requests (new manifests, layers cached: each writes a
  report) while `clair update` stores a fresh 60 MB Debian feed into the same database, p99
  against the same requests idle; target < 100 ms above idle.
The machine is shared: the load average is printed, and ratios against the baseline measured
in the same run are what to compare.

--perf DIR records the server with `perf record -g` during each measured phase (DIR/PHASE.data,
and the top entries of `perf report --stdio --no-children` in DIR/PHASE.txt); the writers phase
records where the server's threads block (`-e sched:sched_switch`) as well as CPU. Use a binary
with symbols: `cargo build --profile profiling -p clair` and `--clair target/profiling/clair`.
"""
import contextlib
import hashlib
import signal
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "scripts"))
from benchdoc import load_module, parser, publish  # noqa: E402


def pick_image():
    full = Path("/var/tmp/images")
    if (full / "oci/bookworm-full/index.json").exists():
        return "bookworm-full", full / "oci/bookworm-full", "latest", full / "truth/bookworm-full.dpkg.tsv"
    return ("bookworm-layered", SHARED / "images/oci", "bookworm-layered",
            SHARED / "images/truth/bookworm-layered.dpkg.tsv")


def manifest_of(layout: Path, ref: str):
    index = json.loads((layout / "index.json").read_text())
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref:
            digest = m["digest"]
            body = json.loads((layout / "blobs/sha256" / digest[7:]).read_text())
            return digest, [(l["digest"], l["size"]) for l in body["layers"]]
    sys.exit(f"{layout}: no image {ref}")


def serve_blobs(layout: Path):
    """Serve OCI blobs at /blobs/sha256:HEX from a thread; returns the base URL."""
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            p = layout / "blobs/sha256" / self.path.rsplit(":", 1)[-1]
            if not p.is_file():
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(p.stat().st_size))
            self.end_headers()
            with open(p, "rb") as f:
                shutil.copyfileobj(f, self.wfile, 1 << 20)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}"


def call(method, url, body=None, headers=None, timeout=600):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            out = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        out, status = e.read(), e.code
    return status, out, time.perf_counter() - t0


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Rss:
    """Samples a process's RSS every 100 ms; `phase()` starts a new maximum."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, False
        threading.Thread(target=self.run, daemon=True).start()

    def rss_kib(self):
        try:
            for line in open(f"/proc/{self.pid}/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, self.rss_kib())
            time.sleep(0.1)

    def phase(self):
        p, self.peak = self.peak, self.rss_kib()
        return max(p, self.peak) / 1024


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


WRK_LUA = """
paths = {PATHS}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], {HEADERS})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests":%d,"bytes":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.bytes, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def wrk(base, paths, work, seconds, connections, gzip=True, body_max=None):
    """`wrk` over `paths`; `body_max`: the largest mean response (headers included) expected,
    to catch a run that did not get the encoding it asked for."""
    headers = '["Accept-Encoding"]="gzip"' if gzip else ""
    lua = work / f"wrk-{len(paths)}-{int(gzip)}.lua"
    lua.write_text(WRK_LUA.replace("PATHS", ",".join(json.dumps(p) for p in paths))
                   .replace("HEADERS", headers))
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(lua), base]
    out = subprocess.run(cmd,
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[7:])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
            if body_max and r["requests"] and r["bytes"] / r["requests"] > body_max:
                sys.exit(f"{' '.join(cmd)}: {r['bytes'] / r['requests']:.0f} bytes a response, "
                         f"over the {body_max:.0f} expected: not the encoding asked for?")
            return r
    sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")


@contextlib.contextmanager
def perf(pid, out_dir, phase, events=()):
    """`perf record -g` of `pid` while the block runs (CPU samples, or `events`); nothing
    without `out_dir`."""
    if not out_dir:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / f"{phase}.data"
    cmd = ["perf", "record", "-q", "--call-graph", "dwarf,16384", "-o", str(data), "-p", str(pid)]
    cmd += [x for ev in events for x in ("-e", ev)] if events else ["-F", "299"]
    rec = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        yield
    finally:
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=120)
        report = subprocess.run(["perf", "report", "--stdio", "--no-children", "-g", "none",
                                 "--percent-limit", "0.7", "-i", str(data)],
                                capture_output=True, text=True)
        (out_dir / f"{phase}.txt").write_text(report.stdout + report.stderr)


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else 0.0


def main():
    ap = parser(__doc__, "CI mode: debug build, bookworm-layered, small feed, short runs, nothing written")
    ap.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    ap.add_argument("--manifests", type=int, default=1000)
    ap.add_argument("--feed-mb", type=int, default=60, help="size of the generated Debian feed")
    ap.add_argument("--keep-files")
    ap.add_argument("--clair", help="a clair binary to run instead of building one")
    ap.add_argument("--perf", type=Path, metavar="DIR",
                    help="record the server with perf during each phase into DIR (see above)")
    a = ap.parse_args()
    if a.quick:
        a.duration, a.manifests, a.feed_mb, a.write = 2, 20, 1, None
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    profile = [] if a.quick else ["--release"]
    if not a.clair:
        subprocess.run(["cargo", "build", *profile, "--locked", "-q", "-p", "clair", "--bin", "clair"],
                       cwd=ROOT, check=True)
    clair = a.clair or str(ROOT / "target" / ("debug" if a.quick else "release") / "clair")
    name, layout, ref, truth = pick_image() if not a.quick else (
        "bookworm-layered", SHARED / "images/oci", "bookworm-layered", SHARED / "images/truth/bookworm-layered.dpkg.tsv")
    digest, layers = manifest_of(layout, ref)
    bm = load_module("bench_match", "bench-match.py")
    bu = load_module("bench_update", "bench-update.py")
    work = Path(a.keep_files or tempfile.mkdtemp(prefix="clair-bench-serve-"))
    work.mkdir(parents=True, exist_ok=True)
    server = None
    load = os.getloadavg()
    try:
        # ---- data ----------------------------------------------------------------------------
        feeds = work / "feeds"
        bm.lay_out_feeds(feeds)
        sources = sorted({r.split("\t")[4] for r in truth.read_text().splitlines() if r.split("\t")[3] == "ii"})
        deb = work / "debian.json"
        bu.gen_debian(deb, target_mb=a.feed_mb, names=sources)
        cfg = work / "config.yaml"
        cfg.write_text(bm.config(feeds, deb))
        db = work / "clair.db"
        out = subprocess.run([clair, "-q", "--config", str(cfg), "--db", str(db), "update", "-f", "json"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"clair update failed:\n{out.stderr}")
        # ---- server --------------------------------------------------------------------------
        port, intro = free_port(), free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([clair, "-q", "--db", str(db), "serve", "--no-updaters",
                                   "--addr", f"127.0.0.1:{port}", "--introspection-addr", f"127.0.0.1:{intro}"],
                                  stderr=open(work / "serve.log", "w"))
        for _ in range(600):
            try:
                if call("GET", f"{base}/indexer/api/v1/index_state", timeout=5)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit(f"clair serve did not start:\n{(work / 'serve.log').read_text()}")
        rss = Rss(server.pid)
        blobs = serve_blobs(layout)

        def manifest(h):
            return {"hash": h, "layers": [{"hash": d, "uri": f"{blobs}/blobs/{d}", "headers": {}} for d, _ in layers]}

        st, body, dt = call("POST", f"{base}/indexer/api/v1/index_report", manifest(digest))
        if st != 201 or json.loads(body)["state"] != "IndexFinished":
            sys.exit(f"indexing {name} failed: {st} {body[:500]}")
        index_first_s = dt
        # Distinct manifests of the same layers: each is a report of its own.
        hashes = [digest] + ["sha256:" + hashlib.sha256(f"bench-{i}".encode()).hexdigest()
                             for i in range(a.manifests - 1)]
        for h in hashes[1:]:
            st, body, _ = call("POST", f"{base}/indexer/api/v1/index_report", manifest(h))
            if st != 201:
                sys.exit(f"indexing {h} failed: {st} {body[:300]}")
        rss.phase()
        vr = lambda h: f"/matcher/api/v1/vulnerability_report/{h}"
        # ---- first-time reports: CPU per report, then a gzip pass to warm the cache ----------
        cpu0 = cpu_seconds(server.pid)
        with perf(server.pid, a.perf, "first"):
            first = [call("GET", base + vr(h)) for h in hashes]
        cpu_first_ms = (cpu_seconds(server.pid) - cpu0) * 1000 / len(hashes)
        st, body, _ = first[0]
        report = json.loads(body)
        packages = len(report["packages"])
        vulns = len(report["vulnerabilities"])
        report_kb = len(body) / 1000
        cpu0 = cpu_seconds(server.pid)
        with perf(server.pid, a.perf, "first-gzip"):
            gz = [call("GET", base + vr(h), headers={"Accept-Encoding": "gzip"}) for h in hashes]
        cpu_gzip_ms = (cpu_seconds(server.pid) - cpu0) * 1000 / len(hashes)
        gzip_kb = len(gz[0][1]) / 1000
        gz_max = len(gz[0][1]) * 1.1 + 1000
        rss_setup = rss.phase()
        # ---- runs ----------------------------------------------------------------------------
        results = {}
        results["baseline"] = wrk(base, ["/robots.txt"], work, a.duration, 50, gzip=False)
        results["baseline"]["rss"] = rss.phase()
        with perf(server.pid, a.perf, "a"):
            results["a"] = wrk(base, [vr(digest)], work, a.duration, 50, body_max=gz_max)
        results["a"]["rss"] = rss.phase()
        results["a-identity"] = wrk(base, [vr(digest)], work, a.duration, 50, gzip=False)
        results["a-identity"]["rss"] = rss.phase()
        with perf(server.pid, a.perf, "b"):
            results["b"] = wrk(base, [vr(h) for h in hashes], work, a.duration, 50, body_max=gz_max)
        results["b"]["rss"] = rss.phase()
        # (c): 10 clients indexing the largest layer through the v2 API, each a full read.
        big = max(layers, key=lambda l: l[1])[0]
        stop, index_lat, index_status = threading.Event(), [], {}

        def indexer(k):
            n = 0
            while not stop.is_set():
                n += 1
                st, _, dt = call("POST", f"{base}/v1/layers",
                                 {"Layer": {"Name": f"bench-{k}-{n}", "Path": f"{blobs}/blobs/{big}", "Format": "Docker"}})
                index_status[st] = index_status.get(st, 0) + 1
                if st == 201:
                    index_lat.append(dt)
                else:
                    time.sleep(0.5)

        threads = [threading.Thread(target=indexer, args=(k,)) for k in range(10)]
        for t in threads:
            t.start()
        time.sleep(min(2, a.duration / 2))
        with perf(server.pid, a.perf, "c"):
            results["c"] = wrk(base, [vr(h) for h in hashes], work, a.duration, 50, body_max=gz_max)
        stop.set()
        for t in threads:
            t.join()
        results["c"]["rss"] = rss.phase()
        # (e): 20 index requests at once (v2 API, each a full read of the largest layer): the
        # indexing limit runs some, queues some and refuses the rest; memory stays bounded.
        burst_status, burst = {}, []

        def one(k):
            st, _, dt = call("POST", f"{base}/v1/layers",
                             {"Layer": {"Name": f"burst-{k}", "Path": f"{blobs}/blobs/{big}", "Format": "Docker"}})
            burst_status[st] = burst_status.get(st, 0) + 1
            burst.append(dt)

        threads = [threading.Thread(target=one, args=(k,)) for k in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rss_burst = rss.phase()
        # ---- writers during a feed update ----------------------------------------------------
        counter = [0]

        def index_once():
            counter[0] += 1
            h = "sha256:" + hashlib.sha256(f"writer-{counter[0]}".encode()).hexdigest()
            st, body, dt = call("POST", f"{base}/indexer/api/v1/index_report", manifest(h))
            if st != 201:
                sys.exit(f"index during update: {st} {body[:300]}")
            return dt

        idle = [index_once() for _ in range(20 if a.quick else 200)]
        deb2 = work / "debian2.json"
        bu.gen_debian(deb2, target_mb=a.feed_mb, names=["bench-fresh"] + sources)
        cfg2 = work / "config2.yaml"
        cfg2.write_text(f"updaters:\n  sets: [debian]\n  config:\n    debian:\n      json_url: file://{deb2}\n")
        t0 = time.perf_counter()
        upd = subprocess.Popen([clair, "-q", "--config", str(cfg2), "--db", str(db), "update", "--only", "debian"],
                               stdout=subprocess.DEVNULL, stderr=open(work / "update.log", "w"))
        busy = []
        with perf(server.pid, a.perf, "writers", ["cpu-clock", "sched:sched_switch"]):
            while upd.poll() is None:
                busy.append(index_once())
        update_s = time.perf_counter() - t0
        if upd.returncode != 0:
            sys.exit(f"clair update failed:\n{(work / 'update.log').read_text()}")
        rss_peak = max([r["rss"] for r in results.values()] + [rss_burst])
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)
        if not a.keep_files:
            shutil.rmtree(work, ignore_errors=True)

    ms = lambda us: us / 1000
    row = lambda label, r, target: (f"| {label} | {r['rps']:.0f} | {ms(r['p50_us']):.1f} | {ms(r['p99_us']):.1f} | "
                                    f"{r['non2xx'] + r['errors']} | {r['rss']:.0f} | {target} |")
    lines = [
        f"### `clair serve` under load ({time.strftime('%Y-%m-%d')})",
        "",
        f"Image {name}: {packages} packages, {vulns} vulnerabilities, a {report_kb:.0f} KB report "
        f"({gzip_kb:.0f} KB gzip). SQLite; `wrk -t2 -c50 -d{a.duration}s` with `Accept-Encoding: gzip` unless "
        f"said otherwise. {os.cpu_count()} CPUs, load average {load[0]:.1f} when the run started (the machine is "
        "shared: compare ratios to the baseline of the same run).",
        "",
        "| run | req/s | p50 ms | p99 ms | errors | peak RSS MB | target |",
        "|---|---:|---:|---:|---:|---:|---|",
        row("baseline: /robots.txt", results["baseline"], ""),
        row("(a) one report", results["a"], "≥ 3000 req/s, p99 < 20 ms"),
        row("(a) one report, no compression", results["a-identity"], ""),
        row(f"(b) {len(hashes)} manifests round robin", results["b"], "≥ 800 req/s, p99 < 50 ms"),
        row("(c) reports while 10 clients index", results["c"], "p99 < 50 ms"),
        "",
        "| measure | value | target |",
        "|---|---:|---|",
        f"| (a) req/s relative to the baseline | {results['a']['rps'] / results['baseline']['rps']:.2f}× | |",
        f"| server CPU per first-time report (matching + serialization), mean of {len(hashes)} | {cpu_first_ms:.2f} ms | ≤ 2 ms |",
        f"| server CPU per first gzip of a cached report | {cpu_gzip_ms:.2f} ms | |",
        f"| (c) layers indexed meanwhile (v2 API), median s | {len(index_lat)}, {statistics.median(index_lat) if index_lat else 0:.1f} | |",
        f"| (c) index answers by status | {', '.join(f'{k}: {v}' for k, v in sorted(index_status.items()))} | |",
        f"| 20 index requests at once: answers by status, peak RSS, slowest | "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(burst_status.items()))}; {rss_burst:.0f} MB; {max(burst):.1f} s | < 600 MB |",
        f"| index request p99 idle / during a {a.feed_mb} MB Debian update ({update_s:.0f} s) | "
        f"{pct(idle, 99) * 1000:.0f} / {pct(busy, 99) * 1000:.0f} ms ({len(busy)} requests) | < 100 ms above idle |",
        f"| peak RSS: setup (indexing, first reports) / runs | {rss_setup:.0f} / {rss_peak:.0f} MB | < 600 MB |",
        f"| first index of the image (layers downloaded and read) | {index_first_s:.1f} s | |",
        "",
        "Command: `scripts/bench-serve.py --write docs/benchmarks.md`",
    ]
    text = "\n".join(lines) + "\n"
    publish(text, a.write, "bench-serve")


if __name__ == "__main__":
    main()
