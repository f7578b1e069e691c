#!/usr/bin/env python3
"""Store benchmark: database size per indexed image, and re-index latency, SQLite and PostgreSQL.

    scripts/bench-store.py [--runs N] [--write docs/benchmarks.md]
    scripts/bench-store.py --quick   # CI: debug build, two runs, nothing written

For each image in ../shared/images, on a fresh database: index it once, then measure
- the database growth it caused (SQLite: file size incl. WAL after the run, minus an empty
  migrated database; PostgreSQL: total size of clair-rs's tables, minus empty),
- the wall time of indexing it again (the report comes from the store; no layer is read),
  median of N runs of the whole `clair index` process.
PostgreSQL is a throwaway cluster (initdb/pg_ctl from Debian's postgresql package, on a free
loopback port, removed afterwards) unless CLAIR_TEST_DATABASE_URL points at a server.
"""
import glob
import os
import shutil
import socket
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
TABLES = ["layer", "manifest", "manifest_layer", "update_operation", "vuln", "uo_vuln",
          "enrichment", "enrichment_tag", "uo_enrich", "updater_status", "notification",
          "notification_item", "schema_migrations"]


def images(work):
    oci = SHARED / "images/oci"
    gz = SHARED / "images/docker/bookworm-layered.tar.gz"
    plain = work / "bookworm-layered.tar"
    with open(plain, "wb") as f:
        subprocess.run(["gzip", "-dc", str(gz)], stdout=f, check=True)
    return [
        ("bookworm-minbase (OCI)", f"oci:{oci}:bookworm-minbase"),
        ("bookworm-layered (OCI, 4 layers)", f"oci:{oci}:bookworm-layered"),
        ("bookworm-layered (docker archive)", f"docker-archive:{plain}"),
        ("bookworm-layered (docker archive, gzip)", str(gz)),
    ]


class Cluster:
    """A throwaway PostgreSQL cluster, or an external server."""

    def __init__(self):
        self.external = os.environ.get("CLAIR_TEST_DATABASE_URL")
        self.dir = None
        if self.external:
            return
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            sys.exit("no PostgreSQL found (apt-get install postgresql, or set CLAIR_TEST_DATABASE_URL)")
        self.bin = Path(bins[-1]).parent
        self.dir = tempfile.mkdtemp(prefix="clair-bench-pg-")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        user = "postgres" if os.geteuid() == 0 else None
        self.as_user = ["runuser", "-u", user, "--"] if user else []
        if user:
            shutil.chown(self.dir, user)
        subprocess.run(self.as_user + [str(self.bin / "initdb"), "-D", f"{self.dir}/data", "-A", "trust",
                                       "-U", "postgres"], check=True, stdout=subprocess.DEVNULL)
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} -c fsync=off"
        subprocess.run(self.as_user + [str(self.bin / "pg_ctl"), "-D", f"{self.dir}/data", "-o", opts,
                                       "-l", f"{self.dir}/log", "-w", "start"], check=True, stdout=subprocess.DEVNULL)

    def admin(self):
        return self.external or f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def psql(self, url, sql):
        out = subprocess.run(["psql", url, "-XAtqc", sql], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def new_db(self, name):
        self.psql(self.admin(), f"DROP DATABASE IF EXISTS {name}")
        self.psql(self.admin(), f"CREATE DATABASE {name}")
        return self.admin().rsplit("/", 1)[0] + f"/{name}?sslmode=disable"

    def table_bytes(self, url):
        sql = " + ".join(f"COALESCE(pg_total_relation_size(to_regclass('{t}')), 0)" for t in TABLES)
        return int(self.psql(url.split("?")[0], f"SELECT {sql}"))

    def stop(self):
        if self.dir:
            subprocess.run(self.as_user + [str(self.bin / "pg_ctl"), "-D", f"{self.dir}/data", "-m", "fast",
                                           "-w", "stop"], stdout=subprocess.DEVNULL)
            shutil.rmtree(self.dir, ignore_errors=True)


def clair(args, db):
    subprocess.run([CLAIR[0], "-q", "index", "-f", "json", "--db", db] + args,
                   check=True, stdout=subprocess.DEVNULL)


def timed(args, db, runs):
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        clair(args, db)
        t.append(time.perf_counter() - t0)
    return statistics.median(t) * 1000, min(t) * 1000


def sqlite_size(path):
    return sum(os.path.getsize(p) for p in glob.glob(str(path) + "*") if not p.endswith(".locks"))


def payload(path):
    """Bytes of the stored documents (compressed layer results and reports) in a SQLite db."""
    import sqlite3
    c = sqlite3.connect(path)
    layers = c.execute("SELECT COALESCE(SUM(LENGTH(result)), 0) FROM layer").fetchone()[0]
    reports = c.execute("SELECT COALESCE(SUM(LENGTH(report)), 0) FROM manifest").fetchone()[0]
    c.close()
    return layers + reports


# The clair binary the measures run (release, or debug with --quick).
CLAIR = [str(ROOT / "target/release/clair")]


def main():
    ap = parser(__doc__, "CI mode: debug build, 2 runs, nothing written", runs=20)
    a = ap.parse_args()
    if a.quick:
        a.runs, a.write = 2, None
    subprocess.run(["cargo", "build", *([] if a.quick else ["--release"]), "--locked", "-q", "-p", "clair"],
                   cwd=ROOT, check=True)
    CLAIR[0] = str(ROOT / "target" / ("debug" if a.quick else "release") / "clair")
    work = Path(tempfile.mkdtemp(prefix="clair-bench-store-"))
    pg = Cluster()
    rows = []
    try:
        empty = work / "empty.db"
        subprocess.run([CLAIR[0], "-q", "index", "--db", str(empty), "-f", "json",
                        f"dir:{work}"], check=True, stdout=subprocess.DEVNULL)
        empty_sqlite = sqlite_size(empty)
        empty_pg_url = pg.new_db("clair_bench_empty")
        clair([f"dir:{work}"], empty_pg_url)
        empty_pg = pg.table_bytes(empty_pg_url)
        for i, (label, ref) in enumerate(images(work)):
            db = work / f"img{i}.db"
            clair([ref], str(db))
            s_size = sqlite_size(db)
            docs = payload(db)
            s_med, s_min = timed([ref], str(db), a.runs)
            url = pg.new_db(f"clair_bench_{i}")
            clair([ref], url)
            p_size = pg.table_bytes(url) - empty_pg
            p_med, p_min = timed([ref], url, a.runs)
            rows.append((label, docs, s_size, p_size, s_med, s_min, p_med, p_min))
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"### Store: size per indexed image and re-index latency ({time.strftime('%Y-%m-%d')})",
        "",
        "Each image indexed once into a fresh database. Stored documents: the zstd-compressed layer "
        "results and index report it adds. SQLite: the whole database file holding just this image "
        f"(an empty migrated database is {empty_sqlite / 1024:.0f} KB of schema pages). PostgreSQL: "
        "clair-rs's tables incl. indexes and TOAST, minus the same tables when empty. Re-index: wall "
        f"time of the whole `clair index` process again, median (min) of {a.runs} runs; the report "
        "comes from the store and no layer is read. A compressed docker archive must be "
        "decompressed to find its config (the image ID) before the store can be asked, so it "
        "pays for gzip every time; plain archives and OCI layouts do not.",
        "",
        "| image | stored documents KB | SQLite file KB | PostgreSQL tables KB | re-index SQLite ms | re-index PostgreSQL ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, docs, s, p, sm, smin, pm, pmin in rows:
        lines.append(f"| {label} | {docs / 1024:.1f} | {s / 1024:.0f} | {p / 1024:.0f} | {sm:.1f} ({smin:.1f}) | {pm:.1f} ({pmin:.1f}) |")
    lines += ["", "Command: `scripts/bench-store.py --runs %d --write docs/benchmarks.md`" % a.runs]
    text = "\n".join(lines) + "\n"
    publish(text, a.write, "bench-store")


if __name__ == "__main__":
    main()
